package conf

import (
	"crypto/tls"
	"time"
)

// DefaultTLSTimeout is how long a TLS handshake may take when a tls block
// sets no timeout (nats-server's TLS_TIMEOUT and DEFAULT_LEAF_TLS_TIMEOUT).
const DefaultTLSTimeout = 2 * time.Second

// DefaultTLSFallback is how long a handshake_first: "auto" listener waits
// for a ClientHello before it sends INFO in plaintext.
const DefaultTLSFallback = 50 * time.Millisecond

// TLS is a tls {} block (top level, leafnodes, a remote, websocket) or what
// the --tls* flags ask for, as nats-server parses it.
type TLS struct {
	CertFile string
	KeyFile  string
	CAFile   string
	// Certs are extra certificate/key pairs (certs [{cert_file, key_file}]),
	// chosen by SNI.
	Certs []CertPair

	Verify       bool // ask for and verify a client certificate
	VerifyAndMap bool // verify, then map the certificate to a user
	Insecure     bool // remotes: skip verification of the server

	Timeout time.Duration // 0 means DefaultTLSTimeout

	// HandshakeFirst: TLS before INFO. With FallbackDelay > 0 (the "auto"
	// or duration form) an accepting side waits that long for a
	// ClientHello, then falls back to INFO first.
	HandshakeFirst bool
	FallbackDelay  time.Duration

	MinVersion       uint16
	CipherSuites     []uint16
	CurvePreferences []tls.CurveID
	// PinnedCerts are hex sha256 digests of the DER SubjectPublicKeyInfo
	// of the peer certificates allowed (nats-server's pinned_certs).
	PinnedCerts []string

	// ServerName overrides the name a remote verifies (server_name key).
	ServerName string
}

// CertPair is one certs entry.
type CertPair struct {
	CertFile string
	KeyFile  string
}
