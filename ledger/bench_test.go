package ledger

import (
	"crypto/ed25519"
	"log/slog"
	"testing"

	"github.com/hpfs/hpnode/consensus"

	"github.com/cockroachdb/pebble/v2"
)

// BenchmarkAppend measures synced appends of certified 7-node ledgers with 2 inputs each, checks
// included; BenchmarkPebbleSetBaseline writes the same bytes with a bare synced pebble Set, so the
// ratio is the cost of verification and indexing.
func BenchmarkAppend(b *testing.B) {
	c := newChain(b, 7)
	ds := c.build(b.N)
	s, err := Open(b.TempDir(), cid, c.genesis, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rb, _ := ds[0].Record.MarshalBinary()
	b.SetBytes(int64(len(rb)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Append(ds[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPebbleSetBaseline(b *testing.B) {
	c := newChain(b, 7)
	ds := c.build(min(b.N, 64))
	db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: pebbleLogger{slog.Default()}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rb, _ := ds[0].Record.MarshalBinary()
	b.SetBytes(int64(len(rb)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := db.Set(key(kindRecord, uint64(i+1)), rb, pebble.Sync); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyChain measures chain verification from genesis (hash links and 6 Ed25519 votes per
// 7-node ledger), per ledger.
func BenchmarkVerifyChain(b *testing.B) {
	c := newChain(b, 7)
	const n = 200
	s, err := Open(b.TempDir(), cid, c.genesis, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, d := range c.build(n) {
		if err := s.Append(d); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if got, err := s.VerifyChain(); err != nil || got != n {
			b.Fatal(got, err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "ledgers/s")
}

// BenchmarkEd25519Baseline verifies the 6 votes of one 7-node ledger with bare ed25519.Verify per
// op: the floor VerifyChain's ledgers/s is compared with.
func BenchmarkEd25519Baseline(b *testing.B) {
	c := newChain(b, 7)
	d := c.build(1)[0]
	r := d.Record
	msgs := make([][]byte, len(r.Cert))
	for i, v := range r.Cert {
		msgs[i] = consensus.SignedBytes(cid, consensus.StagePrecommit, r.Seq, r.Round, r.Prev, v.Signer, r.Value.Hash())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, v := range r.Cert {
			if !ed25519.Verify(v.Signer.Ed25519(), msgs[j], v.Sig[:]) {
				b.Fatal("bad signature")
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ledgers/s")
}
