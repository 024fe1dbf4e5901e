package leaf_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"
)

// side is one end of a link in a test: its server and a client on it.
type side struct {
	name string
	srv  server
	nc   *nats.Conn
}

// TestLeafPubSub runs, for each pairing, pub/sub both ways with wildcards
// and headers, unsubscribe propagation and queue groups on one hub and one
// leaf shared by the subtests.
func TestLeafPubSub(t *testing.T) {
	t.Parallel()
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			hub, lf := hubLeaf(t, p, "", "", "", "")
			h := side{"hub", hub, connect(t, hub, "")}
			l := side{"leaf", lf, connect(t, lf, "")}
			for _, dir := range []struct {
				name     string
				pub, sub side
			}{{"hub-to-leaf", h, l}, {"leaf-to-hub", l, h}} {
				prefix := dir.name
				t.Run(dir.name+"/wildcards", func(t *testing.T) {
					testWildcards(t, "w-"+prefix, dir.pub, dir.sub)
				})
				t.Run(dir.name+"/headers", func(t *testing.T) {
					testHeaders(t, "h-"+prefix, dir.pub, dir.sub)
				})
				t.Run(dir.name+"/unsubscribe", func(t *testing.T) {
					testUnsubscribe(t, "u-"+prefix, dir.pub, dir.sub)
				})
				t.Run(dir.name+"/disconnect", func(t *testing.T) {
					testDisconnect(t, "d-"+prefix, dir.pub, dir.sub)
				})
				t.Run(dir.name+"/volume", func(t *testing.T) {
					testVolume(t, "v-"+prefix, dir.pub, dir.sub)
				})
			}
			t.Run("queue-local-first", func(t *testing.T) {
				testQueueLocalFirst(t, h, l)
			})
		})
	}
}

func testWildcards(t *testing.T, prefix string, pub, sub side) {
	star, _ := subscribe(t, sub.nc, prefix+".*.x", "")
	full, _ := subscribe(t, sub.nc, prefix+".>", "")
	waitSub(t, pub.srv, prefix+".*.x", true)
	waitSub(t, pub.srv, prefix+".>", true)
	publish(t, pub.nc, "other."+prefix+".a.x", "0")
	publish(t, pub.nc, prefix+".a.x", "1")
	publish(t, pub.nc, prefix+".b.y", "2")
	publish(t, pub.nc, prefix+".c.x.deep", "3")
	flush(t, pub.nc)
	expect(t, full, prefix+".a.x", "1")
	expect(t, full, prefix+".b.y", "2")
	expect(t, full, prefix+".c.x.deep", "3")
	// The last message went through the same connection after the others:
	// anything else would have arrived by now.
	expect(t, star, prefix+".a.x", "1")
	expectNone(t, star, "*")
	expectNone(t, full, ">")
}

func testHeaders(t *testing.T, prefix string, pub, sub side) {
	ch, _ := subscribe(t, sub.nc, prefix+".hdr", "")
	waitSub(t, pub.srv, prefix+".hdr", true)
	m := nats.NewMsg(prefix + ".hdr")
	m.Reply = prefix + ".reply"
	m.Header.Add("X-Multi", "one")
	m.Header.Add("X-Multi", "two")
	m.Header.Set("X-Spaces", "a value: with colon and  spaces")
	m.Header.Set("X-Empty", "")
	m.Data = []byte("body")
	if err := pub.nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	// The same subject without headers must arrive as a plain message.
	publish(t, pub.nc, prefix+".hdr", "plain")
	flush(t, pub.nc)
	got := expect(t, ch, prefix+".hdr", "body")
	if got.Reply != m.Reply {
		t.Errorf("reply %q, want %q", got.Reply, m.Reply)
	}
	if v := got.Header.Values("X-Multi"); !slices.Equal(v, []string{"one", "two"}) {
		t.Errorf("X-Multi %q", v)
	}
	if v := got.Header.Get("X-Spaces"); v != "a value: with colon and  spaces" {
		t.Errorf("X-Spaces %q", v)
	}
	if v, ok := got.Header["X-Empty"]; !ok || len(v) != 1 || v[0] != "" {
		t.Errorf("X-Empty %q (present %v)", v, ok)
	}
	if len(got.Header) != 3 {
		t.Errorf("headers %v, want 3 keys", got.Header)
	}
	plain := expect(t, ch, prefix+".hdr", "plain")
	if len(plain.Header) != 0 {
		t.Errorf("plain message arrived with headers %v", plain.Header)
	}
}

// testUnsubscribe checks that after an unsubscribe on sub's side the
// publisher's server stops forwarding: sub's server counts the messages its
// links bring in, and only the one with interest left must cross.
func testUnsubscribe(t *testing.T, prefix string, pub, sub side) {
	gone, goneSub := subscribe(t, sub.nc, prefix+".u.a", "")
	kept, _ := subscribe(t, sub.nc, prefix+".u.b", "")
	waitSub(t, pub.srv, prefix+".u.a", true)
	waitSub(t, pub.srv, prefix+".u.b", true)
	publish(t, pub.nc, prefix+".u.a", "before")
	flush(t, pub.nc)
	expect(t, gone, prefix+".u.a", "before")

	if err := goneSub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	flush(t, sub.nc)
	waitSub(t, pub.srv, prefix+".u.a", false)
	in := inMsgs(sub.srv)
	for i := 0; i < 5; i++ {
		publish(t, pub.nc, prefix+".u.a", fmt.Sprint("after", i))
	}
	publish(t, pub.nc, prefix+".u.b", "kept")
	flush(t, pub.nc)
	expect(t, kept, prefix+".u.b", "kept")
	checkInMsgs(t, sub.srv, in, 1, sub.name+"'s link traffic after the unsubscribe (only "+prefix+".u.b)")
	expectNone(t, gone, "unsubscribed")
}

// testDisconnect checks that the interest of a client that goes away,
// plain and queue, is withdrawn across the link.
func testDisconnect(t *testing.T, prefix string, pub, sub side) {
	nc := connect(t, sub.srv, "")
	subscribe(t, nc, prefix+".plain", "")
	subscribe(t, nc, prefix+".q", "g")
	subscribe(t, nc, prefix+".q", "g")
	waitSub(t, pub.srv, prefix+".plain", true)
	waitSub(t, pub.srv, prefix+".q", true)
	nc.Close()
	waitSub(t, pub.srv, prefix+".plain", false)
	waitSub(t, pub.srv, prefix+".q", false)
}

// testVolume sends many messages of varied sizes, every third with
// headers, so that LMSG and HMSG frames split across reads on both kinds of
// server; they must all arrive, intact and in order.
func testVolume(t *testing.T, prefix string, pub, sub side) {
	const n = 5000
	ch, _ := subscribe(t, sub.nc, prefix, "")
	waitSub(t, pub.srv, prefix, true)
	body := func(i int) []byte {
		b := make([]byte, (i*37)%4096)
		for j := range b {
			b[j] = byte('a' + (i+j)%26)
		}
		return b
	}
	big := make([]byte, 1<<20-1024)
	for j := range big {
		big[j] = byte(j)
	}
	// The publisher is waited for before returning: the subscriber may
	// have everything before the publisher's flush has its PONG, and the
	// test's cleanup must not close the connection under that flush.
	published := make(chan struct{})
	defer func() { <-published }()
	go func() {
		defer close(published)
		for i := 0; i < n; i++ {
			m := nats.NewMsg(prefix)
			m.Data = body(i)
			if i == n/2 {
				m.Data = big
			}
			if i%3 == 0 {
				m.Header.Set("Seq", fmt.Sprint(i))
			}
			if err := pub.nc.PublishMsg(m); err != nil {
				t.Errorf("publish %d: %v", i, err)
				return
			}
		}
		if err := pub.nc.Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
	}()
	for i := 0; i < n; i++ {
		m := recv(t, ch, fmt.Sprintf("message %d of %d", i, n))
		want := body(i)
		if i == n/2 {
			want = big
		}
		if string(m.Data) != string(want) {
			t.Fatalf("message %d: %d bytes, want %d", i, len(m.Data), len(want))
		}
		if seq := m.Header.Get("Seq"); (i%3 == 0) != (seq == fmt.Sprint(i)) || (i%3 != 0 && len(m.Header) != 0) {
			t.Fatalf("message %d: headers %v", i, m.Header)
		}
	}
}

// testQueueLocalFirst is scenario 14: a queue group with a member on each
// side serves each side's publishes locally; once the hub member leaves, the
// hub's publishes cross to the leaf member.
func testQueueLocalFirst(t *testing.T, h, l side) {
	hq, hsub := subscribe(t, h.nc, "qq", "g")
	lq, _ := subscribe(t, l.nc, "qq", "g")
	hb, _ := subscribe(t, h.nc, "qq.barrier", "")
	lb, _ := subscribe(t, l.nc, "qq.barrier", "")
	waitSub(t, h.srv, "qq", true)
	waitSub(t, l.srv, "qq", true)
	waitSub(t, h.srv, "qq.barrier", true)
	waitSub(t, l.srv, "qq.barrier", true)

	for _, s := range []struct {
		pub           side
		mine, peer    chan *nats.Msg
		barrier, echo chan *nats.Msg
	}{{h, hq, lq, lb, hb}, {l, lq, hq, hb, lb}} {
		for i := 0; i < 10; i++ {
			publish(t, s.pub.nc, "qq", fmt.Sprint(s.pub.name, i))
		}
		// The barrier crosses the link after any queue message that would
		// have crossed, and reaches the peer member's connection after it.
		publish(t, s.pub.nc, "qq.barrier", s.pub.name)
		flush(t, s.pub.nc)
		for i := 0; i < 10; i++ {
			expect(t, s.mine, "qq", fmt.Sprint(s.pub.name, i))
		}
		expect(t, s.barrier, "qq.barrier", s.pub.name)
		expect(t, s.echo, "qq.barrier", s.pub.name)
		expectNone(t, s.peer, "queue member across the link, with a local member present")
	}

	if err := hsub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	flush(t, h.nc)
	waitSub(t, l.srv, "qq", false)
	for i := 0; i < 10; i++ {
		publish(t, h.nc, "qq", fmt.Sprint("remote", i))
	}
	flush(t, h.nc)
	for i := 0; i < 10; i++ {
		expect(t, lq, "qq", fmt.Sprint("remote", i))
	}
	for i := 0; i < 10; i++ {
		publish(t, l.nc, "qq", fmt.Sprint("local", i))
	}
	flush(t, l.nc)
	for i := 0; i < 10; i++ {
		expect(t, lq, "qq", fmt.Sprint("local", i))
	}
	expectNone(t, hq, "unsubscribed hub member")
}
