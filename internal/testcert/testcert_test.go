package testcert

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestServerCertVerifies(t *testing.T) {
	s := New(t, t.TempDir())
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := s.Server.Cert.Verify(x509.VerifyOptions{Roots: s.Pool(), DNSName: name}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if _, err := s.Server.Cert.Verify(x509.VerifyOptions{Roots: s.Pool(), DNSName: "example.com"}); err == nil {
		t.Error("server certificate verified for example.com")
	}
	other := x509.NewCertPool()
	other.AddCert(s.Other.Cert)
	if _, err := s.Server.Cert.Verify(x509.VerifyOptions{Roots: other, DNSName: "localhost"}); err == nil {
		t.Error("server certificate verified against the unrelated CA")
	}
}

func TestFilesLoad(t *testing.T) {
	dir := t.TempDir()
	s := New(t, dir)
	for _, f := range []string{"ca.pem", "ca-key.pem", "server-cert.pem", "server-key.pem", "other-ca.pem", "other-ca-key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	pair, err := tls.LoadX509KeyPair(s.Server.CertFile, s.Server.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !pair.Leaf.Equal(s.Server.Cert) {
		t.Error("server-cert.pem is not Server.Cert")
	}
	pem, err := os.ReadFile(s.CA.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("ca.pem holds no certificate")
	}
	if _, err := s.Server.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Errorf("verify against ca.pem: %v", err)
	}
}

func TestIssue(t *testing.T) {
	s := New(t, t.TempDir())
	c := s.Issue(t, "alice", Spec{
		Subject:        pkix.Name{CommonName: "alice", Organization: []string{"Acme"}},
		EmailAddresses: []string{"alice@example.com"},
		DNSNames:       []string{"alice.example.com"},
	})
	if c.Cert.Subject.CommonName != "alice" || c.Cert.EmailAddresses[0] != "alice@example.com" || c.Cert.DNSNames[0] != "alice.example.com" {
		t.Errorf("certificate %v %v %v", c.Cert.Subject, c.Cert.EmailAddresses, c.Cert.DNSNames)
	}
	opts := x509.VerifyOptions{Roots: s.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := c.Cert.Verify(opts); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if filepath.Base(c.CertFile) != "alice-cert.pem" || filepath.Base(c.KeyFile) != "alice-key.pem" {
		t.Errorf("files %s %s", c.CertFile, c.KeyFile)
	}
	foreign := s.Issue(t, "mallory", Spec{Subject: pkix.Name{CommonName: "mallory"}, Other: true})
	if _, err := foreign.Cert.Verify(opts); err == nil {
		t.Error("a certificate of the unrelated CA verified against CA")
	}
	expired := s.Issue(t, "old", Spec{Subject: pkix.Name{CommonName: "old"}, NotAfter: time.Now().Add(-time.Minute)})
	if _, err := expired.Cert.Verify(opts); err == nil {
		t.Error("an expired certificate verified")
	}
}

func TestPin(t *testing.T) {
	s := New(t, t.TempDir())
	sum := sha256.Sum256(s.Server.Cert.RawSubjectPublicKeyInfo)
	if got, want := Pin(s.Server.Cert), hex.EncodeToString(sum[:]); got != want || len(got) != 64 {
		t.Errorf("Pin = %s, want %s", got, want)
	}
	if Pin(s.Server.Cert) == Pin(s.CA.Cert) {
		t.Error("two keys, one pin")
	}
}

// TestHandshake runs a mutual TLS handshake with the set, the way the
// tests of other packages will use it.
func TestHandshake(t *testing.T) {
	s := New(t, t.TempDir())
	client := s.Issue(t, "client", Spec{Subject: pkix.Name{CommonName: "client"}})
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, &tls.Config{
		Certificates: []tls.Certificate{s.Server.TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    s.Pool(),
	})
	cli := tls.Client(b, &tls.Config{
		RootCAs:      s.Pool(),
		ServerName:   "localhost",
		Certificates: []tls.Certificate{client.TLS},
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatalf("client: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server: %v", err)
	}
	if got := srv.ConnectionState().PeerCertificates[0].Subject.CommonName; got != "client" {
		t.Errorf("server saw %q", got)
	}
}
