package loop_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/loop"
)

// reloadConf is the configuration under test: users with permissions and
// one leaf remote. Bob's permissions, whether carol exists and the
// remote's port change between versions.
func reloadConf(bobPerms string, leafPort int, extra string) string {
	carol := "{ user: carol, password: c }"
	if bobPerms == bobAfter {
		carol = ""
	}
	return fmt.Sprintf(`
listen: "127.0.0.1:-1"
authorization {
  users: [
    { user: alice, password: a }
    { user: bob, password: b, permissions: %s }
    %s
  ]
}
leafnodes {
  remotes [ { url: "nats-leaf://127.0.0.1:%d" } ]
}
%s
`, bobPerms, carol, leafPort, extra)
}

const (
	bobBefore = `{ publish: "bob.>", subscribe: ["bob.>", "shared.>"] }`
	bobAfter  = `{ publish: ["bob.>", "more.>"], subscribe: "bob.>" }`
	hubText   = `
listen: "127.0.0.1:-1"
leafnodes { listen: "127.0.0.1:-1" }
`
)

// rlClient is a nats.go connection whose asynchronous errors, disconnects
// and close are recorded.
type rlClient struct {
	*nats.Conn
	mu     sync.Mutex
	errs   []string
	discon int
	closed chan struct{}
}

func rlConnect(t *testing.T, url, user, pass string) *rlClient {
	t.Helper()
	c := &rlClient{closed: make(chan struct{})}
	nc := natstest.Connect(t, url, nats.UserInfo(user, pass), nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			c.errs = append(c.errs, err.Error())
			c.mu.Unlock()
		}),
		nats.DisconnectErrHandler(func(*nats.Conn, error) {
			c.mu.Lock()
			c.discon++
			c.mu.Unlock()
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) }))
	c.Conn = nc
	return c
}

func (c *rlClient) hasErr(substr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errs {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

func (c *rlClient) disconnects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.discon
}

// rlReload rewrites the configuration file and reloads it, as SIGHUP does.
func rlReload(t *testing.T, s *natstest.Canopy, text string) error {
	t.Helper()
	if err := os.WriteFile(s.ConfigFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, _, err := conf.Load(s.ConfigFile)
	if err != nil {
		return err
	}
	return s.Reload(opts)
}

// rlRecv waits for one message on sub.
func rlRecv(t *testing.T, sub *nats.Subscription, what string) {
	t.Helper()
	if _, err := sub.NextMsg(wait); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// rlNone checks that sub got nothing once the sender's messages have made
// the round trip to the server (the sender flushed, the receiver flushes).
func rlNone(t *testing.T, nc *nats.Conn, sub *nats.Subscription, what string) {
	t.Helper()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(50 * time.Millisecond); err == nil {
		t.Fatalf("%s: got %q on %s", what, m.Data, m.Subject)
	}
}

// TestReload changes a user's permissions, removes a user and moves the
// leaf remote to another hub, and checks each change takes effect while a
// client the change does not concern keeps its connection; then checks
// that refused configurations leave the running one in force.
func TestReload(t *testing.T) {
	hub1 := natstest.StartCanopy(t, hubText)
	hub2 := natstest.StartCanopy(t, hubText)
	s := natstest.StartCanopy(t, reloadConf(bobBefore, hub1.LeafPort(), ""))
	natstest.WaitFor(t, wait, "link to hub1", func() bool { return hub1.NumLeafs() == 1 })

	alice := rlConnect(t, s.ClientURL(), "alice", "a")
	bob := rlConnect(t, s.ClientURL(), "bob", "b")
	carol := rlConnect(t, s.ClientURL(), "carol", "c")
	aliceMore, _ := alice.SubscribeSync("more.>")
	aliceBob, _ := alice.SubscribeSync("bob.>")
	alice.Flush()
	bobOwn, _ := bob.SubscribeSync("bob.x")
	bobShared, _ := bob.SubscribeSync("shared.y")
	bob.Flush()

	// Before: bob may not publish to more.>, and hears shared.y.
	bob.Publish("more.x", []byte("no"))
	rlNone(t, alice.Conn, aliceMore, "more.x before reload")
	natstest.WaitFor(t, wait, "publish violation", func() bool { return bob.hasErr("Permissions Violation for Publish") })
	alice.Publish("shared.y", []byte("1"))
	rlRecv(t, bobShared, "shared.y before reload")

	if err := rlReload(t, s, reloadConf(bobAfter, hub2.LeafPort(), "")); err != nil {
		t.Fatalf("reload: %v", err)
	}

	// Bob's new publish permission works at once, on the same connection.
	bob.Publish("more.x", []byte("yes"))
	bob.Flush()
	rlRecv(t, aliceMore, "more.x after reload")
	// His shared.> subscription went, with the error nats-server sends;
	// bob.x stays.
	natstest.WaitFor(t, wait, "subscription removed", func() bool {
		return bob.hasErr(`Permissions Violation for Subscription to "shared.y"`)
	})
	alice.Publish("shared.y", []byte("2"))
	alice.Publish("bob.x", []byte("3"))
	alice.Flush()
	rlRecv(t, bobOwn, "bob.x after reload")
	rlNone(t, bob.Conn, bobShared, "shared.y after reload")

	// Carol is no longer a user: closed with Authorization Violation.
	select {
	case <-carol.closed:
	case <-time.After(wait):
		t.Fatal("carol still connected")
	}
	if !carol.hasErr("authorization violation") {
		t.Error("carol was not told: Authorization Violation")
	}
	if _, err := nats.Connect(s.ClientURL(), nats.UserInfo("carol", "c")); err == nil {
		t.Error("carol can still connect")
	}

	// The remote moved from hub1 to hub2.
	natstest.WaitFor(t, wait, "link moved to hub2", func() bool { return hub1.NumLeafs() == 0 && hub2.NumLeafs() == 1 })

	// Alice was never disturbed.
	if alice.disconnects() != 0 || bob.disconnects() != 0 || !alice.IsConnected() || !bob.IsConnected() {
		t.Fatalf("disconnects: alice %d bob %d", alice.disconnects(), bob.disconnects())
	}
	bob.Publish("bob.z", []byte("4"))
	bob.Flush()
	rlRecv(t, aliceBob, "alice still receives")

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct{ name, text, want string }{
			{"syntax", "authorization { users: [ { user: ", ""},
			{"unknown no_auth_user", reloadConf(bobBefore, hub1.LeafPort(), "no_auth_user: nobody"), "nobody"},
			{"server name", reloadConf(bobBefore, hub1.LeafPort(), "server_name: other"), "config reload not supported for ServerName"},
			{"client port", strings.Replace(reloadConf(bobBefore, hub1.LeafPort(), ""), "127.0.0.1:-1", "127.0.0.1:1", 1),
				"config reload not supported for Port"},
		} {
			err := rlReload(t, s, tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: reload error %v, want one with %q", tc.name, err, tc.want)
			}
		}
		// Still the second configuration: bob's permissions, no carol,
		// the link on hub2.
		bob.Publish("more.y", []byte("still"))
		bob.Flush()
		rlRecv(t, aliceMore, "more.y after refused reloads")
		if _, err := nats.Connect(s.ClientURL(), nats.UserInfo("carol", "c")); err == nil {
			t.Error("carol came back")
		}
		if hub2.NumLeafs() != 1 || hub1.NumLeafs() != 0 {
			t.Errorf("links: hub1 %d hub2 %d", hub1.NumLeafs(), hub2.NumLeafs())
		}
		if alice.disconnects() != 0 || !alice.IsConnected() {
			t.Error("alice disturbed by refused reloads")
		}
	})
}

// TestReloadLimits lowers max_connections and max_payload: clients over
// the new limit are closed, new connections get the new max_payload.
func TestReloadLimits(t *testing.T) {
	text := func(maxConn int, maxPayload string) string {
		return fmt.Sprintf("listen: \"127.0.0.1:-1\"\nmax_connections: %d\nmax_payload: %s\n", maxConn, maxPayload)
	}
	s := natstest.StartCanopy(t, text(10, "1MB"))
	var cs []*rlClient
	for range 3 {
		cs = append(cs, rlConnect(t, s.ClientURL(), "", ""))
	}
	if err := rlReload(t, s, text(2, "1KB")); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, wait, "one client closed", func() bool {
		n := 0
		for _, c := range cs {
			if c.IsClosed() {
				n++
			}
		}
		return n == 1
	})
	for _, c := range cs {
		if c.IsClosed() && !errors.Is(c.LastError(), nats.ErrMaxConnectionsExceeded) {
			t.Errorf("closed client's error: %v", c.LastError())
		}
	}
	for _, c := range cs {
		if !c.IsClosed() {
			c.Close()
			break
		}
	}
	natstest.WaitFor(t, wait, "room for a client", func() bool { return s.Stats().Connections == 1 })
	nc := natstest.Connect(t, s.ClientURL(), nats.NoReconnect())
	if mp := nc.MaxPayload(); mp != 1024 {
		t.Errorf("new connection's max_payload %d, want 1024", mp)
	}
}

// TestReloadLeafAuthorization removes one of two leafnode users: that
// leaf's link is closed and cannot come back, the other link stays as it
// was (same connection).
func TestReloadLeafAuthorization(t *testing.T) {
	hubConf := func(users string) string {
		return fmt.Sprintf(`
listen: "127.0.0.1:-1"
leafnodes {
  listen: "127.0.0.1:-1"
  authorization { users: [ %s ] }
}
`, users)
	}
	both := `{user: l1, password: p1}, {user: l2, password: p2}`
	hub := natstest.StartCanopy(t, hubConf(both))
	spoke := func(user, pass string) string {
		return fmt.Sprintf("listen: \"127.0.0.1:-1\"\nleafnodes { remotes [ { url: \"nats-leaf://%s:%s@127.0.0.1:%d\" } ] }\n",
			user, pass, hub.LeafPort())
	}
	natstest.StartCanopy(t, spoke("l1", "p1"))
	natstest.StartCanopy(t, spoke("l2", "p2"))
	natstest.WaitFor(t, wait, "two links", func() bool { return hub.NumLeafs() == 2 })
	leafCIDs := func() map[string]uint64 {
		infos, err := hub.Conns(loop.ConnsOptions{Open: true})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]uint64{}
		for _, ci := range infos {
			if ci.Leaf != nil {
				m[ci.User] = ci.CID
			}
		}
		return m
	}
	before := leafCIDs()
	if err := rlReload(t, hub, hubConf(`{user: l2, password: p2}`)); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, wait, "l1's link closed", func() bool { return hub.NumLeafs() == 1 })
	after := leafCIDs()
	if after["l2"] == 0 || after["l2"] != before["l2"] || after["l1"] != 0 {
		t.Fatalf("links before %v, after %v", before, after)
	}
	// l1's remote keeps dialling and keeps being refused.
	infos, _ := hub.Conns(loop.ConnsOptions{Closed: true})
	refused := 0
	for _, ci := range infos {
		if ci.Leaf != nil && ci.Reason == "Authentication Failure" {
			refused++
		}
	}
	if refused == 0 {
		t.Error("l1's link was not closed for its credentials")
	}
	if hub.NumLeafs() != 1 {
		t.Errorf("%d links", hub.NumLeafs())
	}
}

// TestReloadMaxPayloadExisting: a lower max_payload applies to connections
// already open, as nats-server's reload updates every client.
func TestReloadMaxPayloadExisting(t *testing.T) {
	text := func(maxPayload string) string {
		return fmt.Sprintf("listen: \"127.0.0.1:-1\"\nmax_payload: %s\n", maxPayload)
	}
	s := natstest.StartCanopy(t, text("1MB"))
	c := dialRaw(t, s.ClientAddr().String())
	c.connect(quiet)
	c.send("PUB x 2000\r\n" + strings.Repeat("a", 2000) + "\r\nPING\r\n")
	c.expect("PONG\r\n")
	if err := rlReload(t, s, text("1KB")); err != nil {
		t.Fatal(err)
	}
	c.send("PUB x 2000\r\n" + strings.Repeat("a", 2000) + "\r\n")
	if got := c.closed(); got != "-ERR 'Maximum Payload Violation'\r\n" {
		t.Fatalf("after the reload: got %q", got)
	}
}
