package p2p

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// maxKnownPeers bounds the address book; the oldest record is evicted first.
const maxKnownPeers = 1024

// book is the address book: the newest verified record per key, plus the
// bootstrap addresses, each with its dial backoff.
type book struct {
	mu      sync.Mutex
	self    PeerID
	peers   map[PeerID]*bookEntry
	boots   map[string]*backoff
	dirty   bool
	minWait time.Duration
	maxWait time.Duration
}

type bookEntry struct {
	rec PeerRecord
	backoff
}

// backoff tracks consecutive failures and the earliest next attempt.
type backoff struct {
	fails int
	next  time.Time
}

// dialTarget is one address to dial; key is set when the address came from
// a record.
type dialTarget struct {
	addr   string
	key    PeerID
	hasKey bool
}

func newBook(self PeerID, bootstrap []string, minWait, maxWait time.Duration) *book {
	b := &book{self: self, peers: map[PeerID]*bookEntry{}, boots: map[string]*backoff{}, minWait: minWait, maxWait: maxWait}
	for _, a := range bootstrap {
		b.boots[a] = &backoff{}
	}
	return b
}

// add stores a verified record if it is new or newer than the one known;
// it reports whether it did. A new address resets the entry's backoff.
func (b *book) add(r PeerRecord) bool {
	if r.Key == b.self {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.peers[r.Key]
	if ok {
		if !r.Time.After(e.rec.Time) {
			return false
		}
		if e.rec.Addr != r.Addr {
			e.backoff = backoff{}
		}
		e.rec = r
		b.dirty = true
		return true
	}
	if len(b.peers) >= maxKnownPeers {
		b.evictOldestLocked()
	}
	b.peers[r.Key] = &bookEntry{rec: r}
	b.dirty = true
	return true
}

func (b *book) evictOldestLocked() {
	var oldest PeerID
	var t time.Time
	first := true
	for k, e := range b.peers {
		if first || e.rec.Time.Before(t) {
			oldest, t, first = k, e.rec.Time, false
		}
	}
	delete(b.peers, oldest)
}

// newer reports whether r would replace what the book holds for its key;
// callers check it before paying for a signature verification.
func (b *book) newer(r PeerRecord) bool {
	if r.Key == b.self {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.peers[r.Key]
	return !ok || r.Time.After(e.rec.Time)
}

// fresh returns the records signed within expiry of now: the ones worth
// gossiping.
func (b *book) fresh(now time.Time, expiry time.Duration) []PeerRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]PeerRecord, 0, len(b.peers))
	for _, e := range b.peers {
		if now.Sub(e.rec.Time) <= expiry {
			out = append(out, e.rec)
		}
	}
	return out
}

// known returns every record, fresh or not.
func (b *book) known() []PeerRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]PeerRecord, 0, len(b.peers))
	for _, e := range b.peers {
		out = append(out, e.rec)
	}
	return out
}

// due returns up to max targets whose backoff has passed, skipping keys and
// addresses the caller is already connected to. Each returned target is
// held off for hold so it is not handed out twice while its dial runs.
func (b *book) due(now time.Time, max int, hold time.Duration, connectedKey func(PeerID) bool, connectedAddr func(string) bool) []dialTarget {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []dialTarget
	for k, e := range b.peers {
		if len(out) >= max {
			return out
		}
		if now.Before(e.next) || connectedKey(k) {
			continue
		}
		e.next = now.Add(hold)
		out = append(out, dialTarget{addr: e.rec.Addr, key: k, hasKey: true})
	}
	for a, e := range b.boots {
		if len(out) >= max {
			return out
		}
		if now.Before(e.next) || connectedAddr(a) {
			continue
		}
		e.next = now.Add(hold)
		out = append(out, dialTarget{addr: a})
	}
	return out
}

// result records a dial's outcome. A failure backs the target off
// exponentially (with jitter, so a mesh that lost a peer does not redial it
// in lockstep); long marks a refusal that will not change soon, such as a
// contract mismatch, and waits the maximum.
func (b *book) result(t dialTarget, now time.Time, err error, long bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var e *backoff
	if t.hasKey {
		if pe, ok := b.peers[t.key]; ok {
			e = &pe.backoff
		}
	} else {
		e = b.boots[t.addr]
	}
	if e == nil {
		return
	}
	if err == nil {
		*e = backoff{}
		return
	}
	e.fails++
	wait := b.maxWait
	if !long {
		wait = b.minWait << min(e.fails-1, 20)
		if wait > b.maxWait || wait <= 0 {
			wait = b.maxWait
		}
		wait = wait/2 + rand.N(wait/2+1)
	}
	e.next = now.Add(wait)
}

// peersFile is the known-peer file's name inside DataDir.
const peersFile = "peers.bin"

// peersMagic starts the known-peer file; its last byte is the format version.
var peersMagic = []byte("HPPEERS\x01")

// save writes every known record to dir/peers.bin atomically (temp file,
// fsync, rename) if anything changed since the last save.
func (b *book) save(dir string) error {
	b.mu.Lock()
	if !b.dirty {
		b.mu.Unlock()
		return nil
	}
	b.dirty = false
	recs := make([]PeerRecord, 0, len(b.peers))
	for _, e := range b.peers {
		recs = append(recs, e.rec)
	}
	b.mu.Unlock()
	data := encodePeersFile(recs)
	tmp, err := os.CreateTemp(dir, peersFile+".tmp*")
	if err != nil {
		return fmt.Errorf("save known peers: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save known peers: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save known peers: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save known peers: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, peersFile)); err != nil {
		return fmt.Errorf("save known peers: %w", err)
	}
	return nil
}

func encodePeersFile(recs []PeerRecord) []byte {
	e := &encoder{}
	e.fixed(peersMagic)
	e.u32(uint32(len(recs)))
	for i := range recs {
		e.bytes(EncodeRecord(recs[i]))
	}
	return e.b
}

// decodePeersFile parses the known-peer file. It checks bounds only.
func decodePeersFile(b []byte) ([]PeerRecord, error) {
	d := &decoder{b: b}
	magic := make([]byte, len(peersMagic))
	d.fixed("peers_file.magic", magic)
	if d.err == nil && string(magic) != string(peersMagic) {
		d.fail("peers_file.magic", "not a known-peer file of this version")
	}
	n := d.u32("peers_file.count")
	if d.err == nil && n > maxKnownPeers {
		d.fail("peers_file.count", fmt.Sprintf("%d exceeds bound %d", n, maxKnownPeers))
	}
	var out []PeerRecord
	for i := 0; i < int(n) && d.err == nil; i++ {
		raw := d.bytes("peers_file.record", 32+10+maxAddrLen+8+64)
		if d.err != nil {
			break
		}
		r, err := DecodeRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out = append(out, r)
	}
	return out, d.finish()
}

// load reads dir/peers.bin. Records whose signature fails are skipped;
// expired ones are kept as dial hints (a node down for longer than the
// expiry still needs somewhere to start) but are not gossiped.
func (b *book) load(dir, contractID string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, peersFile))
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load known peers: %w", err)
	}
	recs, err := decodePeersFile(data)
	if err != nil {
		return 0, fmt.Errorf("load known peers from %s: %w", filepath.Join(dir, peersFile), err)
	}
	n := 0
	for i := range recs {
		if recs[i].verifySig(contractID) == nil && b.add(recs[i]) {
			n++
		}
	}
	b.mu.Lock()
	b.dirty = false
	b.mu.Unlock()
	return n, nil
}
