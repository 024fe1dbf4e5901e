package leaf_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// permsHub is scenario 12's hub: the leaf's user may publish up.> and
// subscribe down.>; admin may do anything.
const permsHub = `
authorization {
  users = [
    { user: leafu, password: pw, permissions: { publish: ["up.>"], subscribe: ["down.>"] } }
    { user: admin, password: pw }
  ]
}
`

// TestLeafPermissions checks, for each pairing, that the link carries only
// what the leaf's user may publish (leaf to hub) and subscribe (hub to
// leaf), and that the leaf filters so the hub never has to disconnect it.
func TestLeafPermissions(t *testing.T) {
	t.Parallel()
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			hub, lf := hubLeaf(t, p, permsHub, "", "", "leafu:pw")
			hc := connect(t, hub, "admin:pw")
			lc := connect(t, lf, "")
			testLinkPermissions(t, hub, lf, hc, lc)
		})
	}
}

// testLinkPermissions checks a link made by a user allowed to publish up.>
// and subscribe down.>: hc is a client of the hub allowed everything, lc a
// client of the leaf.
func testLinkPermissions(t *testing.T, hub, lf server, hc, lc *nats.Conn) {
	t.Helper()
	ids := linkIDs(hub)
	hubAll, _ := subscribe(t, hc, ">", "")
	for _, s := range []string{"up.a", "down.b", "other"} {
		subscribe(t, hc, s, "")
	}
	t.Run("hub-interest-filtered", func(t *testing.T) {
		// Only what the leaf may publish is asked of it; a wildcard
		// that could overlap passes.
		subscribe(t, hc, "up.sentinel", "")
		waitSub(t, lf, "up.sentinel", true)
		if got, want := linkSubs(lf), []string{">", "up.a", "up.sentinel"}; !slices.Equal(got, want) {
			t.Fatalf("leaf was asked for %q, want %q", got, want)
		}
	})
	t.Run("leaf-publish-filtered", func(t *testing.T) {
		waitSub(t, lf, ">", true)
		publish(t, lc, "down.q", "no")
		publish(t, lc, "other.q", "no")
		publish(t, lc, "up.x", "yes")
		flush(t, lc)
		expect(t, hubAll, "up.x", "yes")
	})
	t.Run("hub-delivery-filtered", func(t *testing.T) {
		leafAll, _ := subscribe(t, lc, ">", "")
		waitSub(t, hub, ">", true)
		in := inMsgs(lf)
		publish(t, hc, "other.c", "no")
		publish(t, hc, "up.c", "no")
		publish(t, hc, "down.c", "yes")
		flush(t, hc)
		expect(t, leafAll, "down.c", "yes")
		checkInMsgs(t, lf, in, 1, "leaf's link traffic")
	})
	t.Run("leaf-sub-outside-import", func(t *testing.T) {
		subscribe(t, lc, "other.x", "")
		subscribe(t, lc, "down.sentinel", "")
		waitSub(t, hub, "down.sentinel", true)
		if hasSub(hub, "other.x") {
			t.Fatalf("leaf advertised other.x, outside its import list")
		}
	})
	if got := linkIDs(hub); !slices.Equal(got, ids) {
		t.Fatalf("hub's leaf links went from %v to %v: the link was dropped", ids, got)
	}
	if n := hub.Log().count("Violation"); n != 0 {
		t.Fatalf("hub logged %d permission violations", n)
	}
}

// TestLeafDenyImportsExports is scenario 13: deny_imports and deny_exports
// on the leaf's remote, in each pairing.
func TestLeafDenyImportsExports(t *testing.T) {
	t.Parallel()
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			hub, lf := hubLeaf(t, p, "", "", `deny_imports: ["di.>"], deny_exports: ["de.>"]`, "")
			hc := connect(t, hub, "")
			lc := connect(t, lf, "")

			t.Run("exports", func(t *testing.T) {
				hubAll, _ := subscribe(t, hc, ">", "")
				waitSub(t, lf, ">", true)
				in := inMsgs(hub)
				publish(t, lc, "de.x", "no")
				publish(t, lc, "ok.x", "yes")
				flush(t, lc)
				expect(t, hubAll, "ok.x", "yes")
				checkInMsgs(t, hub, in, 1, "hub's link traffic")
			})
			t.Run("imports-literal", func(t *testing.T) {
				denied, _ := subscribe(t, lc, "di.x", "")
				allowed, _ := subscribe(t, lc, "ok.y", "")
				waitSub(t, hub, "ok.y", true)
				if hasSub(hub, "di.x") {
					t.Fatalf("leaf advertised di.x, which it denies importing")
				}
				publish(t, hc, "di.x", "no")
				publish(t, hc, "ok.y", "yes")
				flush(t, hc)
				expect(t, allowed, "ok.y", "yes")
				expectNone(t, denied, "denied import")
			})
			t.Run("imports-wildcard", func(t *testing.T) {
				// A wildcard is advertised, and the hub must filter with the
				// deny_pub the leaf sent in its CONNECT.
				leafAll, _ := subscribe(t, lc, ">", "")
				waitSub(t, hub, ">", true)
				in := inMsgs(lf)
				publish(t, hc, "di.z", "no")
				publish(t, hc, "ok.z", "yes")
				flush(t, hc)
				expect(t, leafAll, "ok.z", "yes")
				checkInMsgs(t, lf, in, 1, "leaf's link traffic (more means the hub ignored deny_pub)")
			})
		})
	}
}

// rawLeaf is a leaf link spoken by hand, to see what a hub does with a
// misbehaving peer.
type rawLeaf struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	// patience is how long line waits for one line; 0 means 5 s.
	patience time.Duration
}

func dialRawLeaf(t testing.TB, s server) *rawLeaf {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.LeafPort()), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawLeaf{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// line reads one protocol line, without its CRLF; "" at EOF.
func (r *rawLeaf) line() string {
	r.t.Helper()
	d := r.patience
	if d == 0 {
		d = 5 * time.Second
	}
	_ = r.conn.SetReadDeadline(time.Now().Add(d))
	s, err := r.r.ReadString('\n')
	if err != nil && s == "" {
		return ""
	}
	return strings.TrimRight(s, "\r\n")
}

// until reads lines until one starts with prefix, and returns it.
func (r *rawLeaf) until(prefix string) string {
	r.t.Helper()
	for i := 0; i < 200; i++ {
		l := r.line()
		if strings.HasPrefix(l, prefix) {
			return l
		}
		if l == "" {
			r.t.Fatalf("connection ended before %q", prefix)
		}
	}
	r.t.Fatalf("no %q in 200 lines", prefix)
	return ""
}

func (r *rawLeaf) send(s string) {
	r.t.Helper()
	if _, err := r.conn.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// closed waits for the peer to close, failing after 5 s.
func (r *rawLeaf) closed() {
	r.t.Helper()
	for i := 0; i < 1000; i++ {
		if r.line() == "" {
			return
		}
	}
	r.t.Fatal("connection still open")
}

// handshake reads the hub's INFO, sends CONNECT and returns the
// connect-info INFO.
func (r *rawLeaf) handshake(connect string) map[string]any {
	r.t.Helper()
	r.until("INFO ")
	r.send("CONNECT " + connect + "\r\n")
	l := r.until("INFO ")
	var info map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "INFO ")), &info); err != nil {
		r.t.Fatalf("connect-info INFO: %v", err)
	}
	return info
}

// TestLeafHubEnforcesPermissions speaks to each kind of hub as a leaf that
// ignores its import/export lists: the hub must announce the lists, refuse
// a literal LS+ outside the import list and an LMSG outside the export
// list, and accept a wildcard LS+.
func TestLeafHubEnforcesPermissions(t *testing.T) {
	t.Parallel()
	const connectJSON = `{"name":"raw","user":"leafu","pass":"pw","headers":true,"version":"2.15.2","remote_account":"$G"}`
	for _, k := range []kind{canopyKind, natsKind} {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			hub := start(t, k, "leafnodes { listen: \"127.0.0.1:-1\" }\n"+permsHub)
			hc := connect(t, hub, "admin:pw")
			for _, s := range []string{"up.a", "down.b", "other", ">"} {
				subscribe(t, hc, s, "")
			}
			t.Run("lists", func(t *testing.T) {
				r := dialRawLeaf(t, hub)
				info := r.handshake(connectJSON)
				// The initial interest is what the leaf may publish, or a
				// wildcard that could overlap it.
				var subs []string
				r.send("PING\r\n")
				for l := r.until(""); l != "PONG"; l = r.until("") {
					if strings.HasPrefix(l, "LS+ ") && !strings.HasPrefix(l, "LS+ $") {
						subs = append(subs, strings.TrimPrefix(l, "LS+ "))
					}
				}
				slices.Sort(subs)
				if want := []string{">", "up.a"}; !slices.Equal(subs, want) {
					t.Fatalf("initial LS+ %q, want %q", subs, want)
				}
				// So are later ones.
				subscribe(t, hc, "down.later", "")
				subscribe(t, hc, "up.later", "")
				if l := r.until("LS+ "); l != "LS+ up.later" {
					t.Fatalf("got %q, want LS+ up.later", l)
				}
				imp, _ := json.Marshal(info["import"])
				exp, _ := json.Marshal(info["export"])
				if string(imp) != `{"allow":["down.\u003e"]}` || string(exp) != `{"allow":["up.\u003e"]}` {
					t.Fatalf("import %s export %s", imp, exp)
				}
				if info["remote_account"] != "$G" || info["connect_info"] != true {
					t.Fatalf("connect-info INFO %v", info)
				}
				r.send("LS+ other.*\r\nLS+ down.>\r\nLS+ down.ok\r\nPING\r\n")
				r.until("PONG")
			})
			t.Run("literal-sub", func(t *testing.T) {
				r := dialRawLeaf(t, hub)
				r.handshake(connectJSON)
				r.send("LS+ other.x\r\n")
				if l := r.until("-ERR"); l != `-ERR 'Permissions Violation for Subscription to "other.x"'` {
					t.Fatalf("got %q", l)
				}
				r.closed()
				hub.Log().wait(t, `Subscription Violation on "other.x"`, 5*time.Second)
			})
			t.Run("publish", func(t *testing.T) {
				r := dialRawLeaf(t, hub)
				r.handshake(connectJSON)
				r.send("LMSG down.q 2\r\nhi\r\n")
				if l := r.until("-ERR"); l != `-ERR 'Permissions Violation for Publish to "down.q"'` {
					t.Fatalf("got %q", l)
				}
				r.closed()
				hub.Log().wait(t, `Publish Violation on "down.q"`, 5*time.Second)
			})
		})
	}
}

// TestLeafHubRole runs the permission hub with a remote that asks to be the
// hub (hub: true): the dialling server takes the hub's role, the accepting
// one the spoke's. The accepting side keeps the user's lists swapped, as
// nats-server does, so each side is asked only for what it may send: the
// dialler only for down.>, the acceptor only for up.>.
func TestLeafHubRole(t *testing.T) {
	t.Parallel()
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			acc, dial := hubLeaf(t, p, permsHub, "", "hub: true", "leafu:pw")
			ac, dc := connect(t, acc, "admin:pw"), connect(t, dial, "")
			ids := linkIDs(acc)
			accUp, _ := subscribe(t, ac, "up.a", "")
			for _, s := range []string{"down.a", "other.a"} {
				subscribe(t, ac, s, "")
				subscribe(t, dc, s, "")
			}
			dialUp, _ := subscribe(t, dc, "up.a", "")
			subscribe(t, ac, "up.sentinel", "")
			subscribe(t, dc, "down.sentinel", "")
			waitSub(t, acc, "down.sentinel", true)
			waitSub(t, dial, "up.sentinel", true)
			if got, want := linkSubs(acc), []string{"down.a", "down.sentinel"}; !slices.Equal(got, want) {
				t.Errorf("the dialler asked for %v, want %v", got, want)
			}
			if got, want := linkSubs(dial), []string{"up.a", "up.sentinel"}; !slices.Equal(got, want) {
				t.Errorf("the acceptor asked for %v, want %v", got, want)
			}
			// The dialler may send up.>, and only that crosses.
			for _, s := range []string{"other.a", "down.a", "up.a"} {
				publish(t, dc, s, "from dialler")
			}
			flush(t, dc)
			expect(t, dialUp, "up.a", "from dialler")
			expect(t, accUp, "up.a", "from dialler")
			if got := linkIDs(acc); !slices.Equal(got, ids) {
				t.Fatalf("links went from %v to %v", ids, got)
			}
		})
	}
}
