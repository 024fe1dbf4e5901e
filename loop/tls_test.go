package loop_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/internal/testcert"
)

// The TLS tests run the same config text on Canopy and on nats-server
// v2.15.2 (servers) and assert what a real nats.go client sees.

func tlsURL(addr string) string { return "tls://" + addr }

// tlsConnect connects nats.go over TLS and fails the test on error.
func tlsConnect(t testing.TB, addr string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return connect(t, tlsURL(addr), opts...)
}

// tlsRefused tries to connect and returns the error, which must not be nil.
func tlsRefused(t testing.TB, addr string, opts ...nats.Option) error {
	t.Helper()
	opts = append(opts, nats.Timeout(2*time.Second), nats.NoReconnect())
	nc, err := nats.Connect(tlsURL(addr), opts...)
	if err == nil {
		nc.Close()
		t.Fatal("connected, want a refusal")
	}
	return err
}

func TestTLSClient(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	cfg := fmt.Sprintf("tls { cert_file: %q, key_file: %q }", cs.Server.CertFile, cs.Server.KeyFile)
	servers(t, cfg, func(t *testing.T, addr string) {
		ca := nats.RootCAs(cs.CA.CertFile)
		sub := tlsConnect(t, addr, ca)
		pub := tlsConnect(t, addr, ca)
		ch, err := sub.SubscribeSync("x.>")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sub.Subscribe("svc", func(m *nats.Msg) { m.Respond(append([]byte("re:"), m.Data...)) }); err != nil {
			t.Fatal(err)
		}
		flush(t, sub)
		big := make([]byte, 1<<20)
		for i := range big {
			big[i] = byte(i * 31)
		}
		pub.Publish("x.a", []byte("hello"))
		if err := pub.Publish("x.b", big); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2000; i++ {
			pub.Publish("x.c", []byte(fmt.Sprint(i)))
		}
		flush(t, pub)
		if m := next(t, ch); string(m.Data) != "hello" {
			t.Fatalf("got %q", m.Data)
		}
		if m := next(t, ch); string(m.Data) != string(big) {
			t.Fatalf("1 MiB payload: %d bytes, not intact", len(m.Data))
		}
		for i := 0; i < 2000; i++ {
			if m := next(t, ch); string(m.Data) != fmt.Sprint(i) {
				t.Fatalf("message %d: %q", i, m.Data)
			}
		}
		m, err := pub.Request("svc", []byte("q"), wait)
		if err != nil || string(m.Data) != "re:q" {
			t.Fatalf("request: %v %v", err, m)
		}
		st, err := pub.TLSConnectionState()
		if err != nil || st.Version != tls.VersionTLS13 {
			t.Fatalf("TLS state %v, version %x", err, st.Version)
		}
	})
}

// A client that does not handshake gets no -ERR: the bytes it sends fail
// the handshake and the connection closes. nats.go without the CA fails
// on the certificate.
func TestTLSPlaintextRefused(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	cfg := fmt.Sprintf("tls { cert_file: %q, key_file: %q }", cs.Server.CertFile, cs.Server.KeyFile)
	servers(t, cfg, func(t *testing.T, addr string) {
		c := dialRawNoInfo(t, addr)
		info := c.line()
		if !strings.Contains(info, `"tls_required":true`) {
			t.Fatalf("INFO without tls_required: %s", info)
		}
		c.send("CONNECT {}\r\nPING\r\n")
		if got := c.closed(); got != "" {
			t.Fatalf("plaintext client got %q", got)
		}
		err := tlsRefused(t, addr)
		var ce *tls.CertificateVerificationError
		if !errors.As(err, &ce) && !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("without the CA: %v", err)
		}
	})
}

func TestTLSVerify(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	alice := cs.Issue(t, "alice", testcert.Spec{Subject: pkix.Name{CommonName: "alice"}})
	rogue := cs.Issue(t, "rogue", testcert.Spec{Subject: pkix.Name{CommonName: "rogue"}, Other: true})
	cfg := fmt.Sprintf("tls { cert_file: %q, key_file: %q, ca_file: %q, verify: true }",
		cs.Server.CertFile, cs.Server.KeyFile, cs.CA.CertFile)
	servers(t, cfg, func(t *testing.T, addr string) {
		ca := nats.RootCAs(cs.CA.CertFile)
		c := dialRawNoInfo(t, addr)
		if info := c.line(); !strings.Contains(info, `"tls_verify":true`) {
			t.Fatalf("INFO without tls_verify: %s", info)
		}
		nc := tlsConnect(t, addr, ca, nats.ClientCert(alice.CertFile, alice.KeyFile))
		flush(t, nc)
		// No certificate, and one from a CA the server does not trust:
		// Go's client offers only a certificate the server's CA list
		// names, so both look like no certificate to the server.
		// With TLS 1.3 the client may learn of it as a certificate
		// alert or as the connection closing under its first write.
		for _, opts := range [][]nats.Option{{ca}, {ca, nats.ClientCert(rogue.CertFile, rogue.KeyFile)}} {
			tlsRefused(t, addr, opts...)
		}
	})
}

func TestTLSVerifyAndMap(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	alice := cs.Issue(t, "alice", testcert.Spec{Subject: pkix.Name{CommonName: "alice", Organization: []string{"Acme"}}})
	bob := cs.Issue(t, "bob", testcert.Spec{Subject: pkix.Name{CommonName: "bob"}, EmailAddresses: []string{"bob@example.com"}})
	nobody := cs.Issue(t, "nobody", testcert.Spec{Subject: pkix.Name{CommonName: "nobody"}})
	cfg := fmt.Sprintf(`
tls { cert_file: %q, key_file: %q, ca_file: %q, verify_and_map: true }
authorization {
  users = [
    { user: "CN=alice,O=Acme", permissions: { publish: "a.>", subscribe: ">" } }
    { user: "bob@example.com" }
  ]
}`, cs.Server.CertFile, cs.Server.KeyFile, cs.CA.CertFile)
	servers(t, cfg, func(t *testing.T, addr string) {
		ca := nats.RootCAs(cs.CA.CertFile)
		errs := make(chan error, 4)
		a := tlsConnect(t, addr, ca, nats.ClientCert(alice.CertFile, alice.KeyFile),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
		b := tlsConnect(t, addr, ca, nats.ClientCert(bob.CertFile, bob.KeyFile))
		sub, _ := b.SubscribeSync(">")
		flush(t, b)
		a.Publish("a.ok", []byte("1"))
		a.Publish("b.no", []byte("2"))
		flush(t, a)
		if m := next(t, sub); m.Subject != "a.ok" {
			t.Fatalf("bob got %s", m.Subject)
		}
		select {
		case err := <-errs:
			if !strings.Contains(err.Error(), `Permissions Violation for Publish to "b.no"`) {
				t.Fatalf("alice's error: %v", err)
			}
		case <-time.After(wait):
			t.Fatal("alice's publish outside her permissions was not refused")
		}
		flush(t, b)
		none(t, sub)
		err := tlsRefused(t, addr, ca, nats.ClientCert(nobody.CertFile, nobody.KeyFile))
		if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Fatalf("unmapped certificate: %v", err)
		}
	})
}

func TestTLSPinnedCerts(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	alice := cs.Issue(t, "alice", testcert.Spec{Subject: pkix.Name{CommonName: "alice"}})
	eve := cs.Issue(t, "eve", testcert.Spec{Subject: pkix.Name{CommonName: "eve"}})
	cfg := fmt.Sprintf("tls { cert_file: %q, key_file: %q, ca_file: %q, verify: true, pinned_certs: [%q] }",
		cs.Server.CertFile, cs.Server.KeyFile, cs.CA.CertFile, testcert.Pin(alice.Cert))
	servers(t, cfg, func(t *testing.T, addr string) {
		ca := nats.RootCAs(cs.CA.CertFile)
		flush(t, tlsConnect(t, addr, ca, nats.ClientCert(alice.CertFile, alice.KeyFile)))
		tlsRefused(t, addr, ca, nats.ClientCert(eve.CertFile, eve.KeyFile))
	})
}

func TestTLSHandshakeFirst(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	for _, mode := range []string{"true", `"auto"`, `"300ms"`} {
		t.Run(strings.Trim(mode, `"`), func(t *testing.T) {
			cfg := fmt.Sprintf("tls { cert_file: %q, key_file: %q, handshake_first: %s }",
				cs.Server.CertFile, cs.Server.KeyFile, mode)
			servers(t, cfg, func(t *testing.T, addr string) {
				ca := nats.RootCAs(cs.CA.CertFile)
				first := tlsConnect(t, addr, ca, nats.TLSHandshakeFirst())
				sub, _ := first.SubscribeSync("hf")
				flush(t, first)
				if mode == "true" {
					// A client that waits for INFO waits in vain.
					tlsRefused(t, addr, ca)
					first.Publish("hf", []byte("x"))
				} else {
					// The fallback: INFO goes out when the client says
					// nothing first.
					late := tlsConnect(t, addr, ca)
					late.Publish("hf", []byte("x"))
					flush(t, late)
				}
				flush(t, first)
				next(t, sub)
			})
		})
	}
}

func TestTLSAllowNonTLS(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	cfg := fmt.Sprintf("allow_non_tls: true\ntls { cert_file: %q, key_file: %q }", cs.Server.CertFile, cs.Server.KeyFile)
	servers(t, cfg, func(t *testing.T, addr string) {
		c := dialRawNoInfo(t, addr)
		info := c.line()
		if !strings.Contains(info, `"tls_available":true`) || strings.Contains(info, "tls_required") {
			t.Fatalf("INFO: %s", info)
		}
		plain := connect(t, "nats://"+addr)
		secure := tlsConnect(t, addr, nats.RootCAs(cs.CA.CertFile), nats.Secure())
		sub, _ := plain.SubscribeSync("mixed")
		flush(t, plain)
		secure.Publish("mixed", []byte("over tls"))
		flush(t, secure)
		if m := next(t, sub); string(m.Data) != "over tls" {
			t.Fatalf("got %q", m.Data)
		}
		if _, err := secure.TLSConnectionState(); err != nil {
			t.Fatalf("secure client not on TLS: %v", err)
		}
	})
}

// A reload reads the certificate files again: a rotated certificate
// serves the connections that come after it.
func TestTLSReloadRotatesCertificate(t *testing.T) {
	dir := t.TempDir()
	cs := testcert.New(t, dir)
	cfg := fmt.Sprintf("tls { cert_file: %q, key_file: %q }", cs.Server.CertFile, cs.Server.KeyFile)
	s := natstest.StartCanopy(t, cfg)
	ca := nats.RootCAs(cs.CA.CertFile)
	before := tlsConnect(t, s.ClientAddr().String(), ca)
	st, _ := before.TLSConnectionState()
	old := st.PeerCertificates[0].SerialNumber
	next := cs.Issue(t, "rotated", testcert.Spec{Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
	for _, f := range [][2]string{{next.CertFile, cs.Server.CertFile}, {next.KeyFile, cs.Server.KeyFile}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := rlReload(t, s, "listen: 127.0.0.1:-1\n"+cfg); err != nil {
		t.Fatal(err)
	}
	after := tlsConnect(t, s.ClientAddr().String(), ca)
	st, _ = after.TLSConnectionState()
	if st.PeerCertificates[0].SerialNumber.Cmp(old) == 0 {
		t.Fatal("a new connection after reload still got the old certificate")
	}
	if st.PeerCertificates[0].SerialNumber.Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatal("a new connection got neither certificate")
	}
	// The connection made before keeps working.
	flush(t, before)
}

// The handshake runs off the loop: a client that opens TCP and says
// nothing holds no loop, and is closed when the TLS timeout passes.
func TestTLSHandshakeTimeout(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	cfg := fmt.Sprintf("tls { cert_file: %q, key_file: %q, timeout: 0.3 }", cs.Server.CertFile, cs.Server.KeyFile)
	servers(t, cfg, func(t *testing.T, addr string) {
		silent := dialRawNoInfo(t, addr)
		silent.line() // INFO
		// Meanwhile others connect and work.
		nc := tlsConnect(t, addr, nats.RootCAs(cs.CA.CertFile))
		flush(t, nc)
		start := time.Now()
		if got := silent.closedWithin(3 * time.Second); got != "" {
			t.Fatalf("silent client got %q", got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("closed after %v, the timeout is 300 ms", d)
		}
	})
}

func TestTLSLeafSmoke(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	t.Run("canopy-hub", func(t *testing.T) {
		hub := natstest.StartCanopy(t, fmt.Sprintf(`leafnodes { listen: "127.0.0.1:-1", tls { cert_file: %q, key_file: %q } }`,
			cs.Server.CertFile, cs.Server.KeyFile))
		lf := natstest.StartNATS(t, fmt.Sprintf(`
leafnodes { remotes = [ { url: "tls://127.0.0.1:%d", tls { ca_file: %q } } ] }
`, hub.LeafPort(), cs.CA.CertFile))
		natstest.WaitFor(t, 5*time.Second, "leaf link", func() bool { return hub.NumLeafs() == 1 })
		leafBothWays(t, hub.ClientURL(), lf.ClientURL())
	})
	t.Run("nats-hub", func(t *testing.T) {
		hub := natstest.StartNATS(t, fmt.Sprintf(`
leafnodes { listen: "127.0.0.1:-1", tls { cert_file: %q, key_file: %q } }
`, cs.Server.CertFile, cs.Server.KeyFile))
		u, _ := url.Parse(fmt.Sprintf("tls://127.0.0.1:%d", hub.LeafPort()))
		opts := &conf.Options{LeafNode: conf.LeafNode{Remotes: []*conf.Remote{{URLs: []*url.URL{u}, TLS: &conf.TLS{CAFile: cs.CA.CertFile}}}}}
		lf := natstest.StartCanopyOpts(t, opts, "")
		natstest.WaitFor(t, 5*time.Second, "leaf link", func() bool { return lf.NumLeafs() == 1 })
		leafBothWays(t, hub.ClientURL(), lf.ClientURL())
	})
}

// leafBothWays checks messages cross a link both ways, up to 200 KB
// (10 MB in all: enough to fill the TLS buffers many times, little enough
// for the race detector on a loaded machine).
func leafBothWays(t *testing.T, hubURL, leafURL string) {
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
	big := make([]byte, 200_000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	for i := 0; i < 100; i++ {
		hc.Publish("down", big[:i*2000])
	}
	flush(t, hc)
	for i := 0; i < 100; i++ {
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

// TestTLSSlowConsumer: back-pressure with TLS counts what gnet and the
// kernel hold for the socket, as with plaintext. A TLS subscriber that
// never reads is closed as a slow consumer once that passes max_pending;
// a TLS subscriber that reads gets every message and the publisher is
// never dropped.
func TestTLSSlowConsumer(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	s := natstest.StartCanopy(t, fmt.Sprintf("max_pending: 4MB\ntls { cert_file: %q, key_file: %q }", cs.Server.CertFile, cs.Server.KeyFile))
	addr := s.ClientAddr().String()
	ca := nats.RootCAs(cs.CA.CertFile)

	// The slow one: TLS by hand, a SUB, then never a read.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := readLine(nc); err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(nc, &tls.Config{RootCAs: cs.Pool(), ServerName: "127.0.0.1"})
	if _, err := io.WriteString(tc, "CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := readLine(tc); err != nil || line != "PONG" {
		t.Fatalf("slow subscriber: %q %v", line, err)
	}

	var dropped atomic.Bool
	fc := tlsConnect(t, addr, ca)
	pc := tlsConnect(t, addr, ca, nats.DisconnectErrHandler(func(*nats.Conn, error) { dropped.Store(true) }))
	floodPastSlow(t, s, fc, pc, &dropped)
	// The slow one finds its connection closed once it reads what the
	// kernel still held for it, most likely in the middle of a record.
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, tc); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("slow subscriber: %v", err)
	}
}

// readLine reads one CRLF line from r a byte at a time (so nothing after
// it is consumed) and returns it without the CRLF.
func readLine(r io.Reader) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for len(b) < 64<<10 {
		if _, err := r.Read(one); err != nil {
			return string(b), err
		}
		b = append(b, one[0])
		if n := len(b); n >= 2 && b[n-2] == '\r' && b[n-1] == '\n' {
			return string(b[:n-2]), nil
		}
	}
	return string(b), errors.New("line too long")
}
