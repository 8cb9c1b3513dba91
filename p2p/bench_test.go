package p2p

import (
	"context"
	"encoding/binary"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

const benchTransfer = 32 << 20

const kindBulk Kind = 41

// benchPair returns two connected nodes; a serves benchTransfer-byte
// responses for kindBulk.
func benchPair(b *testing.B) (a, c *testNode) {
	a = startNode(b, fastConfig(newKey(b)))
	blob := make([]byte, benchTransfer)
	a.HandleRequest(kindBulk, func(context.Context, PeerID, []byte) ([]byte, error) { return blob, nil })
	c = connectPair(b, a, fastConfig(newKey(b)))
	return a, c
}

// BenchmarkRequestLargeTransfer moves 32 MiB per op over the request API.
// Compare with BenchmarkRawQUICTransfer in the same run.
func BenchmarkRequestLargeTransfer(b *testing.B) {
	a, c := benchPair(b)
	b.SetBytes(benchTransfer)
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Request(context.Background(), a.ID(), kindBulk, nil, benchTransfer)
		if err != nil || len(resp) != benchTransfer {
			b.Fatalf("%d bytes: %v", len(resp), err)
		}
	}
}

// rawQUIC is the baseline: the same bytes on one quic-go stream per
// transfer, with the same TLS and QUIC settings as the mesh, and no
// framing, API or per-transfer allocation.
type rawQUIC struct {
	conn   *quic.Conn
	buf    []byte
	urgent *quic.Stream
}

func startRawQUIC(b *testing.B, qc *quic.Config) *rawQUIC {
	return startRawQUICWithUrgent(b, qc, nil)
}

// startRawQUICWithUrgent also opens, from the server, one urgency-0 stream
// on which every 200-byte message sent to urgent is written; the client
// side of that stream is r.urgent.
func startRawQUICWithUrgent(b *testing.B, qc *quic.Config, urgent chan []byte) *rawQUIC {
	srvTLS, _, err := tlsConfigs(newKey(b))
	if err != nil {
		b.Fatal(err)
	}
	_, cliTLS, err := tlsConfigs(newKey(b))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", srvTLS, qc)
	if err != nil {
		b.Fatal(err)
	}
	blob := make([]byte, benchTransfer)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		conn, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		if urgent != nil {
			us, err := conn.OpenStreamSync(ctx)
			if err != nil {
				return
			}
			us.SetPriority(0, false)
			wg.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case m := <-urgent:
						if _, err := us.Write(m); err != nil {
							return
						}
					}
				}
			})
		}
		for {
			str, err := conn.AcceptStream(ctx)
			if err != nil {
				return
			}
			var one [1]byte
			if _, err := io.ReadFull(str, one[:]); err != nil {
				return
			}
			str.Write(blob)
			str.Close()
		}
	})
	conn, err := quic.DialAddr(ctx, ln.Addr().String(), cliTLS, qc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.CloseWithError(0, "") })
	r := &rawQUIC{conn: conn, buf: make([]byte, benchTransfer)}
	if urgent != nil {
		urgent <- make([]byte, 200) // makes the stream visible to AcceptStream
		if r.urgent, err = conn.AcceptStream(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r.urgent, make([]byte, 200)); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

func (r *rawQUIC) transfer(b *testing.B) {
	str, err := r.conn.OpenStreamSync(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	str.Write([]byte{1})
	str.Close()
	if _, err := io.ReadFull(str, r.buf); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRawQUICTransfer is the baseline for BenchmarkRequestLargeTransfer.
func BenchmarkRawQUICTransfer(b *testing.B) {
	a, _ := benchPair(b) // only for its QUIC settings
	r := startRawQUIC(b, a.qconf)
	b.SetBytes(benchTransfer)
	b.ResetTimer()
	for b.Loop() {
		r.transfer(b)
	}
}

// BenchmarkRequestVsRawQUIC runs, per op, one Request (allocates the
// response), one RequestInto (reuses a buffer, as the raw baseline does)
// and one raw quic-go transfer of the same 32 MiB, interleaved so all three
// see the same machine load (this host's two cores are shared), and reports
// each rate and the ratios to raw.
func BenchmarkRequestVsRawQUIC(b *testing.B) {
	a, c := benchPair(b)
	r := startRawQUIC(b, a.qconf)
	buf := make([]byte, benchTransfer)
	var alloc, into, raw time.Duration
	b.SetBytes(3 * benchTransfer)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		resp, err := c.Request(context.Background(), a.ID(), kindBulk, nil, benchTransfer)
		if err != nil || len(resp) != benchTransfer {
			b.Fatalf("%d bytes: %v", len(resp), err)
		}
		t1 := time.Now()
		resp, err = c.RequestInto(context.Background(), a.ID(), kindBulk, nil, buf, benchTransfer)
		if err != nil || len(resp) != benchTransfer || &resp[0] != &buf[0] {
			b.Fatalf("%d bytes: %v", len(resp), err)
		}
		t2 := time.Now()
		r.transfer(b)
		alloc += t1.Sub(t0)
		into += t2.Sub(t1)
		raw += time.Since(t2)
	}
	mb := float64(b.N) * benchTransfer / 1e6
	b.ReportMetric(mb/alloc.Seconds(), "request-MB/s")
	b.ReportMetric(mb/into.Seconds(), "requestinto-MB/s")
	b.ReportMetric(mb/raw.Seconds(), "raw-MB/s")
	b.ReportMetric(raw.Seconds()/alloc.Seconds(), "request/raw")
	b.ReportMetric(raw.Seconds()/into.Seconds(), "requestinto/raw")
}

// BenchmarkConsensusLatencyUnderBulk measures one-way latency of a 200-byte
// consensus message from a to c while a is also streaming bulk responses
// to c on the same connection. Reports p50 and p99 in ms.
func BenchmarkConsensusLatencyUnderBulk(b *testing.B) { benchConsensusLatency(b, 2) }

// BenchmarkConsensusLatencyIdle is the same without bulk traffic: the
// baseline that shows how much of the tail is the machine (scheduling on
// shared cores) rather than the link.
func BenchmarkConsensusLatencyIdle(b *testing.B) { benchConsensusLatency(b, 0) }

func benchConsensusLatency(b *testing.B, bulkStreams int) {
	a, c := benchPair(b)
	var mu sync.Mutex
	var sent []time.Time
	var lat []time.Duration
	got := make(chan struct{}, 1)
	c.Handle(KindProposal, func(_ PeerID, _ Kind, p []byte) {
		i := binary.BigEndian.Uint64(p)
		mu.Lock()
		lat = append(lat, time.Since(sent[i]))
		mu.Unlock()
		got <- struct{}{}
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var bulkBytes int64
	var bulkMu sync.Mutex
	for range bulkStreams { // two requests in flight keep the link saturated
		wg.Go(func() {
			buf := make([]byte, benchTransfer)
			for ctx.Err() == nil {
				resp, err := c.RequestInto(ctx, a.ID(), kindBulk, nil, buf, benchTransfer)
				if err == nil {
					bulkMu.Lock()
					bulkBytes += int64(len(resp))
					bulkMu.Unlock()
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // let the bulk streams ramp up
	msg := make([]byte, 200)
	start := time.Now()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint64(msg, uint64(i))
		mu.Lock()
		sent = append(sent, time.Now())
		mu.Unlock()
		if err := a.Send(c.ID(), KindProposal, msg); err != nil {
			b.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			b.Fatal("consensus message lost under load")
		}
		time.Sleep(2 * time.Millisecond) // consensus messages are sparse
	}
	b.StopTimer()
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	bulkMu.Lock()
	b.ReportMetric(float64(bulkBytes)/elapsed.Seconds()/1e6, "bulk-MB/s")
	bulkMu.Unlock()
}

// BenchmarkRawQUICLatencyUnderBulk is the baseline for
// BenchmarkConsensusLatencyUnderBulk: raw quic-go, a 200-byte message on an
// urgency-0 stream from the side that is also streaming two bulk transfers,
// same process, same settings. Reports p50 and p99 in ms.
func BenchmarkRawQUICLatencyUnderBulk(b *testing.B) {
	a, _ := benchPair(b) // only for its QUIC settings
	urgent := make(chan []byte, 1)
	r := startRawQUICWithUrgent(b, a.qconf, urgent)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			buf := make([]byte, benchTransfer)
			for ctx.Err() == nil {
				str, err := r.conn.OpenStreamSync(ctx)
				if err != nil {
					return
				}
				str.Write([]byte{1})
				str.Close()
				io.ReadFull(str, buf)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	var lat []time.Duration
	msg := make([]byte, 200)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		urgent <- msg
		if _, err := io.ReadFull(r.urgent, msg); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	r.conn.CloseWithError(0, "")
	wg.Wait()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkLatencyVsRawUnderBulk samples, alternately, a 200-byte consensus
// message over the mesh and a 200-byte message on an urgency-0 raw quic-go
// stream, while both connections carry two bulk transfers each, so both
// see the same machine load. Reports p50/p99 of each and the p99 ratio.
func BenchmarkLatencyVsRawUnderBulk(b *testing.B) {
	a, c := benchPair(b)
	urgent := make(chan []byte, 1)
	r := startRawQUICWithUrgent(b, a.qconf, urgent)
	got := make(chan time.Time, 1)
	c.Handle(KindProposal, func(PeerID, Kind, []byte) { got <- time.Now() })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			buf := make([]byte, benchTransfer)
			for ctx.Err() == nil {
				c.RequestInto(ctx, a.ID(), kindBulk, nil, buf, benchTransfer)
			}
		})
		wg.Go(func() {
			buf := make([]byte, benchTransfer)
			for ctx.Err() == nil {
				str, err := r.conn.OpenStreamSync(ctx)
				if err != nil {
					return
				}
				str.Write([]byte{1})
				str.Close()
				io.ReadFull(str, buf)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	var mesh, raw []time.Duration
	msg := make([]byte, 200)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := a.Send(c.ID(), KindProposal, msg); err != nil {
			b.Fatal(err)
		}
		select {
		case t1 := <-got:
			mesh = append(mesh, t1.Sub(t0))
		case <-time.After(10 * time.Second):
			b.Fatal("consensus message lost under load")
		}
		time.Sleep(time.Millisecond)
		t0 = time.Now()
		urgent <- msg
		if _, err := io.ReadFull(r.urgent, msg); err != nil {
			b.Fatal(err)
		}
		raw = append(raw, time.Since(t0))
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	r.conn.CloseWithError(0, "")
	wg.Wait()
	slices.Sort(mesh)
	slices.Sort(raw)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p99 := func(l []time.Duration) time.Duration { return l[len(l)*99/100] }
	b.ReportMetric(ms(mesh[len(mesh)/2]), "mesh-p50-ms")
	b.ReportMetric(ms(p99(mesh)), "mesh-p99-ms")
	b.ReportMetric(ms(raw[len(raw)/2]), "raw-p50-ms")
	b.ReportMetric(ms(p99(raw)), "raw-p99-ms")
	b.ReportMetric(p99(mesh).Seconds()/p99(raw).Seconds(), "mesh/raw-p99")
}
