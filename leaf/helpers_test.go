package leaf_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/loop"
)

// kind says which implementation a server of the matrix runs.
type kind int

const (
	canopyKind kind = iota
	natsKind
)

func (k kind) String() string {
	if k == natsKind {
		return "nats"
	}
	return "canopy"
}

// pairing is one row of the interoperability matrix: who is the hub and who
// the leaf.
type pairing struct {
	name      string
	hub, leaf kind
}

var pairings = []pairing{
	{"canopy-canopy", canopyKind, canopyKind},
	{"nats-hub-canopy-leaf", natsKind, canopyKind},
	{"canopy-hub-nats-leaf", canopyKind, natsKind},
}

// link is one established leaf link as a server reports it: nats-server's
// /leafz entry, or Canopy's equivalent.
type link struct {
	ID      uint64
	Name    string
	Account string
	InMsgs  int64
	OutMsgs int64
	// Compression is what /leafz says the link negotiated.
	Compression string
	// Subs is the interest the peer announced on the link, subjects only
	// (nats-server's /leafz does not show queue names).
	Subs []string
}

// server is a Canopy or a nats-server started for a test, seen through what
// the matrix needs from both.
type server interface {
	Kind() kind
	Name() string
	URL() string // the client URL, without credentials
	LeafPort() int
	Links() []link
	Log() *logSink
	Stop()
}

// start runs a server of kind k with nats-server config text; both kinds
// read the same text. The server stops when the test ends.
func start(t testing.TB, k kind, text string) server {
	t.Helper()
	if k == natsKind {
		return startNATS(t, text)
	}
	return startCanopy(t, text)
}

type canopyServer struct {
	*natstest.Canopy
	t   testing.TB
	log *logSink
}

// startCanopy is natstest.StartCanopy with a logger the test can read.
func startCanopy(t testing.TB, text string) *canopyServer {
	t.Helper()
	path := natstest.WriteConfig(t, "canopy.conf", text)
	opts, _, err := conf.Load(path)
	if err != nil {
		t.Fatalf("canopy config: %v", err)
	}
	if opts.Host == "" || opts.Host == conf.DefaultHost {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 || opts.Port == conf.DefaultPort {
		opts.Port = -1
	}
	if opts.Loops == 0 {
		opts.Loops = 2
	}
	sink := newLogSink("canopy", os.Getenv("CANOPY_TEST_LOG") != "")
	s, err := loop.New(opts, sink)
	if err != nil {
		t.Fatalf("canopy: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("canopy start: %v", err)
	}
	c := &canopyServer{Canopy: &natstest.Canopy{Server: s, ConfigFile: path}, t: t, log: sink}
	t.Cleanup(c.Stop)
	return c
}

func (c *canopyServer) Kind() kind     { return canopyKind }
func (c *canopyServer) URL() string    { return c.ClientURL() }
func (c *canopyServer) Log() *logSink  { return c.log }
func (c *canopyServer) Stop()          { c.Canopy.Stop(c.t) }
func (c *canopyServer) Name() string   { return c.Server.Name() }
func (c *canopyServer) LeafPort() int  { return c.Canopy.LeafPort() }
func (c *canopyServer) String() string { return "canopy " + c.Name() }

func (c *canopyServer) Links() []link {
	var out []link
	for _, l := range c.Leafz() {
		k := link{ID: l.CID, Name: l.Name, Account: l.Account, InMsgs: l.InMsgs, OutMsgs: l.OutMsgs, Compression: l.Compression}
		for _, s := range l.Subs {
			subject, _, _ := strings.Cut(s, " ")
			k.Subs = append(k.Subs, subject)
		}
		out = append(out, k)
	}
	return out
}

type natsServer struct {
	s    *natsserver.Server
	opts *natsserver.Options
	log  *logSink
}

// startNATS is natstest.StartNATS with a logger the test can read, set
// before the server starts so that nothing it says is missed.
func startNATS(t testing.TB, text string) *natsServer {
	t.Helper()
	sink := newLogSink("nats", os.Getenv("NATS_TEST_LOG") != "")
	ns := natstest.StartNATSLogger(t, text, sink)
	n := &natsServer{s: ns.Server, opts: ns.Opts(), log: sink}
	t.Cleanup(n.Stop)
	return n
}

func (n *natsServer) Kind() kind     { return natsKind }
func (n *natsServer) URL() string    { return n.s.ClientURL() }
func (n *natsServer) Log() *logSink  { return n.log }
func (n *natsServer) Name() string   { return n.s.Name() }
func (n *natsServer) LeafPort() int  { return n.opts.LeafNode.Port }
func (n *natsServer) String() string { return "nats " + n.Name() }

func (n *natsServer) Stop() {
	n.s.Shutdown()
	n.s.WaitForShutdown()
}

func (n *natsServer) Links() []link {
	lz, err := n.s.Leafz(&natsserver.LeafzOptions{Subscriptions: true})
	if err != nil {
		return nil
	}
	var out []link
	for _, l := range lz.Leafs {
		out = append(out, link{ID: l.ID, Name: l.Name, Account: l.Account, InMsgs: l.InMsgs, OutMsgs: l.OutMsgs, Subs: l.Subs, Compression: l.Compression})
	}
	return out
}

// logSink is natstest's LogSink under the names the leaf tests use.
type logSink struct{ *natstest.LogSink }

func newLogSink(prefix string, echo bool) *logSink {
	return &logSink{natstest.NewLogSink(prefix, echo)}
}

func (l *logSink) count(s string) int { return l.Count(s) }

func (l *logSink) wait(t testing.TB, s string, timeout time.Duration) string {
	t.Helper()
	return l.Wait(t, s, timeout)
}

func (l *logSink) waitCount(t testing.TB, s string, n int, timeout time.Duration) {
	t.Helper()
	l.WaitCount(t, s, n, timeout)
}

var (
	_ loop.Logger       = (*logSink)(nil)
	_ natsserver.Logger = (*logSink)(nil)
)

// leafURL is the nats-leaf:// URL of s's leafnode port, with optional user
// info ("user:pass" or a token).
func leafURL(s server, userinfo string) string {
	if userinfo != "" {
		userinfo += "@"
	}
	return fmt.Sprintf("nats-leaf://%s127.0.0.1:%d", userinfo, s.LeafPort())
}

// clientURL is s's client URL with user info.
func clientURL(s server, userinfo string) string {
	if userinfo == "" {
		return s.URL()
	}
	return strings.Replace(s.URL(), "nats://", "nats://"+userinfo+"@", 1)
}

// waitLinks waits until s has n established leaf links.
func waitLinks(t testing.TB, s server, n int) {
	t.Helper()
	natstest.WaitFor(t, 10*time.Second, fmt.Sprintf("%v to have %d leaf links", s, n), func() bool {
		return len(s.Links()) == n
	})
}

// hasSub reports whether one of s's links has interest in subject (as the
// peer spelled it in LS+).
func hasSub(s server, subject string) bool {
	for _, l := range s.Links() {
		if slices.Contains(l.Subs, subject) {
			return true
		}
	}
	return false
}

// waitSub waits until s has been told, by a leaf link, of interest in
// subject (present) or of its end (!present). It is how a test knows that
// an LS+ or LS- has crossed: the server that will publish has processed it.
func waitSub(t testing.TB, s server, subject string, present bool) {
	t.Helper()
	what := "interest in"
	if !present {
		what = "no interest in"
	}
	natstest.WaitFor(t, 10*time.Second, fmt.Sprintf("%v to have %s %q from a link", s, what, subject), func() bool {
		return hasSub(s, subject) == present
	})
}

// linkSubs is the non-system interest s's links announced, sorted.
func linkSubs(s server) []string {
	var out []string
	for _, l := range s.Links() {
		for _, sub := range l.Subs {
			if !strings.HasPrefix(sub, "$") {
				out = append(out, sub)
			}
		}
	}
	slices.Sort(out)
	return out
}

// linkIDs is the ids of s's links, sorted: a link that was dropped and
// re-made shows up as a new id.
func linkIDs(s server) []uint64 {
	var ids []uint64
	for _, l := range s.Links() {
		ids = append(ids, l.ID)
	}
	slices.Sort(ids)
	return ids
}

// checkInMsgs asserts that s's links brought in exactly want messages
// since base. nats-server adds a read's messages to its link counters only
// after delivering them, so the figure is waited for before it is compared.
func checkInMsgs(t testing.TB, s server, base, want int64, what string) {
	t.Helper()
	natstest.WaitFor(t, 5*time.Second, what, func() bool { return inMsgs(s)-base >= want })
	if n := inMsgs(s) - base; n != want {
		t.Fatalf("%s: %d messages came over the link, want %d", what, n, want)
	}
}

// inMsgs is the number of messages s received over its leaf links.
func inMsgs(s server) int64 {
	var n int64
	for _, l := range s.Links() {
		n += l.InMsgs
	}
	return n
}

// connect opens a nats.go connection to s.
func connect(t testing.TB, s server, userinfo string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return natstest.Connect(t, clientURL(s, userinfo), opts...)
}

// subscribe subscribes nc (in queue when not "") and returns the channel
// its messages arrive on; the server has the subscription when it returns.
func subscribe(t testing.TB, nc *nats.Conn, subject, queue string) (chan *nats.Msg, *nats.Subscription) {
	t.Helper()
	ch := make(chan *nats.Msg, 8192)
	var sub *nats.Subscription
	var err error
	if queue == "" {
		sub, err = nc.ChanSubscribe(subject, ch)
	} else {
		sub, err = nc.ChanQueueSubscribe(subject, queue, ch)
	}
	if err != nil {
		t.Fatalf("subscribe %q: %v", subject, err)
	}
	flush(t, nc)
	return ch, sub
}

func flush(t testing.TB, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func publish(t testing.TB, nc *nats.Conn, subject, data string) {
	t.Helper()
	if err := nc.Publish(subject, []byte(data)); err != nil {
		t.Fatalf("publish %q: %v", subject, err)
	}
}

// recv waits for the next message on ch.
func recv(t testing.TB, ch chan *nats.Msg, what string) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no message after 5s", what)
		return nil
	}
}

// expect waits for the next message on ch and checks its subject and data.
func expect(t testing.TB, ch chan *nats.Msg, subject, data string) *nats.Msg {
	t.Helper()
	m := recv(t, ch, fmt.Sprintf("waiting for %s %q", subject, data))
	if m.Subject != subject || string(m.Data) != data {
		t.Fatalf("got %s %q, want %s %q", m.Subject, m.Data, subject, data)
	}
	return m
}

// expectNone checks that nothing is waiting on ch: used after a later
// message on the same path has arrived, which an earlier one would have
// preceded.
func expectNone(t testing.TB, ch chan *nats.Msg, what string) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("%s: unexpected %s %q", what, m.Subject, m.Data)
	default:
	}
}

// hubLeaf starts the hub and the leaf of a pairing, the leaf dialling the
// hub with userinfo, and waits for the link on both sides. extraHub and
// extraLeaf are added to the two configurations; remote is added inside the
// leaf's remote block.
func hubLeaf(t testing.TB, p pairing, hubConf, leafConf, remote, userinfo string) (hub, lf server) {
	t.Helper()
	hub = start(t, p.hub, fmt.Sprintf(`
server_name: hub
leafnodes { listen: "127.0.0.1:-1" }
%s
`, hubConf))
	lf = start(t, p.leaf, fmt.Sprintf(`
server_name: leaf
leafnodes {
  reconnect: "100ms"
  remotes = [ { url: %q
  %s } ]
}
%s
`, leafURL(hub, userinfo), remote, leafConf))
	waitLinks(t, hub, 1)
	waitLinks(t, lf, 1)
	return hub, lf
}
