package monitor_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/monitor"
)

// hubSpoke is a hub started from a config in walkConf's shape (a
// leafnode listener that binds user leaf to APP) and a spoke of the same
// implementation, linked to it once startSpoke is called.
type hubSpoke struct {
	url, mon, spokeURL    string
	startSpoke, stopSpoke func()
}

func spokeOf(port int) string {
	return fmt.Sprintf(`
listen: "127.0.0.1:-1"
leafnodes { remotes [ { url: "nats-leaf://leaf:lpw@127.0.0.1:%d" } ] }
`, port)
}

// bothHubSpoke runs fn on a Canopy pair and on a nats-server pair.
func bothHubSpoke(t *testing.T, config string, fn func(t *testing.T, p *hubSpoke)) {
	t.Helper()
	t.Run("canopy", func(t *testing.T) {
		hub := natstest.StartCanopy(t, config)
		p := &hubSpoke{url: hub.ClientURL(), mon: startMonitor(t, hub)}
		var spoke *natstest.Canopy
		p.startSpoke = func() {
			spoke = natstest.StartCanopy(t, spokeOf(hub.LeafPort()))
			p.spokeURL = spoke.ClientURL()
		}
		p.stopSpoke = func() { spoke.Stop(t) }
		fn(t, p)
	})
	t.Run("nats-server", func(t *testing.T) {
		hub := natstest.StartNATS(t, config)
		p := &hubSpoke{url: "nats://" + hub.Addr().String(), mon: "http://" + hub.MonitorAddr().String()}
		var spoke *natstest.NATS
		p.startSpoke = func() {
			spoke = natstest.StartNATS(t, spokeOf(hub.LeafPort()))
			p.spokeURL = "nats://" + spoke.Addr().String()
		}
		p.stopSpoke = func() { spoke.Shutdown(); spoke.WaitForShutdown() }
		fn(t, p)
	})
}

// waitLeafInterest waits until the hub's link carries subject's interest.
func waitLeafInterest(t *testing.T, mon, subject string) {
	t.Helper()
	natstest.WaitFor(t, wait, "the spoke's interest on the hub", func() bool {
		var lz struct {
			Leafs []struct {
				Subs []string `json:"subscriptions_list"`
			}
		}
		getJSON(t, mon+"/leafz?subs=true", &lz)
		return len(lz.Leafs) == 1 && slices.Contains(lz.Leafs[0].Subs, subject)
	})
}

// TestAccountCounters: the per-account message figures of /accstatz and
// of $SYS.REQ.ACCOUNT.APP.STATZ count what nats-server counts, split by
// the leaf link: messages published on the hub and delivered locally and
// over the link, and messages that came over the link.
func TestAccountCounters(t *testing.T) {
	const hello = "hello" // 5 bytes
	want := monitor.AccountStat{Account: "APP", Name: "APP", Conns: 2, LeafNodes: 1, TotalConns: 3,
		// Received: 3 published on the hub, 2 over the link.
		Received: monitor.DataStats{MsgBytes: monitor.MsgBytes{Msgs: 5, Bytes: 25},
			Gateways: &monitor.MsgBytes{}, Routes: &monitor.MsgBytes{}, Leafs: &monitor.MsgBytes{Msgs: 2, Bytes: 10}},
		// Sent: the hub's 3 to the local subscriber and over the link,
		// the link's 2 to the local subscriber.
		Sent: monitor.DataStats{MsgBytes: monitor.MsgBytes{Msgs: 8, Bytes: 40},
			Gateways: &monitor.MsgBytes{}, Routes: &monitor.MsgBytes{}, Leafs: &monitor.MsgBytes{Msgs: 3, Bytes: 15}}}
	bothHubSpoke(t, walkConf, func(t *testing.T, p *hubSpoke) {
		sys := natstest.Connect(t, p.url, nats.UserInfo("sys", "pass"))
		got := make(chan *nats.Msg, 16)
		sub := natstest.Connect(t, p.url, nats.UserInfo("app", "pass"))
		if _, err := sub.ChanSubscribe("foo.>", got); err != nil {
			t.Fatal(err)
		}
		flush(t, sub)
		// The spoke starts after the hub's interest exists, so that
		// interest is in the link's first burst, which reaches the spoke
		// before anything its client publishes once the link is up.
		p.startSpoke()
		remote := natstest.Connect(t, p.spokeURL)
		rgot := make(chan *nats.Msg, 16)
		if _, err := remote.ChanSubscribe("foo.x", rgot); err != nil {
			t.Fatal(err)
		}
		flush(t, remote)
		waitLeafInterest(t, p.mon, "foo.x")
		pub := natstest.Connect(t, p.url, nats.UserInfo("app", "pass"))
		for range 3 {
			if err := pub.Publish("foo.x", []byte(hello)); err != nil {
				t.Fatal(err)
			}
		}
		flush(t, pub)
		for range 2 {
			if err := remote.Publish("foo.y", []byte(hello)); err != nil {
				t.Fatal(err)
			}
		}
		flush(t, remote)
		for i := range 5 {
			select {
			case <-got:
			case <-time.After(wait):
				t.Fatalf("hub subscriber got %d of 5", i)
			}
		}
		for i := range 3 {
			select {
			case <-rgot:
			case <-time.After(wait):
				t.Fatalf("spoke subscriber got %d of 3", i)
			}
		}
		// The figures are published once per event: bounded retries
		// until they are complete.
		var a monitor.AccountStat
		for deadline := time.Now().Add(wait); ; {
			var sz monitor.AccountStatz
			getJSON(t, p.mon+"/accstatz", &sz)
			for _, x := range sz.Accounts {
				if x.Account == "APP" {
					a = *x
				}
			}
			a.NumSubs = 0
			if reflect.DeepEqual(a, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/accstatz APP:\n got %s\nwant %s", show(a), show(want))
			}
			time.Sleep(20 * time.Millisecond)
		}
		b := sysRequest(t, sys, "$SYS.REQ.ACCOUNT.APP.STATZ", "", wait)
		var resp struct {
			Data monitor.AccountStatz `json:"data"`
		}
		if err := json.Unmarshal(b, &resp); err != nil || len(resp.Data.Accounts) != 1 {
			t.Fatalf("STATZ: %s (%v)", b, err)
		}
		a = *resp.Data.Accounts[0]
		a.NumSubs = 0
		if !reflect.DeepEqual(a, want) {
			t.Errorf("$SYS.REQ.ACCOUNT.APP.STATZ:\n got %s\nwant %s", show(a), show(want))
		}
	})
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestUserInfoPermissions: $SYS.REQ.USER.INFO tells the caller its
// permissions, as nats-server does (lists compared as sets: nats-server
// lists them in its sublist's order).
func TestUserInfoPermissions(t *testing.T) {
	const config = `
accounts {
  SYS { users [{user: sys, password: pass}] }
  APP { users [
    {user: app, password: pass, permissions: {
      publish: {allow: ["foo.>", "$SYS.REQ.USER.INFO", "_INBOX.>"], deny: ["foo.secret"]},
      subscribe: {allow: ["foo.*", "_INBOX.>", "bar workers"], deny: ["foo.x"]}}},
    {user: resp, password: pass, permissions: {publish: ["$SYS.REQ.USER.INFO"], subscribe: ["svc", "_INBOX.>"], allow_responses: {max: 3, expires: "1m"}}},
    {user: free, password: pass}
  ] }
}
system_account: SYS
`
	got := map[string][]string{}
	sysServers(t, config, func(t *testing.T, url, _ string) {
		var out []string
		for _, user := range []string{"app", "resp", "free"} {
			nc := natstest.Connect(t, url, nats.UserInfo(user, "pass"))
			b := sysRequest(t, nc, "$SYS.REQ.USER.INFO", "", wait)
			var r struct {
				Data map[string]any `json:"data"`
			}
			if err := json.Unmarshal(b, &r); err != nil || r.Data == nil {
				t.Fatalf("%s: %s (%v)", user, b, err)
			}
			out = append(out, user+": "+canonical(r.Data))
		}
		got[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = out
	})
	if c, n := got["canopy"], got["nats-server"]; c != nil && n != nil && !reflect.DeepEqual(c, n) {
		t.Errorf("user info differs:\n canopy      %q\n nats-server %q", c, n)
	}
}

// canonical prints a JSON value with its arrays sorted.
func canonical(v any) string {
	switch x := v.(type) {
	case map[string]any:
		ks := make([]string, 0, len(x))
		for k := range x {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		var b strings.Builder
		b.WriteString("{")
		for _, k := range ks {
			fmt.Fprintf(&b, "%s:%s ", k, canonical(x[k]))
		}
		b.WriteString("}")
		return b.String()
	case []any:
		es := make([]string, len(x))
		for i, e := range x {
			es[i] = canonical(e)
		}
		sort.Strings(es)
		return "[" + strings.Join(es, ",") + "]"
	}
	return fmt.Sprint(v)
}

// TestLeafConnectEvents: a leaf link's arrival and departure in the
// system account's events, as nats-server sends them: the soliciting side
// sends $SYS.ACCOUNT.<acc>.CONNECT of kind Leafnode, the accepting side
// only the account's new connection count; either side sends DISCONNECT
// of kind Leafnode when the link goes, and the count again. The events
// have nats-server's keys.
func TestLeafConnectEvents(t *testing.T) {
	type event struct {
		Client struct{ Kind string } `json:"client"`
		Leafs  *int                  `json:"leafnodes"`
	}
	// expect reads events until every one of want (the subject, with the
	// client's kind or the leafnodes figure appended) has arrived, in any
	// order (nats-server sends the count from another goroutine than the
	// event), and records the keys of each.
	expect := func(t *testing.T, sub *nats.Subscription, got map[string]map[string]bool, want ...string) {
		t.Helper()
		deadline := time.Now().Add(wait)
		for _, w := range want {
			for got[w] == nil {
				m, err := sub.NextMsg(time.Until(deadline))
				if err != nil {
					t.Fatalf("no %s (seen %v): %v", w, sortedKeys(got), err)
				}
				var ev event
				if err := json.Unmarshal(m.Data, &ev); err != nil {
					t.Fatal(err)
				}
				key := m.Subject
				if ev.Client.Kind != "" {
					key += " " + ev.Client.Kind
				}
				if ev.Leafs != nil {
					key += fmt.Sprintf(" leafnodes=%d", *ev.Leafs)
				}
				got[key] = keySet(t, m.Data)
			}
		}
	}
	seen := map[string]map[string]map[string]bool{}
	name := func(t *testing.T) string { return t.Name()[strings.LastIndexByte(t.Name(), '/')+1:] }
	t.Run("accepting", func(t *testing.T) {
		bothHubSpoke(t, walkConf, func(t *testing.T, p *hubSpoke) {
			sys := natstest.Connect(t, p.url, nats.UserInfo("sys", "pass"))
			sub, err := sys.SubscribeSync("$SYS.ACCOUNT.APP.>")
			if err != nil {
				t.Fatal(err)
			}
			flush(t, sys)
			got := map[string]map[string]bool{}
			p.startSpoke()
			expect(t, sub, got, "$SYS.ACCOUNT.APP.SERVER.CONNS leafnodes=1")
			p.stopSpoke()
			expect(t, sub, got, "$SYS.ACCOUNT.APP.DISCONNECT Leafnode", "$SYS.ACCOUNT.APP.SERVER.CONNS leafnodes=0")
			seen["accepting "+name(t)] = got
		})
	})
	t.Run("soliciting", func(t *testing.T) {
		// The spoke is up and listened to before its hub exists; the
		// link comes when the hub starts on the port it retries.
		hubConf := func(port int) string {
			return fmt.Sprintf("listen: \"127.0.0.1:-1\"\nleafnodes { listen: \"127.0.0.1:%d\" }\n", port)
		}
		spokeConf := func(port int) string {
			return fmt.Sprintf(`
listen: "127.0.0.1:-1"
accounts { SYS { users [{user: sys, password: pass}] }, APP { users [{user: app, password: pass}] } }
system_account: SYS
leafnodes { reconnect: "100ms", remotes [ { url: "nats-leaf://127.0.0.1:%d", account: APP } ] }
`, port)
		}
		watch := func(t *testing.T, url string, start func()) {
			sys := natstest.Connect(t, url, nats.UserInfo("sys", "pass"))
			sub, err := sys.SubscribeSync("$SYS.ACCOUNT.APP.>")
			if err != nil {
				t.Fatal(err)
			}
			flush(t, sys)
			got := map[string]map[string]bool{}
			start()
			expect(t, sub, got, "$SYS.ACCOUNT.APP.CONNECT Leafnode", "$SYS.ACCOUNT.APP.SERVER.CONNS leafnodes=1")
			seen["soliciting "+name(t)] = got
		}
		t.Run("canopy", func(t *testing.T) {
			port := natstest.FreePort(t)
			spoke := natstest.StartCanopy(t, spokeConf(port))
			monitor.New(spoke.Server, quiet{})
			watch(t, spoke.ClientURL(), func() { natstest.StartCanopy(t, hubConf(port)) })
		})
		t.Run("nats-server", func(t *testing.T) {
			port := natstest.FreePort(t)
			spoke := natstest.StartNATS(t, spokeConf(port))
			watch(t, "nats://"+spoke.Addr().String(), func() { natstest.StartNATS(t, hubConf(port)) })
		})
	})
	for _, side := range []string{"accepting", "soliciting"} {
		c, n := seen[side+" canopy"], seen[side+" nats-server"]
		if c == nil || n == nil {
			continue
		}
		if fmt.Sprint(sortedKeys(c)) != fmt.Sprint(sortedKeys(n)) {
			t.Errorf("%s side: canopy sent %v, nats-server %v", side, sortedKeys(c), sortedKeys(n))
		}
		compareKeys(t, c, n)
	}
}

// TestAccountCountersImports: messages that cross accounts through
// stream and service imports are counted in the accounts nats-server
// counts them in.
func TestAccountCountersImports(t *testing.T) {
	const config = `
http: "127.0.0.1:-1"
accounts {
  APP {
    users [{user: app, password: pass}]
    imports [{service: {account: OTHER, subject: "other.svc"}, to: "osvc"}, {stream: {account: OTHER, subject: "other.ev.>"}, prefix: "imp"}]
  }
  OTHER {
    users [{user: other, password: pass}]
    exports [{service: "other.svc"}, {stream: "other.ev.>"}]
  }
}
`
	got := map[string]string{}
	run := func(t *testing.T, url, mon string) {
		app := natstest.Connect(t, url, nats.UserInfo("app", "pass"))
		evs := make(chan *nats.Msg, 8)
		if _, err := app.ChanSubscribe("imp.>", evs); err != nil {
			t.Fatal(err)
		}
		flush(t, app)
		other := natstest.Connect(t, url, nats.UserInfo("other", "pass"))
		if _, err := other.Subscribe("other.svc", func(m *nats.Msg) { _ = m.Respond([]byte("answer")) }); err != nil {
			t.Fatal(err)
		}
		flush(t, other)
		for range 2 {
			if err := other.Publish("other.ev.1", []byte("event")); err != nil {
				t.Fatal(err)
			}
		}
		flush(t, other)
		for i := range 2 {
			select {
			case <-evs:
			case <-time.After(wait):
				t.Fatalf("got %d of 2 imported events", i)
			}
		}
		if _, err := app.Request("osvc", []byte("question"), wait); err != nil {
			t.Fatal(err)
		}
		// APP published the request (8 bytes) and got the answer (6);
		// OTHER published two events (5 bytes each) and the answer, and
		// the events, delivered to APP through the stream import, count
		// as sent in OTHER with the request. The figures are published
		// once per event: bounded retries until they are all in.
		const want = "APP received {Msgs:1 Bytes:8} sent {Msgs:1 Bytes:6}; OTHER received {Msgs:3 Bytes:16} sent 3 msgs"
		var figures string
		for deadline := time.Now().Add(wait); figures != want && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var sz monitor.AccountStatz
			getJSON(t, mon+"/accstatz", &sz)
			var parts []string
			for _, a := range sz.Accounts {
				switch a.Account {
				case "APP":
					parts = append(parts, fmt.Sprintf("APP received %+v sent %+v", a.Received.MsgBytes, a.Sent.MsgBytes))
				case "OTHER":
					// The request delivered in OTHER carries, on
					// nats-server, a Nats-Request-Info header Canopy
					// does not add: its sent bytes differ by that.
					parts = append(parts, fmt.Sprintf("OTHER received %+v sent %d msgs", a.Received.MsgBytes, a.Sent.Msgs))
				}
			}
			sort.Strings(parts)
			figures = strings.Join(parts, "; ")
		}
		if figures != want {
			t.Errorf("per-account figures:\n got %s\nwant %s", figures, want)
		}
		got[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = figures
	}
	t.Run("canopy", func(t *testing.T) {
		c := natstest.StartCanopy(t, config)
		run(t, c.ClientURL(), startMonitor(t, c))
	})
	t.Run("nats-server", func(t *testing.T) {
		n := natstest.StartNATS(t, config)
		run(t, "nats://"+n.Addr().String(), "http://"+n.MonitorAddr().String())
	})
	if c, n := got["canopy"], got["nats-server"]; c != n {
		t.Errorf("per-account figures differ:\n canopy      %s\n nats-server %s", c, n)
	}
}
