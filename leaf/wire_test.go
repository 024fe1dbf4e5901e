package leaf_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestLeafWrongPort is scenario 18: a client dialling a leafnode port is
// told so, and a remote dialling a client port gives up on it, whichever
// kind of server is at each end.
func TestLeafWrongPort(t *testing.T) {
	t.Parallel()
	for _, k := range []kind{canopyKind, natsKind} {
		t.Run("client-to-leaf-port/"+k.String(), func(t *testing.T) {
			t.Parallel()
			s := start(t, k, hubConfig("hub"))
			nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", s.LeafPort()), nats.Timeout(5*time.Second))
			if err == nil {
				nc.Close()
				t.Fatal("a client connected to the leafnode port")
			}
			if !strings.Contains(err.Error(), "attempted to connect to leaf node port") {
				t.Fatalf("error %q", err)
			}
		})
	}
	for _, p := range pairings {
		t.Run("remote-to-client-port/"+p.name, func(t *testing.T) {
			t.Parallel()
			hub := start(t, p.hub, hubConfig("hub"))
			url := strings.Replace(hub.URL(), "nats://", "nats-leaf://", 1)
			lf := start(t, p.leaf, leafConfig("leaf", false, fmt.Sprintf("url: %q", url)))
			// The remote keeps trying; two refusals show it is not a fluke.
			lf.Log().waitCount(t, "attempted to connect to wrong port", 2, 5*time.Second)
			if n := len(lf.Links()) + len(hub.Links()); n != 0 {
				t.Fatalf("%d leaf links over a client port", n)
			}
		})
	}
}

// TestLeafStale is scenario 17 from the hub's side: a leaf that never
// answers PING is closed as stale once ping_max pings are outstanding.
func TestLeafStale(t *testing.T) {
	t.Parallel()
	for _, k := range []kind{canopyKind, natsKind} {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			hub := start(t, k, hubConfig("hub")+"ping_interval: \"100ms\"\nping_max: 2\n")
			r := dialRawLeaf(t, hub)
			r.handshake(`{"name":"deaf","headers":true,"version":"2.15.2","remote_account":"$G"}`)
			began := time.Now()
			pings := 0
			for i := 0; i < 100; i++ {
				l := r.line()
				if l == "PING" {
					pings++
				}
				if strings.HasPrefix(l, "-ERR") {
					if l != "-ERR 'Stale Connection'" {
						t.Fatalf("got %q", l)
					}
					break
				}
				if l == "" {
					t.Fatalf("closed without -ERR after %d pings", pings)
				}
			}
			if pings != 2 {
				t.Errorf("%d pings before the stale error, want ping_max 2", pings)
			}
			r.closed()
			t.Logf("stale after %v", time.Since(began))
		})
	}
}

// fakeHub accepts one leaf connection and speaks the hub's side of the
// handshake by hand.
type fakeHub struct {
	ln net.Listener
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeHub{ln: ln}
}

func (h *fakeHub) url() string { return "nats-leaf://" + h.ln.Addr().String() }

// accept takes the leaf's connection, reads its CONNECT and completes the
// handshake; it returns the connection and the CONNECT.
func (h *fakeHub) accept(t *testing.T) (*rawLeaf, map[string]any) {
	t.Helper()
	r, connect, info := h.greet(t)
	r.send("INFO " + strings.TrimSuffix(info, "}") + `,"connect_info":true,"remote_account":"$G"}` + "\r\n")
	return r, connect
}

// greet takes the leaf's connection, sends the hub's INFO and reads the
// CONNECT, short of the INFO with the connect info that would complete the
// handshake; it returns the connection, the CONNECT and the INFO sent.
func (h *fakeHub) greet(t *testing.T) (*rawLeaf, map[string]any, string) {
	t.Helper()
	if tl, ok := h.ln.(*net.TCPListener); ok {
		_ = tl.SetDeadline(time.Now().Add(5 * time.Second))
	}
	conn, err := h.ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r := &rawLeaf{t: t, conn: conn, r: bufio.NewReader(conn)}
	info := `{"server_id":"NFAKEHUB","server_name":"fakehub","version":"2.15.2","proto":1,"headers":true,` +
		`"auth_required":true,"max_payload":1048576,"client_id":7,"nonce":"abcdefghijklmno","info_on_connect":true}`
	r.send("INFO " + info + "\r\n")
	l := r.until("CONNECT ")
	var connect map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "CONNECT ")), &connect); err != nil {
		t.Fatal(err)
	}
	return r, connect, info
}

// TestLeafAnswersPings is scenario 17 from the leaf's side: a leaf answers
// every PING from its hub, and pings the hub itself.
func TestLeafAnswersPings(t *testing.T) {
	t.Parallel()
	for _, k := range []kind{canopyKind, natsKind} {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			start(t, k, leafConfig("leaf", false, fmt.Sprintf("url: %q", hub.url())))
			r, connect := hub.accept(t)
			if connect["compress_mode"] != nil && connect["compress_mode"] != "not supported" && connect["compress_mode"] != "off" {
				t.Errorf("compress_mode %v", connect["compress_mode"])
			}
			for i := 0; i < 3; i++ {
				r.send("PING\r\n")
				r.until("PONG")
			}
			// The leaf's own first PING comes about a second after the link.
			r.until("PING")
		})
	}
}

// TestLeafDuplicate connects the same leaf (same name, cluster and remote
// account) twice to each kind of hub: the newer link replaces the older,
// which gets -ERR 'Duplicate Remote LeafNode Connection'. When both arrive
// at once, on different event loops, they must still see each other.
func TestLeafDuplicate(t *testing.T) {
	t.Parallel()
	const twin = `{"name":"twin","cluster":"twin","headers":true,"version":"2.15.2","remote_account":"$G"}`
	for _, k := range []kind{canopyKind, natsKind} {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			hub := start(t, k, hubConfig("hub"))
			t.Run("sequential", func(t *testing.T) {
				r1 := dialRawLeaf(t, hub)
				r1.handshake(twin)
				r2 := dialRawLeaf(t, hub)
				r2.handshake(twin)
				if l := r1.until("-ERR"); l != "-ERR 'Duplicate Remote LeafNode Connection'" {
					t.Fatalf("older link got %q", l)
				}
				r1.closed()
				r2.send("PING\r\n")
				r2.until("PONG")
				waitLinks(t, hub, 1)
				r2.conn.Close()
				waitLinks(t, hub, 0)
			})
			t.Run("concurrent", func(t *testing.T) {
				for i := 0; i < 10; i++ {
					r1, r2 := dialRawLeaf(t, hub), dialRawLeaf(t, hub)
					r1.until("INFO ")
					r2.until("INFO ")
					r1.send("CONNECT " + twin + "\r\n")
					r2.send("CONNECT " + twin + "\r\n")
					// Both links were made; one replaced the other.
					hub.Log().waitCount(t, "Replacing connection from same server", i+2, 5*time.Second)
					waitLinks(t, hub, 1)
					r1.conn.Close()
					r2.conn.Close()
					waitLinks(t, hub, 0)
				}
			})
		})
	}
}

// TestLeafCompressionDeclined is scenario 11: with both sides configured
// for s2_best, a link with Canopy on either end comes up uncompressed and
// carries traffic, since Canopy neither offers nor accepts compression.
func TestLeafCompressionDeclined(t *testing.T) {
	t.Parallel()
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			hub := start(t, p.hub, "server_name: hub\nleafnodes { listen: \"127.0.0.1:-1\", compression: s2_best }\n")
			lf := start(t, p.leaf, leafConfig("leaf", false, remoteTo(hub)+", compression: s2_best"))
			waitLinks(t, hub, 1)
			waitLinks(t, lf, 1)
			hc, lc := connect(t, hub, ""), connect(t, lf, "")
			down, _ := subscribe(t, lc, "z.down", "")
			up, _ := subscribe(t, hc, "z.up", "")
			waitSub(t, hub, "z.down", true)
			waitSub(t, lf, "z.up", true)
			publish(t, hc, "z.down", "d")
			publish(t, lc, "z.up", "u")
			flush(t, hc)
			flush(t, lc)
			expect(t, down, "z.down", "d")
			expect(t, up, "z.up", "u")
			closed := 0
			for _, s := range []server{hub, lf} {
				closed += s.Log().count("Leafnode connection closed") + s.Log().count("Leafnode connection to")
			}
			if closed != 0 {
				t.Fatalf("%d links closed on the way", closed)
			}
		})
	}
}

// TestLeafAuthorization checks how each kind of hub treats a leaf that
// does not authenticate: a wrong token keeps the link down, with the
// leaf retrying; a first op other than CONNECT, and silence, are refused
// with nats-server's texts.
func TestLeafAuthorization(t *testing.T) {
	t.Parallel()
	const hubConf = "server_name: hub\nauthorization { token: s3cr3t }\n" +
		"leafnodes { listen: \"127.0.0.1:-1\", authorization { timeout: 0.5 } }\n"
	for _, p := range pairings {
		t.Run("wrong-token/"+p.name, func(t *testing.T) {
			t.Parallel()
			hub := start(t, p.hub, hubConf)
			lf := start(t, p.leaf, leafConfig("leaf", false, fmt.Sprintf("url: %q", leafURL(hub, "wrong"))))
			lf.Log().waitCount(t, "Authorization Violation", 2, 5*time.Second)
			if n := len(hub.Links()) + len(lf.Links()); n != 0 {
				t.Fatalf("%d links with a wrong token", n)
			}
		})
	}
	for _, k := range []kind{canopyKind, natsKind} {
		t.Run("raw/"+k.String(), func(t *testing.T) {
			t.Parallel()
			hub := start(t, k, hubConf)
			r := dialRawLeaf(t, hub)
			r.until("INFO ")
			r.send("LS+ foo\r\n")
			if l := r.until("-ERR"); l != "-ERR 'Authorization Violation'" {
				t.Fatalf("LS+ before CONNECT: %q", l)
			}
			r.closed()
			r = dialRawLeaf(t, hub)
			r.until("INFO ")
			if l := r.until("-ERR"); l != "-ERR 'Authentication Timeout'" {
				t.Fatalf("silent leaf: %q", l)
			}
			r.closed()
		})
	}
}

// TestLeafConnectInfoTimeout: a hub that promises a connect-info INFO
// (info_on_connect) and never sends it is given up on after 2 s with
// nats-server's -ERR, by a leaf of either kind.
func TestLeafConnectInfoTimeout(t *testing.T) {
	t.Parallel()
	for _, k := range []kind{canopyKind, natsKind} {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t)
			start(t, k, leafConfig("leaf", false, fmt.Sprintf("url: %q", hub.url())))
			if tl, ok := hub.ln.(*net.TCPListener); ok {
				_ = tl.SetDeadline(time.Now().Add(5 * time.Second))
			}
			conn, err := hub.ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			r := &rawLeaf{t: t, conn: conn, r: bufio.NewReader(conn)}
			r.send(`INFO {"server_id":"NFAKEHUB","server_name":"fakehub","version":"2.15.2","proto":1,` +
				`"headers":true,"auth_required":true,"max_payload":1048576,"client_id":7,"nonce":"abc","info_on_connect":true}` + "\r\n")
			r.until("CONNECT ")
			began := time.Now()
			if l := r.until("-ERR"); l != "-ERR 'Stale Leaf Node Connection - Closing'" {
				t.Fatalf("got %q", l)
			}
			if d := time.Since(began); d < 1500*time.Millisecond || d > 3500*time.Millisecond {
				t.Errorf("gave up after %v, want about 2s", d)
			}
			r.closed()
		})
	}
}
