package p2p

import (
	"errors"
	"net"
	"time"
)

// maxParallelDials bounds dials in flight, so a long list of dead records
// cannot exhaust sockets or goroutines.
const maxParallelDials = 8

// saveEvery is the least time between two writes of the known-peer file.
const saveEvery = 5 * time.Second

// signSelf re-signs this node's own record with the current time.
func (n *Node) signSelf() error {
	r, err := SignRecord(n.cfg.Key, n.cfg.ContractID, n.advertise, n.cfg.Now())
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.selfRec = r
	n.mu.Unlock()
	return nil
}

func (n *Node) ownRecord() (PeerRecord, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.selfRec, n.advertise != ""
}

// acceptLoop accepts connections until the listener closes.
func (n *Node) acceptLoop() {
	for {
		conn, err := n.ln.Accept(n.ctx)
		if err != nil {
			return
		}
		n.wg.Go(func() { n.serveInbound(conn) })
	}
}

// maintainLoop dials known peers that are not connected, re-announces this
// node's record and saves the known peers, until the node closes.
func (n *Node) maintainLoop() {
	t := time.NewTicker(n.cfg.DialInterval)
	defer t.Stop()
	var lastAnnounce, lastSave time.Time
	lastAnnounce = n.cfg.Now()
	inflight := make(chan struct{}, maxParallelDials)
	for {
		now := n.cfg.Now()
		if _, ok := n.ownRecord(); ok && now.Sub(lastAnnounce) >= n.cfg.ReannounceInterval {
			lastAnnounce = now
			if err := n.signSelf(); err == nil {
				rec, _ := n.ownRecord()
				n.gossip([]PeerRecord{rec}, nil)
			}
		}
		n.dialDue(now, inflight)
		if n.cfg.DataDir != "" && now.Sub(lastSave) >= saveEvery {
			lastSave = now
			if err := n.book.save(n.cfg.DataDir); err != nil {
				n.log.Warn("p2p: saving known peers failed", "err", err)
			}
		}
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) dialDue(now time.Time, inflight chan struct{}) {
	n.mu.Lock()
	slots := n.cfg.MaxConnections - len(n.peers)
	addrs := make(map[string]bool, len(n.peers))
	for _, p := range n.peers {
		addrs[p.conn.RemoteAddr().String()] = true
	}
	n.mu.Unlock()
	slots = min(slots, cap(inflight)-len(inflight))
	if slots <= 0 {
		return
	}
	targets := n.book.due(now, slots, 2*n.cfg.HandshakeTimeout,
		func(id PeerID) bool { return n.Connected(id) || n.isBanned(id) },
		func(a string) bool { return addrs[a] || addrs[resolved(a)] })
	for _, t := range targets {
		inflight <- struct{}{}
		n.wg.Go(func() {
			defer func() { <-inflight }()
			p, err := n.dial(n.ctx, t)
			var re *RefusedError
			long := errors.As(err, &re) && (re.Code == RefuseContractMismatch || re.Code == RefuseSelf)
			n.book.result(t, n.cfg.Now(), err, long)
			if err != nil {
				if n.ctx.Err() == nil {
					n.log.Debug("p2p: dial failed", "addr", t.addr, "err", err)
					if long {
						n.log.Warn("p2p: dial refused", "addr", t.addr, "err", err)
					}
				}
				return
			}
			n.runPeer(p)
		})
	}
}

// resolved normalises a literal host:port so that "localhost"-free
// addresses compare equal to net.UDPAddr strings.
func resolved(a string) string {
	ua, err := net.ResolveUDPAddr("udp", a)
	if err != nil {
		return a
	}
	return ua.String()
}

// sendRecords gives a newly connected peer this node's record and every
// fresh record it knows, in bounded chunks.
func (n *Node) sendRecords(p *peer) {
	recs := n.book.fresh(n.cfg.Now(), n.cfg.RecordExpiry)
	if own, ok := n.ownRecord(); ok {
		recs = append(recs, own)
	}
	n.sendChunks(p, recs)
}

func (n *Node) sendChunks(p *peer, recs []PeerRecord) {
	for len(recs) > 0 {
		k := min(len(recs), maxRecordsPerMsg)
		m := peersMsg{Records: recs[:k]}
		p.enqueue(kindPeers, appendFrame(nil, m.encode()))
		recs = recs[k:]
	}
}

// onRecords verifies records a peer sent, stores the new ones and forwards
// those to every other peer: push gossip that stops where nothing is new.
// Any invalid record makes the message count as one bad message.
func (n *Node) onRecords(from *peer, recs []PeerRecord) {
	now := n.cfg.Now()
	var fresh []PeerRecord
	var bad error
	for i := range recs {
		r := recs[i]
		if !n.book.newer(r) {
			continue // ours, or not newer than what we hold: no need to verify
		}
		if err := r.Verify(n.cfg.ContractID, now, n.cfg.RecordExpiry, n.cfg.MaxClockSkew); err != nil {
			bad = err
			continue
		}
		if n.book.add(r) {
			fresh = append(fresh, r)
		}
	}
	if bad != nil {
		from.bad(kindPeers, bad)
	}
	if len(fresh) > 0 {
		n.gossip(fresh, from)
	}
}

// gossip pushes records to every connected peer except skip.
func (n *Node) gossip(recs []PeerRecord, skip *peer) {
	for _, p := range n.snapshot() {
		if p != skip {
			n.sendChunks(p, recs)
		}
	}
}
