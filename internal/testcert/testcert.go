// Package testcert makes throw-away certificates for tests: a CA, a server
// certificate for 127.0.0.1 and localhost signed by it, a second CA that
// trusts nothing of the first, and client or server certificates issued on
// demand with the subject and SANs a test needs (verify_and_map tests map
// email SANs, subject DNs and DNS SANs to users).
//
// Everything is ECDSA P-256, made fresh in each test and written as PEM to
// a directory the test owns; no key material is checked in.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is one certificate with its key, parsed and on disk.
type Cert struct {
	Cert     *x509.Certificate
	Key      *ecdsa.PrivateKey
	CertFile string // PEM certificate
	KeyFile  string // PEM PKCS #8 private key
	// TLS is the pair ready for a tls.Config, Leaf filled in.
	TLS tls.Certificate
}

// Set is a CA, a server certificate it signed, and an unrelated CA.
type Set struct {
	Dir string
	// CA signs Server and, unless Spec.Other says otherwise, what Issue
	// makes. Its CertFile is what ca_file names.
	CA *Cert
	// Server is for 127.0.0.1 and localhost (IP and DNS SANs), CN
	// "localhost", usable for server and client authentication.
	Server *Cert
	// Other is a second self-signed CA; certificates it issues do not
	// verify against CA.
	Other *Cert
}

// Spec says what Issue puts in a certificate.
type Spec struct {
	Subject        pkix.Name
	DNSNames       []string
	IPAddresses    []net.IP
	EmailAddresses []string
	// Other has the certificate signed by Set.Other instead of Set.CA.
	Other bool
	// NotAfter, when set, replaces the default validity of one day
	// (a past time makes an expired certificate).
	NotAfter time.Time
}

// New makes a Set and writes it into dir (ca.pem, ca-key.pem,
// server-cert.pem, server-key.pem, other-ca.pem, other-ca-key.pem). It
// fails the test on any error.
func New(t testing.TB, dir string) *Set {
	t.Helper()
	s := &Set{Dir: dir}
	s.CA = selfSigned(t, dir, "ca", "Canopy Test CA")
	s.Other = selfSigned(t, dir, "other-ca", "Canopy Unrelated CA")
	s.Server = s.Issue(t, "server", Spec{
		Subject:     pkix.Name{CommonName: "localhost", Organization: []string{"Canopy"}},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
	return s
}

// Issue makes a certificate for name (files name-cert.pem, name-key.pem)
// signed by the CA, or by Other when spec.Other is set. It is valid for
// both server and client authentication.
func (s *Set) Issue(t testing.TB, name string, spec Spec) *Cert {
	t.Helper()
	issuer := s.CA
	if spec.Other {
		issuer = s.Other
	}
	key := newKey(t)
	notAfter := spec.NotAfter
	if notAfter.IsZero() {
		notAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial(t),
		Subject:        spec.Subject,
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:       spec.DNSNames,
		IPAddresses:    spec.IPAddresses,
		EmailAddresses: spec.EmailAddresses,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer.Cert, &key.PublicKey, issuer.Key)
	if err != nil {
		t.Fatalf("testcert: issuing %s: %v", name, err)
	}
	return write(t, s.Dir, name+"-cert.pem", name+"-key.pem", der, key)
}

// Pool is a cert pool holding the CA, for a client's RootCAs.
func (s *Set) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.CA.Cert)
	return p
}

// Pin is the pinned_certs entry of c: the lower-case hex sha256 of its DER
// SubjectPublicKeyInfo.
func Pin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

func selfSigned(t testing.TB, dir, name, cn string) *Cert {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Canopy"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testcert: making %s: %v", name, err)
	}
	// A CA's file is named after the CA alone (ca.pem), as ca_file
	// usually is.
	return write(t, dir, name+".pem", name+"-key.pem", der, key)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testcert: key: %v", err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("testcert: serial: %v", err)
	}
	return n
}

// write parses der, writes the certificate and key as PEM and returns
// them.
func write(t testing.TB, dir, certName, keyName string, der []byte, key *ecdsa.PrivateKey) *Cert {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testcert: parsing %s: %v", certName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testcert: marshalling key %s: %v", keyName, err)
	}
	c := &Cert{
		Cert:     cert,
		Key:      key,
		CertFile: filepath.Join(dir, certName),
		KeyFile:  filepath.Join(dir, keyName),
		TLS:      tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert},
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(c.CertFile, certPEM, 0o600); err != nil {
		t.Fatalf("testcert: %v", err)
	}
	if err := os.WriteFile(c.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatalf("testcert: %v", err)
	}
	return c
}
