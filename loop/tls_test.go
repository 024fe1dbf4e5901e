package loop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
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

func TestTLSLeafSmoke(t *testing.T) {
	q := newQuickCerts(t)
	t.Run("canopy-hub", func(t *testing.T) {
		opts := &conf.Options{LeafNode: conf.LeafNode{Host: "127.0.0.1", Port: -1, TLS: &conf.TLS{CertFile: q.cert, KeyFile: q.key}}}
		hub := natstest.StartCanopyOpts(t, opts, "")
		lf := natstest.StartNATS(t, fmt.Sprintf(`
leafnodes { remotes = [ { url: "tls://127.0.0.1:%d", tls { ca_file: %q } } ] }
`, hub.LeafPort(), q.ca))
		natstest.WaitFor(t, 5*time.Second, "leaf link", func() bool { return hub.NumLeafs() == 1 })
		leafPubHubSub(t, hub.ClientURL(), lf.ClientURL())
	})
	t.Run("nats-hub", func(t *testing.T) {
		hub := natstest.StartNATS(t, fmt.Sprintf(`
leafnodes { listen: "127.0.0.1:-1", tls { cert_file: %q, key_file: %q } }
`, q.cert, q.key))
		u, _ := url.Parse(fmt.Sprintf("tls://127.0.0.1:%d", hub.LeafPort()))
		opts := &conf.Options{LeafNode: conf.LeafNode{Remotes: []*conf.Remote{{URLs: []*url.URL{u}, TLS: &conf.TLS{CAFile: q.ca}}}}}
		lf := natstest.StartCanopyOpts(t, opts, "")
		natstest.WaitFor(t, 5*time.Second, "leaf link", func() bool { return lf.NumLeafs() == 1 })
		leafPubHubSub(t, hub.ClientURL(), lf.ClientURL())
	})
	t.Run("nats-hub-upgrade", func(t *testing.T) {
		// No tls block on the remote: the hub's tls_required asks for it.
		// With a private CA the system roots refuse the hub, so the link
		// must not come up, and the hub sees a failed handshake.
		hub := natstest.StartNATS(t, fmt.Sprintf(`
leafnodes { listen: "127.0.0.1:-1", tls { cert_file: %q, key_file: %q } }
`, q.cert, q.key))
		u, _ := url.Parse(fmt.Sprintf("nats-leaf://127.0.0.1:%d", hub.LeafPort()))
		opts := &conf.Options{LeafNode: conf.LeafNode{Remotes: []*conf.Remote{{URLs: []*url.URL{u}}}}}
		lf := natstest.StartCanopyOpts(t, opts, "")
		time.Sleep(300 * time.Millisecond)
		if lf.NumLeafs() != 0 {
			t.Fatal("link up against a hub whose certificate the system roots do not know")
		}
	})
}

// leafPubHubSub checks messages cross the link both ways.
func leafPubHubSub(t *testing.T, hubURL, leafURL string) {
	t.Helper()
	hc := connect(t, hubURL)
	lc := connect(t, leafURL)
	hs, _ := hc.SubscribeSync("up")
	ls, _ := lc.SubscribeSync("down")
	flush(t, hc)
	flush(t, lc)
	natstest.WaitFor(t, 5*time.Second, "interest across the link", func() bool {
		hc.Publish("down", []byte("probe"))
		lc.Publish("up", []byte("probe"))
		hc.Flush()
		lc.Flush()
		_, e1 := ls.NextMsg(20 * time.Millisecond)
		_, e2 := hs.NextMsg(20 * time.Millisecond)
		return e1 == nil && e2 == nil
	})
	big := make([]byte, 512<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	for i := 0; i < 200; i++ {
		hc.Publish("down", big[:i*2000])
	}
	flush(t, hc)
	for i := 0; i < 200; i++ {
		var m *nats.Msg
		for {
			m = next(t, ls)
			if string(m.Data) != "probe" {
				break
			}
		}
		if string(m.Data) != string(big[:i*2000]) {
			t.Fatalf("message %d: %d bytes differ", i, len(m.Data))
		}
	}
}
