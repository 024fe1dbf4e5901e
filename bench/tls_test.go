package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// testCerts makes a CA and a server certificate in a folder of the test.
func testCerts(t *testing.T) CertFiles {
	t.Helper()
	certs, err := MakeCerts(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// withTLS puts TLS with the test's certificate on the client port of an
// in-process server.
func withTLS(t *testing.T, certs CertFiles) func(*server.Options) {
	return func(o *server.Options) {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certs.Cert, KeyFile: certs.Key})
		if err != nil {
			t.Fatal(err)
		}
		o.TLSConfig, o.TLS = tc, true
	}
}

func TestMakeCerts(t *testing.T) {
	t.Chdir(t.TempDir())
	certs, err := MakeCerts("tls")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certs.Cert, certs.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file holds no certificate")
	}
	for _, name := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("server certificate not valid for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "127.0.0.2", Roots: roots}); err == nil {
		t.Error("server certificate valid for an address it does not name")
	}
	for _, p := range []string{certs.CA, certs.Cert, certs.Key} {
		if !filepath.IsAbs(p) {
			t.Errorf("path %s is relative", p)
		}
	}
	if fi, err := os.Stat(certs.Key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
}

// TestPubSubOverTLS: publishers and subscribers reach a server that requires
// TLS, and every message arrives once and in order.
func TestPubSubOverTLS(t *testing.T) {
	certs := testCerts(t)
	s := runServer(t, withTLS(t, certs))
	if !strings.HasPrefix(s.ClientURL(), "tls://") {
		t.Fatalf("server URL %s", s.ClientURL())
	}
	for _, u := range []string{s.ClientURL(), strings.Replace(s.ClientURL(), "tls://", "nats://", 1)} {
		o := quick(u, PubSub)
		o.Subs, o.TLS.CAFile = 2, certs.CA
		res := mustRun(t, o)
		if res.Received != 2*res.Sent || res.Sent != 2000 {
			t.Fatalf("%s: sent %d, received %d", u, res.Sent, res.Received)
		}
	}
	// The integrity check still bites over TLS.
	o := quick(s.ClientURL(), PubSub)
	// A lost message is known only once the wait runs out.
	o.TLS.CAFile, o.Timeout = certs.CA, 500*time.Millisecond
	o.fault = func(_ int, _ uint32, seq uint64) faultAction {
		if seq == 7 {
			return faultDrop
		}
		return faultNone
	}
	if res := mustFailIntegrity(t, o); res.Lost != 1 {
		t.Fatalf("lost %d, want 1", res.Lost)
	}
}

func TestTLSRefusedWithoutTheCA(t *testing.T) {
	certs := testCerts(t)
	s := runServer(t, withTLS(t, certs))
	o := quick(s.ClientURL(), PubSub)
	o.Timeout = 2 * time.Second
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrConnect) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a server certificate from an unknown CA: want a connect error about it, got %v", err)
	}
	o.Scenario, o.Conns = Conns, 3
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("idle connections to an unknown CA: want a certificate error, got %v", err)
	}
	o.TLS = TLSOptions{CertFile: certs.Cert}
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrOptions) {
		t.Fatalf("a client certificate without its key: want ErrOptions, got %v", err)
	}
	plain := runServer(t, nil)
	o = Options{Scenario: Conns, URL: plain.ClientURL(), Conns: 3, TLS: TLSOptions{CAFile: certs.CA}, Timeout: 2 * time.Second}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "offers none") {
		t.Fatalf("TLS asked of a plaintext server: got %v", err)
	}
}

// TestConnsOverTLS opens idle connections that each did a TLS handshake,
// and checks on the server that they are what they claim.
func TestConnsOverTLS(t *testing.T) {
	certs := testCerts(t)
	s := runServer(t, withTLS(t, certs))
	o := Options{Scenario: Conns, URL: s.ClientURL(), Conns: 100, ConnSub: true, Dialers: 8,
		ServerPID: os.Getpid(), TLS: TLSOptions{CAFile: certs.CA}, Hold: 20 * time.Millisecond, Timeout: 5 * time.Second}
	var tlsConns, subs int
	o.opened = func() {
		cz, err := s.Connz(&server.ConnzOptions{Limit: 1000, Subscriptions: true})
		if err != nil {
			t.Error(err)
			return
		}
		for _, ci := range cz.Conns {
			if ci.TLSVersion != "" {
				tlsConns++
			}
			subs += len(ci.Subs)
		}
	}
	res := mustRun(t, o)
	if tlsConns != 100 || subs != 100 {
		t.Fatalf("the server saw %d TLS connections and %d subscriptions, want 100 and 100", tlsConns, subs)
	}
	c := res.Conns
	if !c.TLS || c.Dialers != 8 || c.Alive != 100 || res.MsgsPerSec <= 0 {
		t.Fatalf("conns result: %+v, %v conns/s", c, res.MsgsPerSec)
	}
	if _, ok := res.Metric(MetricConnRate); !ok {
		t.Fatal("no opening rate")
	}
}

// TestSweepOverTLS: held TLS connections answer the server's PINGs through
// crypto/tls, and a connection the server closed is noticed.
func TestSweepOverTLS(t *testing.T) {
	certs := testCerts(t)
	s := runServer(t, func(so *server.Options) {
		withTLS(t, certs)(so)
		so.PingInterval, so.MaxPingsOut = 20*time.Millisecond, 2
	})
	o := Options{Scenario: Conns, URL: s.ClientURL(), Conns: 4, TLS: TLSOptions{CAFile: certs.CA}, Timeout: 5 * time.Second}
	if err := o.normalize(); err != nil {
		t.Fatal(err)
	}
	d, err := newRawDialer(&o)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]net.Conn, o.Conns)
	br := bufio.NewReaderSize(nil, 16<<10)
	for i := range conns {
		if conns[i], err = d.open(context.Background(), i, br); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	buf := make([]byte, 4096)
	// Twenty ping intervals, answered: without the answers the server
	// would have closed them after three.
	for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		sweep(conns, buf)
	}
	if alive := sweep(conns, buf); alive != 4 || s.NumClients() != 4 {
		t.Fatalf("%d connections alive, the server has %d, want 4", alive, s.NumClients())
	}
	// Unanswered, the server closes them, and the sweep sees it.
	time.Sleep(200 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for sweep(conns, buf) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sweep still counts connections the server has closed; the server has %d", s.NumClients())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConfigRendersTLS: the configs the suite writes carry the tls blocks,
// and nats-server reads them as TLS on the client port, on the leafnode
// port and on the remote.
func TestConfigRendersTLS(t *testing.T) {
	certs := testCerts(t)
	dir := t.TempDir()
	load := func(name string, c serverConfig) *server.Options {
		t.Helper()
		path := filepath.Join(dir, name+".conf")
		text := c.render(name, 4999)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		o, err := server.ProcessConfigFile(path)
		if err != nil {
			t.Fatalf("nats-server cannot read the %s config: %v\n%s", name, err, text)
		}
		return o
	}

	o := load("client", serverConfig{maxPayload: 1 << 20, clientTLS: &certs})
	if o.TLSConfig == nil || o.LeafNode.Port != 0 {
		t.Fatalf("client port: TLS %v, leafnode port %d", o.TLSConfig != nil, o.LeafNode.Port)
	}
	hub := load("hub", serverConfig{maxPayload: 1 << 20, leafListen: 5001, leafTLS: &certs})
	if hub.TLSConfig != nil || hub.LeafNode.Port != 5001 || hub.LeafNode.TLSConfig == nil {
		t.Fatalf("hub: client TLS %v, leafnode port %d, leafnode TLS %v",
			hub.TLSConfig != nil, hub.LeafNode.Port, hub.LeafNode.TLSConfig != nil)
	}
	leaf := load("leaf", serverConfig{maxPayload: 1 << 20, leafRemote: 5001, leafTLS: &certs})
	if len(leaf.LeafNode.Remotes) != 1 {
		t.Fatalf("leaf: %d remotes", len(leaf.LeafNode.Remotes))
	}
	r := leaf.LeafNode.Remotes[0]
	if len(r.URLs) != 1 || r.URLs[0].String() != "tls://127.0.0.1:5001" || r.TLSConfig == nil || r.TLSConfig.RootCAs == nil {
		t.Fatalf("leaf remote: URLs %v, TLS %v", r.URLs, r.TLSConfig)
	}
	plainLeaf := load("plain-leaf", serverConfig{maxPayload: 1 << 20, leafRemote: 5001})
	if u := plainLeaf.LeafNode.Remotes[0].URLs[0].String(); u != "nats-leaf://127.0.0.1:5001" {
		t.Fatalf("plain remote URL %s", u)
	}

	// The text, for servers that are not nats-server but read its format.
	text := serverConfig{maxPayload: 1 << 20, clientTLS: &certs, leafListen: 5001, leafTLS: &certs}.render("x", 4999)
	for _, want := range []string{
		"tls {\n  cert_file: \"" + certs.Cert + "\"\n  key_file: \"" + certs.Key + "\"\n}\n",
		"leafnodes {\n  listen: \"127.0.0.1:5001\"\n  tls {\n    cert_file: \"" + certs.Cert + "\"\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %q:\n%s", want, text)
		}
	}
	text = serverConfig{leafRemote: 5001, leafTLS: &certs}.render("x", 4999)
	if want := "url: \"tls://127.0.0.1:5001\"\n      tls {\n        ca_file: \"" + certs.CA + "\"\n      }\n"; !strings.Contains(text, want) {
		t.Errorf("remote lacks %q:\n%s", want, text)
	}
}
