package leaf_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// jsConfig is a nats-server with JetStream in domain, its store in the
// test's temp dir.
func jsConfig(t testing.TB, name, domain string) string {
	return fmt.Sprintf("server_name: %s\njetstream { store_dir: %q, domain: %s }\n", name, t.TempDir(), domain)
}

// jsTopology is where JetStream runs and where its clients connect. The
// JetStream server is always nats-server; the others are of the kind the
// test runs, so that each topology runs with Canopy and, as the
// reference, with nats-server in its place.
type jsTopology struct {
	name string
	// start builds the servers and returns the one clients use and the
	// JetStream domain they address.
	start func(t *testing.T, k kind) (server, string)
}

var jsTopologies = []jsTopology{
	{"js-hub", func(t *testing.T, k kind) (server, string) {
		hub := start(t, natsKind, jsConfig(t, "hub", "hub")+"leafnodes { listen: \"127.0.0.1:-1\" }\n")
		lf := start(t, k, leafConfig("leaf", false, remoteTo(hub)))
		waitLinks(t, hub, 1)
		waitLinks(t, lf, 1)
		return lf, "hub"
	}},
	{"js-leaf", func(t *testing.T, k kind) (server, string) {
		hub := start(t, k, hubConfig("hub"))
		lf := start(t, natsKind, jsConfig(t, "leaf", "edge")+leafConfig("leaf", false, remoteTo(hub)))
		waitLinks(t, hub, 1)
		waitLinks(t, lf, 1)
		return hub, "edge"
	}},
	// A chain: the deliveries cross two links, the middle server passing
	// them on encoded, the last one decoding them for its client.
	{"js-hub-chain", func(t *testing.T, k kind) (server, string) {
		hub := start(t, natsKind, jsConfig(t, "hub", "hub")+"leafnodes { listen: \"127.0.0.1:-1\" }\n")
		mid := start(t, k, leafConfig("mid", true, remoteTo(hub)))
		lf := start(t, k, leafConfig("leaf", false, remoteTo(mid)))
		waitLinks(t, hub, 1)
		waitLinks(t, mid, 2)
		waitLinks(t, lf, 1)
		return lf, "hub"
	}},
	// The same with the other kind at the end: a Canopy in the middle
	// must pass on what nats-server decodes, and the reverse.
	{"js-hub-chain-mixed", func(t *testing.T, k kind) (server, string) {
		hub := start(t, natsKind, jsConfig(t, "hub", "hub")+"leafnodes { listen: \"127.0.0.1:-1\" }\n")
		mid := start(t, k, leafConfig("mid", true, remoteTo(hub)))
		lf := start(t, other(k), leafConfig("leaf", false, remoteTo(mid)))
		waitLinks(t, hub, 1)
		waitLinks(t, mid, 2)
		waitLinks(t, lf, 1)
		return lf, "hub"
	}},
	// JetStream on the far leaf of a chain, its client on the top hub.
	{"js-leaf-chain", func(t *testing.T, k kind) (server, string) {
		hub := start(t, k, hubConfig("hub"))
		mid := start(t, k, leafConfig("mid", true, remoteTo(hub)))
		lf := start(t, natsKind, jsConfig(t, "leaf", "edge")+leafConfig("leaf", false, remoteTo(mid)))
		waitLinks(t, hub, 1)
		waitLinks(t, mid, 2)
		waitLinks(t, lf, 1)
		return hub, "edge"
	}},
}

// other is the kind that is not k.
func other(k kind) kind {
	if k == natsKind {
		return canopyKind
	}
	return natsKind
}

// TestLeafJetStream drives JetStream through leaf links with nats.go's
// jetstream package: consumers of every kind, KV and the object store,
// with the client on a server that has no JetStream of its own. Each
// topology runs with Canopy and with nats-server as the servers between.
func TestLeafJetStream(t *testing.T) {
	t.Parallel()
	for _, topo := range jsTopologies {
		for _, k := range []kind{canopyKind, natsKind} {
			t.Run(topo.name+"/"+k.String(), func(t *testing.T) {
				t.Parallel()
				s, domain := topo.start(t, k)
				// The API is reachable once its interest has crossed: the
				// JetStream server announces each part of it.
				for _, api := range []string{"INFO", "STREAM.>", "CONSUMER.>", "DIRECT.>", "$KV.>", "$OBJ.>"} {
					waitSub(t, s, "$JS."+domain+".API."+api, true)
				}
				nc := connect(t, s, "")
				js, err := jetstream.NewWithDomain(nc, domain)
				if err != nil {
					t.Fatal(err)
				}
				t.Run("pull", func(t *testing.T) { jsPull(t, s, js) })
				t.Run("push", func(t *testing.T) { jsPush(t, s, nc, js) })
				t.Run("ordered", func(t *testing.T) { jsOrdered(t, s, js) })
				t.Run("kv", func(t *testing.T) { jsKV(t, js) })
				t.Run("obj", func(t *testing.T) { jsObj(t, js) })
			})
		}
	}
}

// jsCtx bounds one JetStream step.
func jsCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// jsStream creates a stream on subjects prefix.> and publishes n messages
// to prefix.0 … prefix.n-1, once the stream's interest has reached s.
func jsStream(t *testing.T, s server, js jetstream.JetStream, name, prefix string, n int) jetstream.Stream {
	t.Helper()
	ctx := jsCtx(t)
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{prefix + ".>"}})
	if err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	waitSub(t, s, prefix+".>", true)
	for i := 0; i < n; i++ {
		if _, err := js.Publish(ctx, fmt.Sprintf("%s.%d", prefix, i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	return st
}

// jsPull: Fetch returns the messages under their stream subjects, and acks
// move the consumer's ack floor.
func jsPull(t *testing.T, s server, js jetstream.JetStream) {
	ctx := jsCtx(t)
	st := jsStream(t, s, js, "PULL", "pull", 3)
	cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "C1", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for m := range batch.Messages() {
		if want := fmt.Sprintf("pull.%d", i); m.Subject() != want || string(m.Data()) != fmt.Sprint(i) {
			t.Fatalf("message %d: %s %q, want %s", i, m.Subject(), m.Data(), want)
		}
		meta, err := m.Metadata()
		if err != nil {
			t.Fatalf("message %d: metadata of reply %q: %v", i, m.Reply(), err)
		}
		if meta.Sequence.Stream != uint64(i+1) {
			t.Fatalf("message %d: stream sequence %d", i, meta.Sequence.Stream)
		}
		// Two plain acks, and a double ack that the server confirms.
		if i < 2 {
			err = m.Ack()
		} else {
			err = m.DoubleAck(ctx)
		}
		if err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
		i++
	}
	if err := batch.Error(); err != nil {
		t.Fatal(err)
	}
	if i != 3 {
		t.Fatalf("fetched %d messages, want 3", i)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The double ack was confirmed after the plain ones were sent on the
	// same connection, so all three have been processed.
	if info.AckFloor.Consumer != 3 || info.AckFloor.Stream != 3 || info.NumAckPending != 0 {
		t.Fatalf("ack floor %+v, %d pending, want 3/3 and none", info.AckFloor, info.NumAckPending)
	}
}

// jsPush: a push consumer delivers to its deliver subject, each message
// under its stream subject, and acks reach the stream.
func jsPush(t *testing.T, s server, nc *nats.Conn, js jetstream.JetStream) {
	ctx := jsCtx(t)
	jsStream(t, s, js, "PUSH", "push", 3)
	deliver := nc.NewRespInbox()
	cons, err := js.CreatePushConsumer(ctx, "PUSH", jetstream.ConsumerConfig{
		Durable: "P1", DeliverSubject: deliver, AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan jetstream.Msg, 16)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		got <- m
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	for i := 0; i < 3; i++ {
		select {
		case m := <-got:
			if want := fmt.Sprintf("push.%d", i); m.Subject() != want {
				t.Fatalf("message %d: subject %s, want %s", i, m.Subject(), want)
			}
		case <-ctx.Done():
			t.Fatalf("push consumer: %d of 3 messages", i)
		}
	}
	natstest.WaitFor(t, 5*time.Second, "push consumer's ack floor at 3", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.AckFloor.Stream == 3
	})
}

// jsOrdered: an ordered consumer sees the stream in order, with subjects.
func jsOrdered(t *testing.T, s server, js jetstream.JetStream) {
	ctx := jsCtx(t)
	jsStream(t, s, js, "ORD", "ord", 5)
	cons, err := js.OrderedConsumer(ctx, "ORD", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("next %d: %v", i, err)
		}
		if want := fmt.Sprintf("ord.%d", i); m.Subject() != want {
			t.Fatalf("message %d: subject %s, want %s", i, m.Subject(), want)
		}
	}
}

// jsKV: Put, Get, Keys, History and Watch, which list keys and watch
// through ordered consumers.
func jsKV(t *testing.T, js jetstream.JetStream) {
	ctx := jsCtx(t)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "B", History: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, kvp := range [][2]string{{"a", "1"}, {"b", "2"}, {"a", "3"}} {
		if _, err := kv.Put(ctx, kvp[0], []byte(kvp[1])); err != nil {
			t.Fatalf("put %s: %v", kvp[0], err)
		}
	}
	e, err := kv.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Value()) != "3" || e.Revision() != 3 {
		t.Fatalf("get a: %q revision %d, want \"3\" revision 3", e.Value(), e.Revision())
	}
	keys, err := kv.Keys(ctx)
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"a", "b"}) {
		t.Fatalf("keys %v", keys)
	}
	hist, err := kv.History(ctx, "a")
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if len(hist) != 2 || string(hist[0].Value()) != "1" || string(hist[1].Value()) != "3" {
		t.Fatalf("history of a: %d entries", len(hist))
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var seen []string
	for initial := true; ; {
		select {
		case e := <-w.Updates():
			if e == nil {
				if !initial {
					t.Fatal("second end-of-initial-values marker")
				}
				// The current values are in; a new one must follow.
				initial = false
				if _, err := kv.Put(ctx, "c", []byte("4")); err != nil {
					t.Fatal(err)
				}
				continue
			}
			seen = append(seen, e.Key()+"="+string(e.Value()))
			if !initial {
				if want := []string{"b=2", "a=3", "c=4"}; !slices.Equal(seen, want) {
					t.Fatalf("watch saw %v, want %v", seen, want)
				}
				return
			}
		case <-ctx.Done():
			t.Fatalf("watch: saw only %v", seen)
		}
	}
}

// jsObj: an object larger than one chunk goes in and comes back intact.
func jsObj(t *testing.T, js jetstream.JetStream) {
	ctx := jsCtx(t)
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "OB"})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("canopy object "), 20000) // 280 kB: three chunks
	if _, err := obs.PutBytes(ctx, "obj", data); err != nil {
		t.Fatalf("put: %v", err)
	}
	got, err := obs.GetBytes(ctx, "obj")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("object came back with %d bytes, want %d", len(got), len(data))
	}
	if _, err := obs.GetBytes(ctx, "missing"); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Fatalf("get missing: %v", err)
	}
}

// TestLeafJSAckWire speaks to each kind of hub as two raw leafs: a
// JetStream delivery that one sends reaches the hub's client under the
// subject after the '@' (the first after the eighth dot, however many a
// name holds before it), with the reply cut there, and reaches the other
// leaf exactly as it was sent. A reply with nothing after the '@' is no
// encoding, and goes to everyone as it is.
func TestLeafJSAckWire(t *testing.T) {
	t.Parallel()
	const ack = "$JS.ACK.S@T.C@1.1.2.2.1796512161904540082.0"
	for _, k := range []kind{canopyKind, natsKind} {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			hub := start(t, k, hubConfig("hub"))
			hc := connect(t, hub, "")
			inbox, _ := subscribe(t, hc, "_INBOX.d", "")
			queue, _ := subscribe(t, hc, "_INBOX.d", "q")
			stream, _ := subscribe(t, hc, "st.>", "")
			src := dialRawLeaf(t, hub)
			src.handshake(`{"name":"src","cluster":"src","headers":true,"version":"2.15.2","remote_account":"$G"}`)
			dst := dialRawLeaf(t, hub)
			dst.handshake(`{"name":"dst","cluster":"dst","headers":true,"version":"2.15.2","remote_account":"$G"}`)
			dst.send("LS+ _INBOX.d\r\nPING\r\n")
			dst.until("PONG")
			waitSub(t, hub, "_INBOX.d", true)

			src.send("LMSG _INBOX.d + " + ack + "@st.a@b q 2\r\nhi\r\n")
			for _, ch := range []chan *nats.Msg{inbox, queue} {
				m := expect(t, ch, "st.a@b", "hi")
				if m.Reply != ack {
					t.Fatalf("reply %q, want %q", m.Reply, ack)
				}
			}
			if l := dst.until("LMSG "); l != "LMSG _INBOX.d "+ack+"@st.a@b 2" {
				t.Fatalf("the other leaf got %q", l)
			}

			src.send("LMSG _INBOX.d " + ack + "@ 2\r\nho\r\n")
			m := expect(t, inbox, "_INBOX.d", "ho")
			if m.Reply != ack+"@" {
				t.Fatalf("reply %q, want %q", m.Reply, ack+"@")
			}
			if l := dst.until("LMSG "); l != "LMSG _INBOX.d "+ack+"@ 2" {
				t.Fatalf("the other leaf got %q", l)
			}
			// Matching is by the subject on the wire: the stream subject's
			// own subscriber got nothing.
			flush(t, hc)
			expectNone(t, stream, "subscriber of the stream subject")
		})
	}
}

// TestLeafJetStreamThroughImports puts accounts between JetStream and its
// client: the leaf binds its link to account JS, which exports the
// JetStream API (answered as a stream: one pull request, many messages),
// the acks and the stream's subjects as services; the client is in
// account APP and imports them. A pull consumer's messages cross the link
// to the import's reply subject with the ack reply encoded, then the
// import back into APP: the client must see the stream subject and an ack
// reply that advances the ack floor. It runs with a Canopy leaf and, as
// the reference, a nats-server leaf.
func TestLeafJetStreamThroughImports(t *testing.T) {
	t.Parallel()
	for _, k := range []kind{canopyKind, natsKind} {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			hub := start(t, natsKind, jsConfig(t, "hub", "hub")+"leafnodes { listen: \"127.0.0.1:-1\" }\n")
			lf := start(t, k, `server_name: leaf
accounts {
  JS: {
    users: [ { user: js, password: js } ]
    exports: [
      { service: "$JS.hub.API.>", response: stream }
      { service: "$JS.ACK.>" }
      { service: "pull.>" }
    ]
  }
  APP: {
    users: [ { user: app, password: app } ]
    imports: [
      { service: { account: JS, subject: "$JS.hub.API.>" } }
      { service: { account: JS, subject: "$JS.ACK.>" } }
      { service: { account: JS, subject: "pull.>" } }
    ]
  }
}
`+leafConfig("leaf", false, remoteTo(hub)+", account: JS")[len("server_name: leaf\n"):])
			waitLinks(t, hub, 1)
			waitLinks(t, lf, 1)
			for _, api := range []string{"INFO", "STREAM.>", "CONSUMER.>"} {
				waitSub(t, lf, "$JS.hub.API."+api, true)
			}
			nc := connect(t, lf, "app:app")
			js, err := jetstream.NewWithDomain(nc, "hub")
			if err != nil {
				t.Fatal(err)
			}
			jsPull(t, lf, js)
		})
	}
}
