package loop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/natstest"
)

// quickCerts writes a CA and a server certificate for 127.0.0.1/localhost.
type quickCerts struct{ ca, cert, key string }

func newQuickCerts(t testing.TB) quickCerts {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	q := quickCerts{filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")}
	os.WriteFile(q.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	os.WriteFile(q.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(q.key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return q
}

func TestTLSSmoke(t *testing.T) {
	q := newQuickCerts(t)
	opts := &conf.Options{TLS: &conf.TLS{CertFile: q.cert, KeyFile: q.key}}
	s := natstest.StartCanopyOpts(t, opts, "")
	url := strings.Replace(s.ClientURL(), "nats://", "tls://", 1)
	sub := connect(t, url, nats.RootCAs(q.ca))
	pub := connect(t, url, nats.RootCAs(q.ca))
	ch, err := sub.SubscribeSync("x.>")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, sub)
	big := make([]byte, 1<<20-100)
	for i := range big {
		big[i] = byte(i)
	}
	pub.Publish("x.a", []byte("hello"))
	pub.Publish("x.b", big)
	for i := 0; i < 1000; i++ {
		pub.Publish("x.c", []byte("m"))
	}
	flush(t, pub)
	if m := next(t, ch); string(m.Data) != "hello" {
		t.Fatalf("got %q", m.Data)
	}
	if m := next(t, ch); string(m.Data) != string(big) {
		t.Fatalf("big payload differs (%d bytes)", len(m.Data))
	}
	for i := 0; i < 1000; i++ {
		next(t, ch)
	}
}
