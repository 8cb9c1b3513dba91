package p2p

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// PeerRecord is a node's signed statement "key K listens at Addr", made at
// Time. Records are gossiped; the newest valid one per key wins.
type PeerRecord struct {
	Key  PeerID
	Addr string // host:port
	Time time.Time
	Sig  [ed25519.SignatureSize]byte
}

// ErrBadRecord is wrapped by every record validation failure.
var ErrBadRecord = errors.New("p2p: bad peer record")

// SignRecord makes a record for key at addr, stamped now.
func SignRecord(key ed25519.PrivateKey, contractID, addr string, now time.Time) (PeerRecord, error) {
	id, err := PeerIDFromKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		return PeerRecord{}, err
	}
	if err := checkAddr(addr); err != nil {
		return PeerRecord{}, err
	}
	r := PeerRecord{Key: id, Addr: addr, Time: time.UnixMilli(now.UnixMilli())}
	copy(r.Sig[:], ed25519.Sign(key, recordMessage(contractID, id, addr, uint64(now.UnixMilli()))))
	return r, nil
}

// Verify checks the signature and that the record is neither expired nor
// from the future (beyond skew) at now.
func (r *PeerRecord) Verify(contractID string, now time.Time, expiry, skew time.Duration) error {
	if err := checkAddr(r.Addr); err != nil {
		return err
	}
	if r.Time.After(now.Add(skew)) {
		return fmt.Errorf("%w: %s stamped %s in the future", ErrBadRecord, r.Key, r.Time.Sub(now))
	}
	if now.Sub(r.Time) > expiry {
		return fmt.Errorf("%w: %s expired %s ago", ErrBadRecord, r.Key, now.Sub(r.Time)-expiry)
	}
	return r.verifySig(contractID)
}

func (r *PeerRecord) verifySig(contractID string) error {
	if !verify(r.Key, recordMessage(contractID, r.Key, r.Addr, uint64(r.Time.UnixMilli())), r.Sig[:]) {
		return fmt.Errorf("%w: %s: signature does not verify", ErrBadRecord, r.Key)
	}
	return nil
}

// checkAddr accepts host:port with a non-empty host and a non-zero port.
func checkAddr(addr string) error {
	if len(addr) > maxAddrLen {
		return fmt.Errorf("%w: address of %d bytes", ErrBadRecord, len(addr))
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrBadRecord, addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if host == "" || err != nil || p == 0 {
		return fmt.Errorf("%w: address %q: need host and port", ErrBadRecord, addr)
	}
	return nil
}

func (r *PeerRecord) encodeTo(e *encoder) {
	e.fixed(r.Key[:])
	e.bytes([]byte(r.Addr))
	e.u64(uint64(r.Time.UnixMilli()))
	e.fixed(r.Sig[:])
}

func decodeRecordFrom(d *decoder) PeerRecord {
	var r PeerRecord
	d.fixed("record.key", r.Key[:])
	r.Addr = string(d.bytes("record.addr", maxAddrLen))
	ms := d.u64("record.time")
	if d.err == nil && ms > 1<<62 {
		d.fail("record.time", "out of range")
	}
	r.Time = time.UnixMilli(int64(ms))
	d.fixed("record.sig", r.Sig[:])
	return r
}

// EncodeRecord returns a record's wire form.
func EncodeRecord(r PeerRecord) []byte {
	e := &encoder{}
	r.encodeTo(e)
	return e.b
}

// DecodeRecord parses a record's wire form. It checks bounds only; call
// Verify before trusting it.
func DecodeRecord(b []byte) (PeerRecord, error) {
	d := &decoder{b: b}
	r := decodeRecordFrom(d)
	return r, d.finish()
}
