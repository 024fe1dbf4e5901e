package loop_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// loopOf reports the event loop that serves nc.
func loopOf(t testing.TB, s *natstest.Canopy, nc *nats.Conn) int {
	t.Helper()
	cid, err := nc.GetClientID()
	if err != nil {
		t.Fatalf("client id: %v", err)
	}
	l := s.LoopOfClient(cid)
	if l < 0 {
		t.Fatalf("client %d is on no loop", cid)
	}
	return l
}

// twoLoops opens connections until one sits on a different loop from
// first, and returns it. Connections are balanced by least connections, so
// the second one normally does; a few more are allowed for a noisy accept.
func twoLoops(t testing.TB, s *natstest.Canopy, first *nats.Conn, opts ...nats.Option) *nats.Conn {
	t.Helper()
	l := loopOf(t, s, first)
	for i := 0; i < 8; i++ {
		nc := connect(t, s.ClientURL(), opts...)
		if loopOf(t, s, nc) != l {
			return nc
		}
	}
	t.Fatal("every connection landed on the same event loop")
	return nil
}

// sameLoop opens connections until one sits on first's loop.
func sameLoop(t testing.TB, s *natstest.Canopy, first *nats.Conn, opts ...nats.Option) *nats.Conn {
	t.Helper()
	l := loopOf(t, s, first)
	for i := 0; i < 8; i++ {
		nc := connect(t, s.ClientURL(), opts...)
		if loopOf(t, s, nc) == l {
			return nc
		}
	}
	t.Fatal("no connection landed on the first one's event loop")
	return nil
}

func TestClientConnect(t *testing.T) {
	_, url := startCanopy(t, "")
	nc := connect(t, url, nats.Name("probe"))
	if got := nc.MaxPayload(); got != 1<<20 {
		t.Errorf("MaxPayload() = %d, want 1048576", got)
	}
	if !nc.HeadersSupported() {
		t.Error("HeadersSupported() = false")
	}
	if got := nc.ConnectedServerVersion(); got != "2.15.2" {
		t.Errorf("ConnectedServerVersion() = %q", got)
	}
	if id := nc.ConnectedServerId(); len(id) != 56 || id[0] != 'N' {
		t.Errorf("ConnectedServerId() = %q, want a server nkey", id)
	}
	if nc.ConnectedServerName() == "" {
		t.Error("ConnectedServerName() is empty")
	}
	if cid, err := nc.GetClientID(); err != nil || cid == 0 {
		t.Errorf("GetClientID() = %d, %v", cid, err)
	}
	if ip, err := nc.GetClientIP(); err != nil || !ip.IsLoopback() {
		t.Errorf("GetClientIP() = %v, %v", ip, err)
	}
	if nc.AuthRequired() {
		t.Error("AuthRequired() = true without authorization")
	}
	// The connect_info INFO that follows the first PONG replaces nats.go's
	// stored INFO: it must be complete.
	flush(t, nc)
	if nc.MaxPayload() != 1<<20 || !nc.HeadersSupported() {
		t.Error("the async INFO lost max_payload or headers")
	}
	rtt, err := nc.RTT()
	if err != nil || rtt <= 0 {
		t.Errorf("RTT() = %v, %v", rtt, err)
	}
}

// TestClientWildcards checks which of a set of subscriptions each subject
// reaches.
func TestClientWildcards(t *testing.T) {
	s, url := startCanopy(t, "")
	sc := connect(t, url)
	subjects := []string{"foo.bar", "foo.*", "foo.>", ">", "*.bar", "foo.*.baz", "*", "foo.bar.>"}
	subs := make(map[string]*nats.Subscription)
	for _, subj := range subjects {
		sub, err := sc.SubscribeSync(subj)
		if err != nil {
			t.Fatal(err)
		}
		subs[subj] = sub
	}
	flush(t, sc)
	pc := twoLoops(t, s, sc)
	reach := map[string][]string{
		"foo.bar":         {"foo.bar", "foo.*", "foo.>", ">", "*.bar"},
		"foo.bar.baz":     {"foo.>", ">", "foo.*.baz", "foo.bar.>"},
		"foo":             {">", "*"},
		"qux.bar":         {">", "*.bar"},
		"foo.x.baz":       {"foo.>", ">", "foo.*.baz"},
		"foo.bar.baz.qux": {"foo.>", ">", "foo.bar.>"},
		"foobar.bar":      {">", "*.bar"},
	}
	for pub, want := range reach {
		if err := pc.Publish(pub, []byte(pub)); err != nil {
			t.Fatal(err)
		}
		flush(t, pc)
		flush(t, sc)
		for _, subj := range want {
			if m := next(t, subs[subj]); m.Subject != pub || string(m.Data) != pub {
				t.Errorf("sub %q got %q/%q for %q", subj, m.Subject, m.Data, pub)
			}
		}
		for subj, sub := range subs {
			if n, _, _ := sub.Pending(); n != 0 {
				t.Errorf("publish to %q reached %q", pub, subj)
				sub.NextMsg(time.Millisecond)
			}
		}
	}
}

// TestClientQueueGroups: each message goes to exactly one member of each
// group, and to every plain subscriber; the members are spread over both
// loops.
func TestClientQueueGroups(t *testing.T) {
	s, url := startCanopy(t, "")
	const msgs = 1000
	type member struct {
		group string
		n     atomic.Int64
	}
	var members []*member
	var plain atomic.Int64
	var conns []*nats.Conn
	for i := 0; i < 6; i++ {
		nc := connect(t, url)
		conns = append(conns, nc)
		for _, g := range []string{"g1", "g2"} {
			if g == "g2" && i%2 == 1 {
				continue
			}
			m := &member{group: g}
			members = append(members, m)
			if _, err := nc.QueueSubscribe("work.*", g, func(*nats.Msg) { m.n.Add(1) }); err != nil {
				t.Fatal(err)
			}
		}
		flush(t, nc)
	}
	if _, err := conns[0].Subscribe("work.>", func(*nats.Msg) { plain.Add(1) }); err != nil {
		t.Fatal(err)
	}
	flush(t, conns[0])
	loops := map[int]bool{}
	for _, nc := range conns {
		loops[loopOf(t, s, nc)] = true
	}
	if len(loops) != 2 {
		t.Fatalf("members on loops %v, want both", loops)
	}
	pub := connect(t, url)
	for i := 0; i < msgs; i++ {
		if err := pub.Publish(fmt.Sprintf("work.%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pub)
	for _, nc := range conns {
		flush(t, nc)
	}
	// Every connection's flush returned after its messages were handed to
	// the callbacks' queues; wait for the callbacks themselves, bounded.
	sum := func(g string) (n int64, busy int) {
		for _, m := range members {
			if m.group == g {
				k := m.n.Load()
				n += k
				if k > 0 {
					busy++
				}
			}
		}
		return n, busy
	}
	deadline := time.Now().Add(wait)
	for {
		n1, _ := sum("g1")
		n2, _ := sum("g2")
		if (n1 >= msgs && n2 >= msgs && plain.Load() >= msgs) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, g := range []string{"g1", "g2"} {
		n, busy := sum(g)
		if n != msgs {
			t.Errorf("group %s got %d messages, want exactly %d", g, n, msgs)
		}
		if busy < 2 {
			t.Errorf("group %s: only %d members got messages", g, busy)
		}
	}
	if n := plain.Load(); n != msgs {
		t.Errorf("plain subscriber got %d, want %d", n, msgs)
	}
}

// TestClientRequestReply: requests answered from the same loop and from
// the other one, old-style and new-style inboxes.
func TestClientRequestReply(t *testing.T) {
	s, url := startCanopy(t, "")
	rc := connect(t, url)
	if _, err := rc.Subscribe("svc.echo", func(m *nats.Msg) {
		m.Respond(append([]byte("re:"), m.Data...))
	}); err != nil {
		t.Fatal(err)
	}
	flush(t, rc)
	same := sameLoop(t, s, rc)
	other := twoLoops(t, s, rc)
	for name, nc := range map[string]*nats.Conn{"one": same, "other": other} {
		for i := 0; i < 50; i++ {
			body := fmt.Sprintf("%s-%d", name, i)
			m, err := nc.Request("svc.echo", []byte(body), wait)
			if err != nil {
				t.Fatalf("%s: request %d: %v", name, i, err)
			}
			if string(m.Data) != "re:"+body {
				t.Fatalf("%s: reply %q to %q", name, m.Data, body)
			}
		}
	}
	old := connect(t, url, nats.UseOldRequestStyle())
	m, err := old.Request("svc.echo", []byte("old"), wait)
	if err != nil || string(m.Data) != "re:old" {
		t.Fatalf("old-style request: %v %v", m, err)
	}
}

// TestClientHeaders: a header message round-trips between nats.go clients,
// and a raw client without headers gets the body alone.
func TestClientHeaders(t *testing.T) {
	s, url := startCanopy(t, "")
	sc := connect(t, url)
	sub, err := sc.SubscribeSync("hdr")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, sc)
	r := dialRaw(t, s.ClientAddr().String())
	r.connect(quiet)
	r.send("SUB hdr 7\r\n")
	r.flush()
	pc := twoLoops(t, s, sc)
	msg := nats.NewMsg("hdr")
	msg.Header.Set("X-Test", "one")
	msg.Header.Add("X-Multi", "a")
	msg.Header.Add("X-Multi", "b")
	msg.Data = []byte("body")
	if err := pc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	flush(t, pc)
	m := next(t, sub)
	if m.Header.Get("X-Test") != "one" || strings.Join(m.Header.Values("X-Multi"), ",") != "a,b" || string(m.Data) != "body" {
		t.Fatalf("got header %v data %q", m.Header, m.Data)
	}
	if got := r.flush(); got != "MSG hdr 7 4\r\nbody\r\n" {
		t.Fatalf("raw client without headers: got %q", got)
	}
	// A reply to a header request carries headers back.
	if _, err := sc.Subscribe("hdr.req", func(m *nats.Msg) {
		out := nats.NewMsg(m.Reply)
		out.Header.Set("X-Reply", m.Header.Get("X-Ask"))
		m.RespondMsg(out)
	}); err != nil {
		t.Fatal(err)
	}
	flush(t, sc)
	req := nats.NewMsg("hdr.req")
	req.Header.Set("X-Ask", "42")
	rep, err := pc.RequestMsg(req, wait)
	if err != nil || rep.Header.Get("X-Reply") != "42" {
		t.Fatalf("header request: %v %v", rep, err)
	}
}

// TestClientNoResponders: a request nobody subscribes to fails at once.
func TestClientNoResponders(t *testing.T) {
	_, url := startCanopy(t, "")
	nc := connect(t, url)
	for _, old := range []bool{false, true} {
		c := nc
		if old {
			c = connect(t, url, nats.UseOldRequestStyle())
		}
		start := time.Now()
		_, err := c.Request("nobody", []byte("x"), wait)
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("old style %v: got %v, want ErrNoResponders", old, err)
		}
		if d := time.Since(start); d > wait/2 {
			t.Fatalf("old style %v: no-responders took %v", old, d)
		}
	}
}

// TestClientNoEcho: a NoEcho connection never gets its own publishes.
func TestClientNoEcho(t *testing.T) {
	_, url := startCanopy(t, "")
	quietc := connect(t, url, nats.NoEcho())
	own, err := quietc.SubscribeSync("echo")
	if err != nil {
		t.Fatal(err)
	}
	loud := connect(t, url)
	other, err := loud.SubscribeSync("echo")
	if err != nil {
		t.Fatal(err)
	}
	mine, err := loud.SubscribeSync("echo")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, quietc)
	flush(t, loud)
	quietc.Publish("echo", []byte("from quiet"))
	flush(t, quietc)
	loud.Publish("echo", []byte("from loud"))
	flush(t, loud)
	flush(t, quietc)
	if m := next(t, own); string(m.Data) != "from loud" {
		t.Fatalf("no-echo client got %q", m.Data)
	}
	none(t, own)
	for _, sub := range []*nats.Subscription{other, mine} {
		if m := next(t, sub); string(m.Data) != "from quiet" {
			t.Fatalf("got %q first", m.Data)
		}
		if m := next(t, sub); string(m.Data) != "from loud" {
			t.Fatalf("echo client got %q second", m.Data)
		}
	}
}

// TestClientAutoUnsubscribe: UNSUB with a max delivers exactly max, with
// the publisher on the subscriber's loop and on the other loop.
func TestClientAutoUnsubscribe(t *testing.T) {
	s, url := startCanopy(t, "")
	const max, sent = 5, 50
	sc := connect(t, url)
	same := sameLoop(t, s, sc)
	other := twoLoops(t, s, sc)
	for name, pc := range map[string]*nats.Conn{"same loop": same, "other loop": other, "own connection": sc} {
		subj := "auto." + strings.ReplaceAll(name, " ", "_")
		var got atomic.Int64
		done := make(chan struct{})
		sub, err := sc.Subscribe(subj, func(*nats.Msg) {
			if got.Add(1) == max {
				close(done)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.AutoUnsubscribe(max); err != nil {
			t.Fatal(err)
		}
		flush(t, sc)
		for i := 0; i < sent; i++ {
			pc.Publish(subj, []byte("x"))
		}
		flush(t, pc)
		flush(t, sc)
		select {
		case <-done:
		case <-time.After(wait):
			t.Fatalf("%s: got %d of %d", name, got.Load(), max)
		}
		// nats.go drops anything past max itself; check the server sent no
		// more either, with a raw subscriber that sets the same max.
		r := dialRaw(t, s.ClientAddr().String())
		r.connect(quiet)
		r.send("SUB " + subj + " 1\r\nUNSUB 1 3\r\n")
		r.flush()
		for i := 0; i < 10; i++ {
			pc.Publish(subj, []byte("y"))
		}
		flush(t, pc)
		if got := r.flush(); got != strings.Repeat("MSG "+subj+" 1 1\r\ny\r\n", 3) {
			t.Fatalf("%s: raw subscriber with max 3 got %q", name, got)
		}
		if n := got.Load(); n != max {
			t.Fatalf("%s: nats.go subscriber got %d, want %d", name, n, max)
		}
	}
}

// TestClientAutoUnsubscribeRace: many publishers on both loops race the
// max; exactly max messages arrive and the subscription is gone.
func TestClientAutoUnsubscribeRace(t *testing.T) {
	s, url := startCanopy(t, "")
	r := dialRaw(t, s.ClientAddr().String())
	r.connect(quiet)
	var pubs []*nats.Conn
	for i := 0; i < 4; i++ {
		pubs = append(pubs, connect(t, url))
	}
	for round := 0; round < 20; round++ {
		subj := fmt.Sprintf("race.%d", round)
		r.send("SUB " + subj + " 1\r\nUNSUB 1 7\r\n")
		r.flush()
		var wg sync.WaitGroup
		for _, pc := range pubs {
			wg.Add(1)
			go func(pc *nats.Conn) {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					pc.Publish(subj, []byte("z"))
				}
				pc.Flush()
			}(pc)
		}
		wg.Wait()
		if got := r.flush(); got != strings.Repeat("MSG "+subj+" 1 1\r\nz\r\n", 7) {
			t.Fatalf("round %d: got %q", round, got)
		}
		// The sid is free again: a new subscription with it works.
		r.send("SUB " + subj + " 1\r\n")
		r.flush()
		pubs[0].Publish(subj, []byte("w"))
		flush(t, pubs[0])
		if got := r.flush(); got != "MSG "+subj+" 1 1\r\nw\r\n" {
			t.Fatalf("round %d, resubscribed: got %q", round, got)
		}
		r.send("UNSUB 1\r\n")
	}
}

func TestClientTokenAuth(t *testing.T) {
	s, url := startCanopy(t, `authorization { token: "s3cr3t" }`)
	addr := s.ClientAddr().String()
	nc := connect(t, "nats://s3cr3t@"+addr)
	if !nc.AuthRequired() {
		t.Error("AuthRequired() = false")
	}
	roundTrip(t, nc)
	connect(t, url, nats.Token("s3cr3t"))
	for name, opts := range map[string][]nats.Option{
		"wrong token": {nats.Token("nope")},
		"no token":    nil,
		"user/pass":   {nats.UserInfo("s3cr3t", "x")},
	} {
		_, err := nats.Connect(url, append(opts, nats.Timeout(wait))...)
		checkAuthErr(t, name, err)
	}
}

func TestClientUserPassAuth(t *testing.T) {
	s, url := startCanopy(t, `authorization { user: alice, password: "pw" }`)
	nc := connect(t, "nats://alice:pw@"+s.ClientAddr().String())
	roundTrip(t, nc)
	connect(t, url, nats.UserInfo("alice", "pw"))
	for name, opts := range map[string][]nats.Option{
		"wrong password": {nats.UserInfo("alice", "nope")},
		"wrong user":     {nats.UserInfo("bob", "pw")},
		"nothing":        nil,
		"token":          {nats.Token("pw")},
	} {
		_, err := nats.Connect(url, append(opts, nats.Timeout(wait))...)
		checkAuthErr(t, name, err)
	}
}

// checkAuthErr checks the error nats.go returns for a refused CONNECT.
// nats.go v1.55 keeps the server's text ("nats: Authorization Violation",
// the same with nats-server) in an error that matches ErrAuthorization,
// whose own text is "nats: authorization violation".
func checkAuthErr(t testing.TB, name string, err error) {
	t.Helper()
	if err == nil || !errors.Is(err, nats.ErrAuthorization) || !strings.EqualFold(err.Error(), "nats: authorization violation") {
		t.Errorf("%s: got %v, want nats: authorization violation", name, err)
	}
}

// roundTrip checks that nc can subscribe, publish and receive.
func roundTrip(t testing.TB, nc *nats.Conn) {
	t.Helper()
	sub, err := nc.SubscribeSync("rt")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("rt", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub); string(m.Data) != "ok" {
		t.Fatalf("round trip: %q", m.Data)
	}
	sub.Unsubscribe()
}

// TestClientMaxPayload: nats.go learns max_payload from INFO and refuses
// bigger publishes itself; a publish of exactly max_payload arrives.
func TestClientMaxPayload(t *testing.T) {
	_, url := startCanopy(t, "max_payload: 2048")
	nc := connect(t, url)
	if got := nc.MaxPayload(); got != 2048 {
		t.Fatalf("MaxPayload() = %d, want 2048", got)
	}
	sub, err := nc.SubscribeSync("mp")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("mp", make([]byte, 2049)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("2049 bytes: got %v, want ErrMaxPayload", err)
	}
	if err := nc.Publish("mp", bytes.Repeat([]byte{7}, 2048)); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub); len(m.Data) != 2048 {
		t.Fatalf("got %d bytes", len(m.Data))
	}
	flush(t, nc)
	none(t, sub)
}

// TestClientLargePayload sends 1 MiB (the default max_payload) of random
// bytes across loops and checks every byte.
func TestClientLargePayload(t *testing.T) {
	s, url := startCanopy(t, "")
	sc := connect(t, url)
	sub, err := sc.SubscribeSync("big")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, sc)
	pc := twoLoops(t, s, sc)
	for i := 0; i < 3; i++ {
		body := make([]byte, 1<<20)
		rand.Read(body)
		if err := pc.Publish("big", body); err != nil {
			t.Fatal(err)
		}
		flush(t, pc)
		if m := next(t, sub); !bytes.Equal(m.Data, body) {
			t.Fatalf("message %d: %d bytes arrived, not the ones sent", i, len(m.Data))
		}
	}
	// And from a connection to itself.
	body := make([]byte, 1<<20)
	rand.Read(body)
	sc.Publish("big", body)
	if m := next(t, sub); !bytes.Equal(m.Data, body) {
		t.Fatal("own 1 MiB message corrupted")
	}
}

// TestClientFlushOrdering: a subscription is live once Flush returns, and
// once the publisher's Flush returns the message is ahead of the
// subscriber's next PONG, on the same loop and across loops.
func TestClientFlushOrdering(t *testing.T) {
	s, url := startCanopy(t, "")
	sc := connect(t, url)
	same := sameLoop(t, s, sc)
	other := twoLoops(t, s, sc)
	for name, pc := range map[string]*nats.Conn{"same loop": same, "other loop": other} {
		for i := 0; i < 100; i++ {
			subj := fmt.Sprintf("order.%s.%d", strings.ReplaceAll(name, " ", "_"), i)
			sub, err := sc.SubscribeSync(subj)
			if err != nil {
				t.Fatal(err)
			}
			flush(t, sc)
			pc.Publish(subj, []byte("x"))
			flush(t, pc)
			flush(t, sc)
			if n, _, _ := sub.Pending(); n != 1 {
				t.Fatalf("%s, round %d: %d messages pending after both flushes, want 1", name, i, n)
			}
			sub.Unsubscribe()
		}
	}
}

// TestClientFanout publishes 10,000 messages to 100 subscriber connections
// and counts every delivery (1,000,000), checking each subscriber sees
// every sequence number once, in order.
func TestClientFanout(t *testing.T) {
	s, url := startCanopy(t, "")
	const subs, msgs = 100, 10000
	var wg sync.WaitGroup
	errs := make(chan string, subs)
	counts := make([]atomic.Int64, subs)
	for i := 0; i < subs; i++ {
		nc := connect(t, url)
		wg.Add(1)
		want := 0
		idx := i
		sub, err := nc.Subscribe("fan.out", func(m *nats.Msg) {
			seq := 0
			for _, b := range m.Data {
				seq = seq*10 + int(b-'0')
			}
			// A lost, repeated or reordered message breaks the sequence.
			if seq != want {
				select {
				case errs <- fmt.Sprintf("subscriber %d: got %d, want %d", idx, seq, want):
				default:
				}
			}
			want = seq + 1
			if counts[idx].Add(1) == msgs {
				wg.Done()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		sub.SetPendingLimits(-1, -1)
		flush(t, nc)
	}
	pc := connect(t, url)
	loops := map[int]int{}
	loops[loopOf(t, s, pc)]++
	start := time.Now()
	for i := 0; i < msgs; i++ {
		if err := pc.Publish("fan.out", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	// The publisher's PONG comes after its million deliveries have been
	// handed on, which under the race detector can take longer than the
	// usual wait: the same 60 s as the deliveries themselves.
	if err := pc.FlushTimeout(60 * time.Second); err != nil {
		t.Fatalf("flush: %v", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		var total int64
		for i := range counts {
			total += counts[i].Load()
		}
		t.Fatalf("only %d of %d deliveries after 60s", total, subs*msgs)
	}
	t.Logf("%d deliveries in %v", subs*msgs, time.Since(start))
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
	var total int64
	for i := range counts {
		total += counts[i].Load()
	}
	if total != subs*msgs {
		t.Fatalf("%d deliveries, want %d", total, subs*msgs)
	}
}

// TestClientOrderAcrossLoops: a subscriber on each loop, a publisher on
// each loop, every pair delivers in order.
func TestClientOrderAcrossLoops(t *testing.T) {
	s, url := startCanopy(t, "")
	a := connect(t, url)
	b := twoLoops(t, s, a)
	const n = 2000
	for _, pair := range [][2]*nats.Conn{{a, b}, {b, a}, {a, a}} {
		pub, subc := pair[0], pair[1]
		sub, err := subc.SubscribeSync("ord")
		if err != nil {
			t.Fatal(err)
		}
		sub.SetPendingLimits(-1, -1)
		flush(t, subc)
		for i := 0; i < n; i++ {
			pub.Publish("ord", []byte(fmt.Sprint(i)))
		}
		flush(t, pub)
		for i := 0; i < n; i++ {
			if m := next(t, sub); string(m.Data) != fmt.Sprint(i) {
				t.Fatalf("message %d arrived as %q", i, m.Data)
			}
		}
		sub.Unsubscribe()
	}
}
