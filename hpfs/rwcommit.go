package hpfs

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/hpfs/hpnode/merkle"
)

// leafJob is one leaf to hash at commit: data, or (when data is nil) the listed extents of
// slot sl, length n, assembled by the worker.
type leafJob struct {
	idx  uint64
	data []byte
	sc   *scratch
	sl   *slot
	n    uint64
	// dense: the ranges cover at least half the leaf, so it will likely be stored raw and is
	// read into its own buffer rather than the worker's.
	dense bool
	// hash is data's hash when hashed is set (the prehasher's, see rwprehash.go); raw, only
	// then, that data is stored raw, so the worker needs not read it.
	hash   merkle.Hash
	hashed bool
	raw    bool
	out    map[uint64]merkle.Hash
	mu     *sync.Mutex
}

// buildRoot replays the session's edits on the base tree and returns the new root. New objects
// land in ov. Only dirty leaves are hashed, in parallel across cores; the Editor rehashes only the
// touched paths. The session must be locked by the caller.
func (s *rwSession) buildRoot(ov *Overlay, params merkle.Params) (merkle.Hash, error) {
	ed, err := merkle.NewEditor(ov, s.base, params)
	if err != nil {
		return merkle.Hash{}, fmt.Errorf("editor at %s: %w", s.base, err)
	}
	for _, op := range s.ops {
		if err := applyOp(ed, op); err != nil {
			return merkle.Hash{}, err
		}
	}
	// Leaves are read through a mapping of the scratch file; the Overlay keeps slices of it, so
	// it must stay mapped until the store has written them (the session's end unmaps it).
	if err := s.sc.mapAll(); err != nil {
		return merkle.Hash{}, err
	}
	s.sc.stopPrehash() // the slots' background hashes are final from here
	type fileJob struct {
		path    string
		n       *ovNode
		changed map[uint64]merkle.Hash
	}
	var files []fileJob
	var jobs []leafJob
	var zero zeroLeaves
	for n := range s.dirty {
		p, ok := s.path(n)
		if !ok {
			continue // unlinked while open: its bytes die with it
		}
		f := n.file
		if err := f.loadBase(s.store); err != nil {
			return merkle.Hash{}, fmt.Errorf("load %s: %w", p, err)
		}
		fj := fileJob{path: p, n: n, changed: map[uint64]merkle.Hash{}}
		mu := &sync.Mutex{}
		nLeaves := ceilDiv(f.size, s.ls)
		for i := f.baseValid; i < nLeaves; i++ {
			if _, ok := f.dirty[i]; !ok {
				h, data := zero.get(f.leafLen(i, s.ls))
				fj.changed[i] = h
				_ = ov.PutLeaf(h, data)
			}
		}
		for i, sl := range f.dirty {
			// A slot still in memory is assembled from its writes (a small file written whole,
			// or a few bytes in holes): no page fault on the mapping, no read.
			want := f.leafLen(i, s.ls)
			if !sl.many {
				jobs = append(jobs, leafJob{idx: i, sc: s.sc, sl: sl, n: want, dense: sl.extSize*2 >= want,
					out: fj.changed, mu: mu})
				continue
			}
			j := leafJob{idx: i, out: fj.changed, mu: mu}
			j.hash, j.raw, j.hashed = sl.prehashed(want, s.ls)
			data, err := f.leafBytes(i, s.ls, !j.raw)
			if err != nil {
				return merkle.Hash{}, fmt.Errorf("read %s: %w", p, err)
			}
			j.data = data
			jobs = append(jobs, j)
		}
		files = append(files, fj)
	}
	if err := hashLeaves(ov, jobs, s.ls); err != nil {
		return merkle.Hash{}, err
	}
	s.committed = s.committed[:0]
	for _, fj := range files {
		s.committed = append(s.committed, committedFile{n: fj.n, changed: fj.changed})
	}
	for _, fj := range files {
		if err := ed.WriteFile(fj.path, fj.n.mode, fj.n.file.size, fj.changed); err != nil {
			return merkle.Hash{}, fmt.Errorf("write %s: %w", fj.path, err)
		}
	}
	root, err := ed.Commit()
	if err != nil {
		return merkle.Hash{}, fmt.Errorf("editor commit: %w", err)
	}
	return root, nil
}

func applyOp(ed *merkle.Editor, op editOp) error {
	var err error
	switch op.kind {
	case opMkdir:
		err = ed.Mkdir(op.path, op.mode)
	case opCreate:
		err = ed.WriteFile(op.path, op.mode, 0, nil)
	case opSymlink:
		err = ed.Symlink(op.path, op.to)
	case opChmod:
		err = ed.Chmod(op.path, op.mode)
	case opRemove:
		err = ed.Remove(op.path)
	case opRename:
		err = ed.Rename(op.path, op.to)
	default:
		err = fmt.Errorf("unknown op kind %d", op.kind)
	}
	if err != nil {
		return fmt.Errorf("replay op %d on %q: %w", op.kind, op.path, err)
	}
	return nil
}

// hashLeaves hashes the jobs on every core and stores each leaf in ov with its stored encoding,
// decided here on the same core while the bytes are hot: the commit's batch is then sized by
// what it stores (a 64 MiB file dirtied by 5-byte writes stores kilobytes, not 64 MiB). A job
// without data is assembled from its slot's few written ranges in the worker's buffer; such a
// leaf is kept in ov only in its sparse encoding (the buffer is reused), or copied when dense.
func hashLeaves(ov *Overlay, jobs []leafJob, ls uint64) error {
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	errs := make([]error, max(workers, 1))
	run := func(w int, next func() (int, bool)) {
		buf := make([]byte, ls)
		for {
			i, ok := next()
			if !ok {
				return
			}
			j := jobs[i]
			data, owned, assembled := j.data, true, false
			if data == nil {
				if whole, ok := j.sl.whole(j.n); ok {
					data = whole // immutable while the session is locked for the commit
				} else if j.dense {
					data = make([]byte, j.n)
				} else {
					data, owned = buf[:j.n], false
					clear(data)
				}
				if _, err := j.sc.sparseInto(j.sl, data); err != nil {
					errs[w] = err
					return
				}
				assembled = true
			}
			h := j.hash
			if !j.hashed {
				h = merkle.LeafHash(data)
			}
			var sparse []byte
			switch {
			case j.raw: // known dense: its bytes are read only if the store lacks them
			case assembled: // zeros plus the slot's writes: only their blocks need a look
				sparse = encodeSparseSlot(data, j.sl)
			default:
				sparse = encodeSparse(data)
			}
			switch {
			case owned:
				ov.PutLeafEncoded(h, data, sparse)
			case sparse != nil:
				ov.PutLeafEncoded(h, nil, sparse)
			default:
				ov.PutLeafEncoded(h, append([]byte(nil), data...), nil)
			}
			j.mu.Lock()
			j.out[j.idx] = h
			j.mu.Unlock()
		}
	}
	if workers <= 1 {
		k := 0
		run(0, func() (int, bool) { k++; return k - 1, k <= len(jobs) })
		return errs[0]
	}
	var wg sync.WaitGroup
	next := make(chan int, len(jobs))
	for i := range jobs {
		next <- i
	}
	close(next)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(w, func() (int, bool) { i, ok := <-next; return i, ok })
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("assemble leaf: %w", err)
		}
	}
	return nil
}

// zeroLeaves caches the hash of all-zero leaves by length: a grown or sparse file has many.
type zeroLeaves struct {
	m map[uint64]zeroLeaf
}

type zeroLeaf struct {
	h    merkle.Hash
	data []byte
}

func (z *zeroLeaves) get(n uint64) (merkle.Hash, []byte) {
	if z.m == nil {
		z.m = map[uint64]zeroLeaf{}
	}
	if l, ok := z.m[n]; ok {
		return l.h, l.data
	}
	data := make([]byte, n)
	l := zeroLeaf{h: merkle.LeafHash(data), data: data}
	z.m[n] = l
	return l.h, l.data
}
