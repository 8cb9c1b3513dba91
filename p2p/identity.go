package p2p

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// PeerID is a node's Ed25519 public key: the only identity the mesh knows.
type PeerID [ed25519.PublicKeySize]byte

// PeerIDFromKey copies an Ed25519 public key into a PeerID.
func PeerIDFromKey(k ed25519.PublicKey) (PeerID, error) {
	var id PeerID
	if len(k) != ed25519.PublicKeySize {
		return id, fmt.Errorf("p2p: public key is %d bytes, want %d", len(k), ed25519.PublicKeySize)
	}
	copy(id[:], k)
	return id, nil
}

// PublicKey returns the key as an ed25519.PublicKey.
func (id PeerID) PublicKey() ed25519.PublicKey { return ed25519.PublicKey(id[:]) }

// String returns the first 8 hex digits, enough to tell peers apart in logs.
func (id PeerID) String() string { return hex.EncodeToString(id[:4]) }

// Less orders PeerIDs bytewise; it decides which of two duplicate
// connections survives.
func (id PeerID) Less(o PeerID) bool {
	for i := range id {
		if id[i] != o[i] {
			return id[i] < o[i]
		}
	}
	return false
}

// alpn is the only application protocol this mesh speaks.
const alpn = "hpnode-p2p/1"

// selfSignedCert binds the node's Ed25519 key to a TLS certificate. Peers do
// not check names or a CA: the certificate's key is the identity, and TLS
// 1.3's CertificateVerify proves the peer holds it.
func selfSignedCert(key ed25519.PrivateKey) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "hpnode"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// errBadCert is returned for a peer certificate that is not a single
// self-signed Ed25519 certificate.
var errBadCert = errors.New("p2p: peer certificate is not a self-signed Ed25519 certificate")

// verifyPeerCert accepts exactly one self-signed Ed25519 certificate.
func verifyPeerCert(raw [][]byte, _ [][]*x509.Certificate) error {
	if len(raw) != 1 {
		return fmt.Errorf("%w: %d certificates", errBadCert, len(raw))
	}
	c, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errBadCert, err)
	}
	if _, ok := c.PublicKey.(ed25519.PublicKey); !ok {
		return fmt.Errorf("%w: key type %T", errBadCert, c.PublicKey)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		return fmt.Errorf("%w: %v", errBadCert, err)
	}
	return nil
}

// tlsConfigs returns the server and client TLS configurations for a key.
// Both sides present a certificate and both require one.
func tlsConfigs(key ed25519.PrivateKey) (server, client *tls.Config, err error) {
	cert, err := selfSignedCert(key)
	if err != nil {
		return nil, nil, err
	}
	server = &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{cert},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: verifyPeerCert,
		NextProtos:            []string{alpn},
	}
	client = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		// Names and CAs mean nothing here; VerifyPeerCertificate checks the
		// certificate and the handshake checks its key.
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: verifyPeerCert,
		NextProtos:            []string{alpn},
		ServerName:            "hpnode",
	}
	return server, client, nil
}

// certKey returns the Ed25519 key of a TLS peer's certificate.
func certKey(cs tls.ConnectionState) (PeerID, error) {
	if len(cs.PeerCertificates) != 1 {
		return PeerID{}, fmt.Errorf("%w: %d certificates", errBadCert, len(cs.PeerCertificates))
	}
	k, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	if !ok {
		return PeerID{}, errBadCert
	}
	return PeerIDFromKey(k)
}
