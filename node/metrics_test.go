package node

import (
	"testing"

	"github.com/hpfs/hpnode/p2p"
)

// TestPeerGaugesCountPeersAndTheirLanes: the connected-peer and lane gauges read the mesh at
// each scrape.
func TestPeerGaugesCountPeersAndTheirLanes(t *testing.T) {
	peers := []p2p.PeerInfo{{Lanes: 3}, {Lanes: 0}, {Lanes: 2}}
	m := newNodeMetrics(func() []p2p.PeerInfo { return peers })
	want := map[string]float64{"hpnode_peers_connected": 3, "hpnode_peer_lanes": 5}
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if v, ok := want[f.GetName()]; ok {
			if got := f.GetMetric()[0].GetGauge().GetValue(); got != v {
				t.Errorf("%s = %v, want %v", f.GetName(), got, v)
			}
			delete(want, f.GetName())
		}
	}
	if len(want) != 0 {
		t.Fatalf("not exported: %v", want)
	}
}
