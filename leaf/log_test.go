package leaf_test

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// connLine is one log line about a connection, split into nats-server's
// fields: "[LVL] host:port - lid:N - text".
type connLine struct {
	level, host, port, tag, id, text string
}

var connLineRE = regexp.MustCompile(`^\[([A-Z]{3})\] ([^ ]+):(\d+) - ([a-z]+):(\d+) - (.*)$`)

// jsOnlyLine marks the lines nats-server writes about JetStream, which
// Canopy has not: it logs "JetStream using domains" on every leaf link,
// with JetStream configured or not.
const jsOnlyLine = "JetStream "

// connLines is what s logged about its connections, by connection id in
// the order the ids first appear. Lines that are not about a connection,
// JetStream's, and debug and trace lines are left out.
func connLines(t *testing.T, s server) (ids []string, byID map[string][]connLine) {
	t.Helper()
	byID = map[string][]connLine{}
	for _, l := range s.Log().Lines() {
		m := connLineRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		cl := connLine{level: m[1], host: m[2], port: m[3], tag: m[4], id: m[5], text: m[6]}
		// What an operator sees by default is compared: nats-server runs
		// here without debug, where Canopy's sink takes every level.
		if strings.HasPrefix(cl.text, jsOnlyLine) || cl.level == "DBG" || cl.level == "TRC" {
			continue
		}
		if _, ok := byID[cl.id]; !ok {
			ids = append(ids, cl.id)
		}
		byID[cl.id] = append(byID[cl.id], cl)
	}
	return ids, byID
}

// logRun is one run of the log scenario: the lines of the hub about the
// good link, the first refused one, one that timed out, a client refused
// for its password and a client on the leafnode port; of the good leaf,
// of the refused leaf's first attempt, of a leaf sent to a client port and
// of one whose hub never finished the handshake.
type logRun struct {
	hubGood, hubBad, hubSilent, hubClientAuth, hubClientOnLeafPort []connLine
	leafGood, leafBad, leafWrongPort, leafNoConnectInfo            []connLine
}

// firstWith is the lines of the first connection that logged a line
// containing text.
func firstWith(ids []string, byID map[string][]connLine, text string) []connLine {
	for _, id := range ids {
		for _, l := range byID[id] {
			if strings.Contains(l.text, text) {
				return byID[id]
			}
		}
	}
	return nil
}

// runLogScenario connects a leaf, refuses one with a wrong password, times
// out a connection that never authenticates, and disconnects the first
// leaf, with hub and leaves of the kinds given.
func runLogScenario(t *testing.T, hubKind, leafKind kind) logRun {
	hub := start(t, hubKind, `server_name: hub
authorization { user: cu, password: cp }
leafnodes { listen: "127.0.0.1:-1", authorization { user: lu, password: lp, timeout: 1 } }
`)
	good := start(t, leafKind, leafConfig("leaf", false, fmt.Sprintf("url: %q", leafURL(hub, "lu:lp"))))
	waitLinks(t, hub, 1)
	waitLinks(t, good, 1)

	bad := start(t, leafKind, leafConfig("bad", false, fmt.Sprintf("url: %q", leafURL(hub, "lu:wrong"))))
	hub.Log().wait(t, "Leafnode connection closed: Authentication Failure", 5*time.Second)
	bad.Log().wait(t, "Leafnode connection closed", 5*time.Second)
	bad.Stop()

	// The good leaf goes well before the hub's first PING, about a second
	// after the link was made: a leaf that closes with a PING unread
	// resets the connection, and the hub logs a read error instead.
	good.Stop()
	hub.Log().wait(t, "Leafnode connection closed: Client Closed - Remote: leaf", 5*time.Second)
	good.Log().wait(t, "Leafnode connection closed: Server Shutdown", 5*time.Second)

	// A connection that never says CONNECT.
	silent, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", hub.LeafPort()))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	hub.Log().wait(t, "Leafnode connection closed: Authentication Timeout", 5*time.Second)

	// A client with the wrong password, and one on the leafnode port.
	if nc, err := nats.Connect(clientURL(hub, "cu:wrong"), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("a client with a wrong password got in")
	}
	hub.Log().wait(t, "authentication error", 5*time.Second)
	if nc, err := nats.Connect(fmt.Sprintf("nats://lu:lp@127.0.0.1:%d", hub.LeafPort()), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("a client got in on the leafnode port")
	}
	hub.Log().wait(t, "attempted to connect to leaf node port", 5*time.Second)

	// A leaf sent to the hub's client port, and one whose hub never sends
	// the connect info.
	wrong := start(t, leafKind, leafConfig("wrong", false, fmt.Sprintf("url: %q",
		strings.Replace(clientURL(hub, "lu:lp"), "nats://", "nats-leaf://", 1))))
	wrong.Log().wait(t, "Leafnode connection closed", 5*time.Second)
	wrong.Stop()
	fake := newFakeHub(t)
	stuck := start(t, leafKind, leafConfig("stuck", false, fmt.Sprintf("url: %q", fake.url())))
	fake.greet(t)
	stuck.Log().wait(t, "Leafnode connection closed", 5*time.Second)
	stuck.Stop()

	var run logRun
	ids, byID := connLines(t, hub)
	if len(ids) < 2 {
		t.Fatalf("hub logged about %d connections, want at least 2", len(ids))
	}
	run.hubGood, run.hubBad = byID[ids[0]], byID[ids[1]]
	for _, id := range ids {
		if ls := byID[id]; strings.Contains(ls[len(ls)-1].text, "Authentication Timeout") {
			run.hubSilent = ls
		}
	}
	if run.hubSilent == nil {
		t.Fatal("hub logged no connection closed for its authentication timeout")
	}
	run.hubClientAuth = firstWith(ids, byID, `authentication error - User "cu"`)
	run.hubClientOnLeafPort = firstWith(ids, byID, "attempted to connect to leaf node port")
	ids, byID = connLines(t, good)
	if len(ids) != 1 {
		t.Fatalf("leaf logged about %d connections, want 1", len(ids))
	}
	run.leafGood = byID[ids[0]]
	ids, byID = connLines(t, bad)
	if len(ids) < 1 {
		t.Fatal("refused leaf logged about no connection")
	}
	run.leafBad = byID[ids[0]]
	ids, byID = connLines(t, wrong)
	if len(ids) < 1 {
		t.Fatal("leaf sent to a client port logged about no connection")
	}
	run.leafWrongPort = byID[ids[0]]
	ids, byID = connLines(t, stuck)
	if len(ids) < 1 {
		t.Fatal("leaf of the stuck hub logged about no connection")
	}
	run.leafNoConnectInfo = byID[ids[0]]
	return run
}

// TestLeafLogLines compares, field by field, the lines both sides of a
// link log when it is made, when a leaf is refused or times out and when
// it goes, when a client is refused or comes to the leafnode port, when a
// leaf goes to a client port or its hub never sends the connect info, with
// nats-server's: Canopy as the hub, as the leaf and as both against
// nats-server as both. Only ids and ports may differ.
func TestLeafLogLines(t *testing.T) {
	t.Parallel()
	want := runLogScenario(t, natsKind, natsKind)
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			got := runLogScenario(t, p.hub, p.leaf)
			if p.hub == canopyKind {
				compareLines(t, "hub, good link", got.hubGood, want.hubGood)
				compareLines(t, "hub, refused link", got.hubBad, want.hubBad)
				compareLines(t, "hub, silent link", got.hubSilent, want.hubSilent)
				compareLines(t, "hub, client with a wrong password", got.hubClientAuth, want.hubClientAuth)
				compareLines(t, "hub, client on the leafnode port", got.hubClientOnLeafPort, want.hubClientOnLeafPort)
			}
			if p.leaf == canopyKind {
				compareLines(t, "leaf, good link", got.leafGood, want.leafGood)
				compareLines(t, "leaf, refused link", got.leafBad, want.leafBad)
				compareLines(t, "leaf, sent to a client port", got.leafWrongPort, want.leafWrongPort)
				compareLines(t, "leaf, no connect info", got.leafNoConnectInfo, want.leafNoConnectInfo)
			}
		})
	}
}

func compareLines(t *testing.T, what string, got, want []connLine) {
	t.Helper()
	show := func(ls []connLine) string {
		var b strings.Builder
		for _, l := range ls {
			fmt.Fprintf(&b, "\n\t[%s] %s:%s - %s:%s - %s", l.level, l.host, l.port, l.tag, l.id, l.text)
		}
		return b.String()
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d lines, nats-server %d\ncanopy:%s\nnats-server:%s", what, len(got), len(want), show(got), show(want))
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.level != w.level || g.host != w.host || g.tag != w.tag || g.text != w.text {
			t.Errorf("%s, line %d:\ncanopy:      [%s] %s - %s - %q\nnats-server: [%s] %s - %s - %q",
				what, i, g.level, g.host, g.tag, g.text, w.level, w.host, w.tag, w.text)
		}
		if g.id != got[0].id {
			t.Errorf("%s, line %d: connection id %s, the first line's was %s", what, i, g.id, got[0].id)
		}
	}
}

// TestLeafTraceMsg: with trace on, a message sent down a link is traced
// like one sent to a client, "->> [LMSG subject size]", as nats-server
// traces every delivery whatever the connection (client.go, deliverMsg).
// (The in-process nats-server of these tests logs without trace, so the
// line is checked on Canopy alone.)
func TestLeafTraceMsg(t *testing.T) {
	t.Parallel()
	hub := start(t, canopyKind, "trace: true\n"+hubConfig("hub"))
	lf := start(t, canopyKind, leafConfig("leaf", false, remoteTo(hub)))
	waitLinks(t, hub, 1)
	waitLinks(t, lf, 1)
	sc := connect(t, lf, "")
	msgs, _ := subscribe(t, sc, "tr", "")
	flush(t, sc)
	waitSub(t, hub, "tr", true)
	pc := connect(t, hub, "")
	if err := pc.Publish("tr", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	flush(t, pc)
	select {
	case m := <-msgs:
		if string(m.Data) != "hello" {
			t.Fatalf("got %q", m.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the message did not cross the link")
	}
	hub.Log().wait(t, "->> [LMSG tr 5]", 5*time.Second)
}
