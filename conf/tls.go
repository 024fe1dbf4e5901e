package conf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// DefaultTLSTimeout is how long a TLS handshake may take when a tls block
// sets no timeout (nats-server's TLS_TIMEOUT and DEFAULT_LEAF_TLS_TIMEOUT).
const DefaultTLSTimeout = 2 * time.Second

// DefaultTLSFallback is how long a handshake_first: "auto" listener waits
// for a ClientHello before it sends INFO in plaintext.
const DefaultTLSFallback = 50 * time.Millisecond

// TLS is a tls {} block (top level, leafnodes, a remote) or what the --tls*
// flags ask for, as nats-server parses it. A nil *TLS means no TLS.
//
// It holds file names, not loaded certificates: ServerConfig and
// ClientConfig read the files each time they are called, so a server that
// builds its tls.Config again on reload picks up rotated certificates.
type TLS struct {
	CertFile string // cert_file: PEM certificate chain, leaf first
	KeyFile  string // key_file: PEM private key of CertFile
	CAFile   string // ca_file: PEM CAs; client CAs on a listener, root CAs on a remote
	// Certs are extra certificate/key pairs (certs [{cert_file, key_file}]),
	// chosen by SNI. nats-server refuses a block with both cert_file and
	// certs.
	Certs []CertPair

	Verify       bool // verify: ask for and verify a client certificate
	VerifyAndMap bool // verify_and_map: verify, then map the certificate to a user
	Insecure     bool // insecure: remotes skip verification of the server

	Timeout time.Duration // timeout; 0 means DefaultTLSTimeout (see HandshakeTimeout)

	// HandshakeFirst: TLS before INFO (handshake_first, first,
	// immediate). With FallbackDelay > 0 (the "auto" or duration form) an
	// accepting side waits that long for a ClientHello, then falls back to
	// INFO first.
	HandshakeFirst bool
	FallbackDelay  time.Duration

	MinVersion uint16 // min_version; 0 means TLS 1.2, nats-server's floor
	// CipherSuites (cipher_suites, by Go's names as nats-server takes
	// them) and CurvePreferences (curve_preferences): nil means
	// nats-server's defaults, DefaultCipherSuites and
	// DefaultCurvePreferences.
	CipherSuites     []uint16
	CurvePreferences []tls.CurveID
	// AllowInsecureCiphers (allow_insecure_cipher_suites) lets
	// CipherSuites name suites Go calls insecure.
	AllowInsecureCiphers bool
	// PinnedCerts are lower-case hex sha256 digests of the DER
	// SubjectPublicKeyInfo of the peer certificates allowed
	// (pinned_certs). A peer whose leaf certificate is not among them fails
	// the handshake with ErrCertNotPinned.
	PinnedCerts []string

	// ServerName is the name a remote verifies the hub's certificate
	// against and sends as SNI. No configuration key sets it: nats-server
	// has none, and uses the host of the URL being dialled, so the leaf
	// dialer sets it on its copy of the ClientConfig per URL.
	ServerName string
}

// CertPair is one certs entry.
type CertPair struct {
	CertFile string
	KeyFile  string
}

// HandshakeTimeout is how long a handshake may take: Timeout, or
// DefaultTLSTimeout when none is set.
func (t *TLS) HandshakeTimeout() time.Duration {
	if t == nil || t.Timeout <= 0 {
		return DefaultTLSTimeout
	}
	return t.Timeout
}

// VerifiesClients reports whether a listener with this block asks for
// and verifies client certificates (verify or verify_and_map): INFO's
// tls_verify and /varz's.
func (t *TLS) VerifiesClients() bool {
	return t != nil && (t.Verify || t.VerifyAndMap)
}

// HasCertificate reports whether the block names a certificate to present:
// cert_file or certs.
func (t *TLS) HasCertificate() bool {
	return t != nil && (t.CertFile != "" || len(t.Certs) > 0)
}

// ServerConfig builds the tls.Config of a listener from t, reading the
// certificate, key and CA files now. It requests and verifies a client
// certificate only with Verify or VerifyAndMap, as nats-server does (so
// pinned certificates without verify refuse every client). Errors are
// worded as nats-server's GenTLSConfig words them.
func (t *TLS) ServerConfig() (*tls.Config, error) {
	c, err := t.common()
	if err != nil {
		return nil, err
	}
	if t.VerifiesClients() {
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if t.CAFile != "" {
		if c.ClientCAs, err = loadCAs(t.CAFile); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ClientConfig builds the tls.Config a leaf remote dials with: RootCAs
// from ca_file (the system roots without one), a client certificate when
// cert_file or certs is set, InsecureSkipVerify for insecure, ServerName
// when set, and the pinned certificates. The caller sets ServerName on
// its copy when it is empty, to the host of the URL it dials.
func (t *TLS) ClientConfig() (*tls.Config, error) {
	c, err := t.common()
	if err != nil {
		return nil, err
	}
	c.InsecureSkipVerify = t.Insecure
	c.ServerName = t.ServerName
	if t.CAFile != "" {
		if c.RootCAs, err = loadCAs(t.CAFile); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// common is what server and client configurations share: certificates,
// versions, suites, curves and pins.
func (t *TLS) common() (*tls.Config, error) {
	if t == nil {
		return nil, errors.New("no TLS configuration")
	}
	c := &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     t.CipherSuites,
		CurvePreferences: t.CurvePreferences,
		// Records as large as the peer allows from the first byte: NATS
		// connections are long-lived streams where throughput matters
		// more than the first round trip's latency.
		DynamicRecordSizingDisabled: true,
	}
	if c.CipherSuites == nil {
		c.CipherSuites = DefaultCipherSuites()
	}
	if c.CurvePreferences == nil {
		c.CurvePreferences = DefaultCurvePreferences()
	}
	if t.MinVersion != 0 {
		if t.MinVersion < tls.VersionTLS12 {
			return nil, fmt.Errorf("unsupported minimum TLS version: %s", tls.VersionName(t.MinVersion))
		}
		c.MinVersion = t.MinVersion
	}
	if err := t.checkCiphers(); err != nil {
		return nil, err
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		return nil, errors.New("missing 'key_file' in TLS configuration")
	case t.CertFile == "" && t.KeyFile != "":
		return nil, errors.New("missing 'cert_file' in TLS configuration")
	case t.CertFile != "" && len(t.Certs) > 0:
		return nil, errors.New("error parsing tls config, cannot combine 'cert_file' option with 'certs' option")
	case t.CertFile != "":
		cert, err := loadPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("error parsing X509 certificate/key pair: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	case len(t.Certs) > 0:
		// Go's server picks among several certificates by the SNI the
		// client sent (tls.Certificate.SupportsCertificate), falling back
		// to the first; a client offers the first one a server's CAs
		// accept.
		c.Certificates = make([]tls.Certificate, len(t.Certs))
		for i, p := range t.Certs {
			if p.CertFile == "" || p.KeyFile == "" {
				return nil, errors.New("error parsing certificates config: both 'cert_file' and 'cert_key' options are required")
			}
			cert, err := loadPair(p.CertFile, p.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("error parsing X509 certificate/key pair %d/%d: %w", i+1, len(t.Certs), err)
			}
			c.Certificates[i] = cert
		}
	}
	if len(t.PinnedCerts) > 0 {
		pins := make(map[string]struct{}, len(t.PinnedCerts))
		for _, p := range t.PinnedCerts {
			if !isPin(p) {
				return nil, fmt.Errorf("error parsing 'pinned_certs' key %s does not look like lower case hex-encoded sha256 of DER encoded SubjectPublicKeyInfo", p)
			}
			pins[p] = struct{}{}
		}
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ErrCertNotPinned
			}
			if _, ok := pins[CertPin(cs.PeerCertificates[0])]; !ok {
				return ErrCertNotPinned
			}
			return nil
		}
	}
	return c, nil
}

// checkCiphers refuses suites Go calls insecure unless
// AllowInsecureCiphers, and suites Go does not know.
func (t *TLS) checkCiphers() error {
	var insecure []string
	for _, id := range t.CipherSuites {
		cs := cipherByID(id)
		if cs == nil {
			return fmt.Errorf("unrecognized cipher %s", tls.CipherSuiteName(id))
		}
		if cs.Insecure {
			insecure = append(insecure, cs.Name)
		}
	}
	if len(insecure) > 0 && !t.AllowInsecureCiphers {
		return fmt.Errorf("insecure cipher suites configured without 'allow_insecure_cipher_suites' option set: %s", strings.Join(insecure, ", "))
	}
	return nil
}

// loadPair reads a certificate chain and its key. Go fills in Leaf.
func loadPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, err
		}
	}
	return cert, nil
}

// loadCAs reads a PEM bundle of CA certificates.
func loadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("failed to parse root ca certificate")
	}
	return pool, nil
}

// CertPin is the pin of a certificate as pinned_certs lists it: the
// lower-case hex sha256 of its DER SubjectPublicKeyInfo.
func CertPin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// isPin reports whether s is 64 lower-case hex digits.
func isPin(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// DefaultCipherSuites are the suites a tls block without cipher_suites
// allows: every suite Go considers secure, as in nats-server.
func DefaultCipherSuites() []uint16 {
	suites := tls.CipherSuites()
	ids := make([]uint16, len(suites))
	for i, cs := range suites {
		ids[i] = cs.ID
	}
	return ids
}

// DefaultCurvePreferences are the key exchanges a tls block without
// curve_preferences offers, in nats-server's order: the post-quantum
// hybrids first, then X25519 and the NIST curves.
func DefaultCurvePreferences() []tls.CurveID {
	return []tls.CurveID{
		tls.X25519MLKEM768, tls.SecP384r1MLKEM1024, tls.SecP256r1MLKEM768,
		tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521,
	}
}

// CipherSuiteByName finds a suite by the name cipher_suites uses (Go's,
// such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), secure or not.
func CipherSuiteByName(name string) (*tls.CipherSuite, bool) {
	for _, cs := range tls.CipherSuites() {
		if cs.Name == name {
			return cs, true
		}
	}
	for _, cs := range tls.InsecureCipherSuites() {
		if cs.Name == name {
			return cs, true
		}
	}
	return nil, false
}

func cipherByID(id uint16) *tls.CipherSuite {
	for _, cs := range tls.CipherSuites() {
		if cs.ID == id {
			return cs
		}
	}
	for _, cs := range tls.InsecureCipherSuites() {
		if cs.ID == id {
			return cs
		}
	}
	return nil
}

// CurveByName finds a curve by the name curve_preferences uses.
func CurveByName(name string) (tls.CurveID, bool) {
	switch name {
	case "SecP384r1MLKEM1024":
		return tls.SecP384r1MLKEM1024, true
	case "SecP256r1MLKEM768":
		return tls.SecP256r1MLKEM768, true
	case "X25519MLKEM768":
		return tls.X25519MLKEM768, true
	case "X25519":
		return tls.X25519, true
	case "CurveP256":
		return tls.CurveP256, true
	case "CurveP384":
		return tls.CurveP384, true
	case "CurveP521":
		return tls.CurveP521, true
	}
	return 0, false
}
