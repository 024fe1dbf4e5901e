package loop_test

import (
	"crypto/x509/pkix"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/internal/testcert"
	"github.com/canopy-nats/canopy/loop"
)

// TestWebsocketOrigin: same_origin and allowed_origins refuse other
// origins with 403, and let requests without an Origin through.
func TestWebsocketOrigin(t *testing.T) {
	cfg := `
listen: "127.0.0.1:-1"
websocket { listen: "127.0.0.1:-1", no_tls: true, allowed_origins: ["http://good.example:8080", "https://secure.example"] }
`
	wsServers(t, cfg, func(t *testing.T, ws, _ string) {
		for _, tc := range []struct {
			origin string
			status int
		}{
			{"", 101},
			{"http://good.example:8080", 101},
			{"https://secure.example", 101},
			{"https://secure.example:443", 101},
			{"http://good.example", 403},
			{"http://evil.example:8080", 403},
			{"https://good.example:8080", 403},
		} {
			var extra []string
			if tc.origin != "" {
				extra = append(extra, "Origin: "+tc.origin)
			}
			_, resp := wsDialRaw(t, ws, wsUpgradeRequest("/", extra...))
			if resp.StatusCode != tc.status {
				t.Errorf("origin %q: %d, want %d", tc.origin, resp.StatusCode, tc.status)
			}
		}
	})
	same := `
listen: "127.0.0.1:-1"
websocket { listen: "127.0.0.1:-1", no_tls: true, same_origin: true }
`
	wsServers(t, same, func(t *testing.T, ws, _ string) {
		port := ws[strings.LastIndexByte(ws, ':')+1:]
		for _, tc := range []struct {
			host, origin string
			status       int
		}{
			{"127.0.0.1:" + port, "http://127.0.0.1:" + port, 101},
			{"127.0.0.1:" + port, "http://127.0.0.1:1", 403},
			{"127.0.0.1:" + port, "https://127.0.0.1:" + port, 403},
		} {
			req := strings.Replace(wsUpgradeRequest("/", "Origin: "+tc.origin), "Host: 127.0.0.1", "Host: "+tc.host, 1)
			_, resp := wsDialRaw(t, ws, req)
			if resp.StatusCode != tc.status {
				t.Errorf("origin %q: %d, want %d", tc.origin, resp.StatusCode, tc.status)
			}
		}
	})
}

// TestWebsocketAuthorization: the block's own user applies to websocket
// clients only; TCP clients keep the top-level token.
func TestWebsocketAuthorization(t *testing.T) {
	cfg := `
listen: "127.0.0.1:-1"
authorization { token: tcptoken }
websocket {
  listen: "127.0.0.1:-1", no_tls: true
  authorization { user: wsuser, password: wspass }
}
`
	wsServers(t, cfg, func(t *testing.T, ws, tcp string) {
		nc := connect(t, "ws://"+ws, nats.UserInfo("wsuser", "wspass"))
		flush(t, nc)
		if _, err := nats.Connect("ws://"+ws, nats.Token("tcptoken"), nats.NoReconnect()); err == nil {
			t.Fatal("websocket client with the TCP token connected")
		}
		if _, err := nats.Connect(tcp, nats.UserInfo("wsuser", "wspass"), nats.NoReconnect()); err == nil {
			t.Fatal("TCP client with the websocket user connected")
		}
		tc := connect(t, tcp, nats.Token("tcptoken"))
		flush(t, tc)
	})
	// The block's no_auth_user: websocket clients without credentials are
	// that user, with its permissions.
	noAuth := `
listen: "127.0.0.1:-1"
authorization { users: [
  { user: a, password: a }
  { user: ro, password: ro, permissions: { publish: { deny: ">" } } }
] }
websocket { listen: "127.0.0.1:-1", no_tls: true, no_auth_user: ro }
`
	wsServers(t, noAuth, func(t *testing.T, ws, tcp string) {
		errs := make(chan error, 1)
		nc := natstest.Connect(t, "ws://"+ws, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
		nc.Publish("x", nil)
		flush(t, nc)
		select {
		case err := <-errs:
			if !strings.Contains(err.Error(), "Permissions Violation") {
				t.Fatalf("error %v", err)
			}
		case <-time.After(wait):
			t.Fatal("no permissions violation")
		}
		if _, err := nats.Connect(tcp, nats.NoReconnect()); err == nil {
			t.Fatal("TCP client without credentials connected")
		}
	})
}

// TestWebsocketCookies: credentials in the upgrade's cookies stand in for
// those CONNECT leaves out.
func TestWebsocketCookies(t *testing.T) {
	cfg := `
listen: "127.0.0.1:-1"
authorization { users: [ { user: cu, password: cp } ] }
websocket { listen: "127.0.0.1:-1", no_tls: true, user_cookie: u, pass_cookie: p }
`
	wsServers(t, cfg, func(t *testing.T, ws, _ string) {
		c := wsDial(t, ws, "Cookie: u=cu; p=cp")
		c.frame(0x82, []byte("CONNECT {\"verbose\":false}\r\nPING\r\n"), true)
		if got := c.text("PONG\r\n"); got != "PONG\r\n" {
			t.Fatalf("got %q", got)
		}
		bad := wsDial(t, ws, "Cookie: u=cu; p=wrong")
		bad.frame(0x82, []byte("CONNECT {\"verbose\":false}\r\nPING\r\n"), true)
		if got := bad.text("\r\n"); !strings.Contains(got, "Authorization Violation") {
			t.Fatalf("got %q", got)
		}
	})
}

// TestWebsocketTLS: wss with nats.go, and TCP clients alongside.
func TestWebsocketTLS(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	cfg := fmt.Sprintf(`
listen: "127.0.0.1:-1"
websocket { listen: "127.0.0.1:-1", compression: true, tls { cert_file: %q, key_file: %q } }
`, cs.Server.CertFile, cs.Server.KeyFile)
	wsServers(t, cfg, func(t *testing.T, ws, tcp string) {
		wc := connect(t, "wss://"+ws, nats.RootCAs(cs.CA.CertFile), nats.Compression(true))
		tc := connect(t, tcp)
		sub, err := wc.SubscribeSync("x")
		if err != nil {
			t.Fatal(err)
		}
		flush(t, wc)
		big := []byte(strings.Repeat("abc", 300000))
		for i := 0; i < 100; i++ {
			tc.Publish("x", []byte(strconv.Itoa(i)))
		}
		tc.Publish("x", big)
		for i := 0; i < 100; i++ {
			if m := next(t, sub); string(m.Data) != strconv.Itoa(i) {
				t.Fatalf("message %d: %q", i, m.Data)
			}
		}
		if m := next(t, sub); string(m.Data) != string(big) {
			t.Fatalf("big: %d bytes", len(m.Data))
		}
		if _, err := nats.Connect("ws://"+ws, nats.NoReconnect()); err == nil {
			t.Fatal("plaintext websocket client connected to a TLS listener")
		}
	})
}

// TestWebsocketConnz: /connz says websocket for websocket clients.
func TestWebsocketConnz(t *testing.T) {
	s := natstest.StartCanopy(t, wsPlain)
	wc := connect(t, "ws://"+s.WSHostPort(), nats.Name("wsc"))
	flush(t, wc)
	tc := connect(t, s.ClientURL(), nats.Name("tcpc"))
	flush(t, tc)
	conns, err := s.Conns(loop.ConnsOptions{Open: true})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range conns {
		types[c.Name] = c.Kind + "/" + c.Type
	}
	if types["wsc"] != "Client/websocket" || types["tcpc"] != "Client/nats" {
		t.Fatalf("types %v", types)
	}
}

// TestWebsocketVerifyAndMap: the websocket listener's verify_and_map maps
// a wss client's certificate to a user, while the client port (without a
// tls block) knows nothing of certificates.
func TestWebsocketVerifyAndMap(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	bob := cs.Issue(t, "bob", testcert.Spec{Subject: pkix.Name{CommonName: "bob"}, EmailAddresses: []string{"bob@example.com"}})
	cfg := fmt.Sprintf(`
listen: "127.0.0.1:-1"
authorization { users = [ { user: "bob@example.com", permissions: { publish: "b.>", subscribe: ">" } }, { user: tcp, password: tcp } ] }
websocket { listen: "127.0.0.1:-1", tls { cert_file: %q, key_file: %q, ca_file: %q, verify_and_map: true } }
`, cs.Server.CertFile, cs.Server.KeyFile, cs.CA.CertFile)
	wsServers(t, cfg, func(t *testing.T, ws, tcp string) {
		errs := make(chan error, 4)
		nc := natstest.Connect(t, "wss://"+ws, nats.RootCAs(cs.CA.CertFile), nats.ClientCert(bob.CertFile, bob.KeyFile),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
		nc.Publish("c.no", nil)
		flush(t, nc)
		select {
		case err := <-errs:
			if !strings.Contains(err.Error(), `Permissions Violation for Publish to "c.no"`) {
				t.Fatalf("error %v", err)
			}
		case <-time.After(wait):
			t.Fatal("bob published outside b.>: not mapped to his user")
		}
		if _, err := nats.Connect("wss://"+ws, nats.RootCAs(cs.CA.CertFile), nats.NoReconnect()); err == nil {
			t.Fatal("a wss client without a certificate connected")
		}
		tc := connect(t, tcp, nats.UserInfo("tcp", "tcp"))
		flush(t, tc)
	})
}
