package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/monitor"
)

// wait bounds every expectation; a passing test never waits this long.
const wait = 10 * time.Second

// quiet is a logger that drops everything.
type quiet struct{}

func (quiet) Noticef(string, ...any) {}
func (quiet) Errorf(string, ...any)  {}

// startMonitor serves c's monitoring endpoints on a random port and
// returns their base URL.
func startMonitor(t testing.TB, c *natstest.Canopy) string {
	t.Helper()
	m := monitor.New(c.Server, quiet{})
	if err := m.Start("127.0.0.1", -1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	return "http://" + m.Addr().String()
}

// get fetches url and returns the status and body.
func get(t testing.TB, url string) (int, []byte, http.Header) {
	t.Helper()
	cl := &http.Client{Timeout: wait}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b, resp.Header
}

// getJSON fetches url, checks it answered 200 with JSON, and decodes it.
func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	code, b, h := get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, code, b)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", url, ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, b)
	}
}

// hubConf is a hub with one application account, whose leafs log in as a
// leafnode user bound to that account.
const hubConf = `
listen: "127.0.0.1:-1"
accounts {
  APP: { users: [ {user: app, password: pw} ] }
}
leafnodes {
  listen: "127.0.0.1:-1"
  authorization { user: leaf, password: lpw, account: APP }
}
`

func spokeConf(hubLeafPort int) string {
	return fmt.Sprintf(`
listen: "127.0.0.1:-1"
leafnodes {
  remotes [ { url: "nats-leaf://leaf:lpw@127.0.0.1:%d" } ]
}
`, hubLeafPort)
}

// TestEndpoints fetches every endpoint of a hub and of its leaf while
// clients and the link are up, and checks the figures against what the
// test did: connections, messages and bytes, subscriptions, the link with
// its account and interest, closed connections.
func TestEndpoints(t *testing.T) {
	hub := natstest.StartCanopy(t, hubConf)
	spoke := natstest.StartCanopy(t, spokeConf(hub.LeafPort()))
	hubURL, spokeURL := startMonitor(t, hub), startMonitor(t, spoke)
	natstest.WaitFor(t, wait, "leaf link", func() bool { return hub.NumLeafs() == 1 && spoke.NumLeafs() == 1 })

	sc := natstest.Connect(t, spoke.ClientURL(), nats.Name("spoke-sub"))
	if _, err := sc.SubscribeSync("spoke.x"); err != nil {
		t.Fatal(err)
	}
	sc.Flush()

	sub := natstest.Connect(t, hub.ClientURL(), nats.UserInfo("app", "pw"), nats.Name("sub"))
	got := make(chan struct{}, 100)
	if _, err := sub.Subscribe("foo.>", func(*nats.Msg) { got <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.QueueSubscribe("bar", "q", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	sub.Flush()
	pub := natstest.Connect(t, hub.ClientURL(), nats.UserInfo("app", "pw"), nats.Name("pub"))
	const n, size = 10, 5
	for range n {
		if err := pub.Publish("foo.x", []byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	pub.Flush()
	for i := range n {
		select {
		case <-got:
		case <-time.After(wait):
			t.Fatalf("got %d of %d messages", i, n)
		}
	}
	gone := natstest.Connect(t, hub.ClientURL(), nats.UserInfo("app", "pw"), nats.Name("gone"))
	gone.Close()
	natstest.WaitFor(t, wait, "spoke interest on the hub", func() bool {
		var lz monitor.Leafz
		getJSON(t, hubURL+"/leafz?subs=1", &lz)
		return len(lz.Leafs) == 1 && slices.Contains(lz.Leafs[0].Subs, "spoke.x")
	})
	natstest.WaitFor(t, wait, "closed connection", func() bool {
		var cz monitor.Connz
		getJSON(t, hubURL+"/connz?state=closed", &cz)
		return cz.Total == 1
	})

	t.Run("varz", func(t *testing.T) {
		var v monitor.Varz
		getJSON(t, hubURL+"/varz", &v)
		if v.ID != hub.ID() || v.Version != "2.15.2" || v.Proto != 1 || v.Port != hub.ClientAddr().(*net.TCPAddr).Port {
			t.Fatalf("identity: %+v", v)
		}
		checks := []struct {
			name      string
			got, want int64
		}{
			{"connections", int64(v.Connections), 2},
			{"total_connections", int64(v.TotalConnections), 3}, // sub, pub and gone; leafs are not counted
			{"leafnodes", int64(v.Leafs), 1},
			{"in_msgs", v.InMsgs, n},
			{"in_bytes", v.InBytes, n * size},
			{"out_msgs", v.OutMsgs, n},
			{"out_bytes", v.OutBytes, n * size},
			{"in_client_msgs", v.InClientMsgs, n},
			{"out_client_msgs", v.OutClientMsgs, n},
			{"leaf.port", int64(v.LeafNode.Port), int64(hub.LeafPort())},
			{"max_payload", int64(v.MaxPayload), 1 << 20},
			{"ping_interval", int64(v.PingInterval), int64(2 * time.Minute)},
			{"http_req_stats[/varz]", int64(v.HTTPReqStats["/varz"]), 1},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
			}
		}
		// Client subscriptions (2), the spoke's interest (spoke.x and
		// its loop-detection subject) and the hub's own loop-detection
		// subscription for the link make up the rest; at least the two.
		if v.Subscriptions < 2 {
			t.Errorf("subscriptions = %d", v.Subscriptions)
		}
		if !v.AuthRequired || v.Uptime == "" || v.Start.IsZero() || v.ConfigLoadTime.IsZero() {
			t.Errorf("varz: %+v", v)
		}
		var sv monitor.Varz
		getJSON(t, spokeURL+"/varz", &sv)
		if len(sv.LeafNode.Remotes) != 1 || sv.LeafNode.Remotes[0].LocalAccount != "$G" ||
			sv.LeafNode.Remotes[0].URLs[0] != fmt.Sprintf("127.0.0.1:%d", hub.LeafPort()) {
			t.Errorf("spoke leaf remotes: %+v", sv.LeafNode)
		}
		if sv.Leafs != 1 || sv.Connections != 1 {
			t.Errorf("spoke: leafnodes %d connections %d", sv.Leafs, sv.Connections)
		}
	})

	t.Run("connz", func(t *testing.T) {
		var cz monitor.Connz
		getJSON(t, hubURL+"/connz?subs=1&auth=1", &cz)
		if cz.NumConns != 3 || cz.Total != 3 || cz.Limit != monitor.DefaultConnListSize {
			t.Fatalf("num_connections %d total %d limit %d", cz.NumConns, cz.Total, cz.Limit)
		}
		byName := map[string]*monitor.ConnInfo{}
		for i, c := range cz.Conns {
			byName[c.Name] = c
			if i > 0 && c.Cid < cz.Conns[i-1].Cid {
				t.Errorf("not sorted by cid: %d after %d", c.Cid, cz.Conns[i-1].Cid)
			}
		}
		s, p := byName["sub"], byName["pub"]
		if s == nil || p == nil {
			t.Fatalf("clients missing: %+v", byName)
		}
		if s.Kind != "Client" || s.Type != "nats" || s.Lang != "go" || s.Version == "" || s.IP != "127.0.0.1" || s.Port == 0 {
			t.Errorf("sub: %+v", s)
		}
		if s.NumSubs != 2 || !slices.Contains(s.Subs, "foo.>") || !slices.Contains(s.Subs, "bar") {
			t.Errorf("sub subscriptions: %d %v", s.NumSubs, s.Subs)
		}
		if s.OutMsgs != n || s.OutBytes != n*size || s.InMsgs != 0 {
			t.Errorf("sub figures: out %d/%d in %d", s.OutMsgs, s.OutBytes, s.InMsgs)
		}
		if p.InMsgs != n || p.InBytes != n*size || p.OutMsgs != 0 {
			t.Errorf("pub figures: in %d/%d out %d", p.InMsgs, p.InBytes, p.OutMsgs)
		}
		if s.AuthorizedUser != "app" || s.Account != "APP" || s.NameTag != "APP" {
			t.Errorf("sub auth: user %q account %q", s.AuthorizedUser, s.Account)
		}
		var leafConn *monitor.ConnInfo
		for _, c := range cz.Conns {
			if c.Kind == "Leafnode" {
				leafConn = c
			}
		}
		if leafConn == nil || leafConn.Type != "" || leafConn.Name != spoke.Name() || leafConn.Account != "APP" {
			t.Errorf("leaf connection: %+v", leafConn)
		}
		for _, c := range cz.Conns {
			if _, err := time.ParseDuration(c.RTT); err != nil || c.Uptime == "" || c.Idle == "" {
				t.Errorf("cid %d: rtt %q uptime %q idle %q", c.Cid, c.RTT, c.Uptime, c.Idle)
			}
		}

		var detail monitor.Connz
		getJSON(t, fmt.Sprintf("%s/connz?subs=detail&cid=%d", hubURL, s.Cid), &detail)
		if detail.NumConns != 1 || detail.Conns[0].Cid != s.Cid || len(detail.Conns[0].SubsDetail) != 2 {
			t.Fatalf("cid filter: %+v", detail)
		}
		for _, d := range detail.Conns[0].SubsDetail {
			if d.Cid != s.Cid || d.Sid == "" || (d.Subject == "bar" && d.Queue != "q") {
				t.Errorf("sub detail: %+v", d)
			}
			if d.Subject == "foo.>" && d.Msgs != n {
				t.Errorf("foo.> delivered %d, want %d", d.Msgs, n)
			}
		}

		var page monitor.Connz
		getJSON(t, hubURL+"/connz?limit=1&offset=1&sort=msgs_from", &page)
		if page.NumConns != 1 || page.Total != 3 || page.Offset != 1 || page.Limit != 1 {
			t.Errorf("paging: %+v", page)
		}
		var first monitor.Connz
		getJSON(t, hubURL+"/connz?limit=1&sort=msgs_from", &first)
		if first.Conns[0].Name != "pub" {
			t.Errorf("sort=msgs_from puts %q first", first.Conns[0].Name)
		}

		var closed monitor.Connz
		getJSON(t, hubURL+"/connz?state=closed&auth=1", &closed)
		if closed.Total != 1 || closed.Conns[0].Name != "gone" || closed.Conns[0].Reason != "Client Closed" ||
			closed.Conns[0].Stop == nil || closed.Conns[0].AuthorizedUser != "app" {
			t.Errorf("closed: %+v", *closed.Conns[0])
		}
		var all monitor.Connz
		getJSON(t, hubURL+"/connz?state=any", &all)
		if all.Total != 4 {
			t.Errorf("state=any total %d, want 4", all.Total)
		}
		// The first request sent the clients a PING to measure the round
		// trip, as nats-server does; their PONG gives the figure.
		natstest.WaitFor(t, wait, "a measured rtt", func() bool {
			var rz monitor.Connz
			getJSON(t, fmt.Sprintf("%s/connz?cid=%d", hubURL, s.Cid), &rz)
			d, err := time.ParseDuration(rz.Conns[0].RTT)
			return err == nil && d > 0
		})
		for _, bad := range []string{"sort=bogus", "state=x", "sort=stop", "subs=maybe", "limit=x"} {
			if code, _, _ := get(t, hubURL+"/connz?"+bad); code != http.StatusBadRequest {
				t.Errorf("/connz?%s: status %d, want 400", bad, code)
			}
		}
	})

	t.Run("leafz", func(t *testing.T) {
		var lz monitor.Leafz
		getJSON(t, hubURL+"/leafz?subs=1", &lz)
		if lz.NumLeafs != 1 {
			t.Fatalf("hub leafz: %+v", lz)
		}
		l := lz.Leafs[0]
		if l.Account != "APP" || l.IsSpoke || l.Name != spoke.Name() || l.IP != "127.0.0.1" || l.Port == 0 ||
			!slices.Contains(l.Subs, "spoke.x") || int(l.NumSubs) != len(l.Subs) {
			t.Errorf("hub side: %+v", l)
		}
		var sz monitor.Leafz
		getJSON(t, spokeURL+"/leafz?subs=1", &sz)
		if sz.NumLeafs != 1 {
			t.Fatalf("spoke leafz: %+v", sz)
		}
		s := sz.Leafs[0]
		if s.Account != "$G" || !s.IsSpoke || s.Name != hub.Name() || s.Port != hub.LeafPort() ||
			!slices.Contains(s.Subs, "foo.>") || !slices.Contains(s.Subs, "bar") {
			t.Errorf("spoke side: %+v", s)
		}
		var none monitor.Leafz
		getJSON(t, hubURL+"/leafz?acc=OTHER", &none)
		if none.NumLeafs != 0 || none.Leafs == nil {
			t.Errorf("acc filter: %+v", none)
		}
	})

	t.Run("subsz", func(t *testing.T) {
		var sz monitor.Subsz
		getJSON(t, hubURL+"/subsz?subs=1&test=foo.x", &sz)
		if sz.Total != 1 || sz.Subs[0].Subject != "foo.>" || sz.Subs[0].Account != "APP" || sz.Subs[0].Msgs != n {
			t.Errorf("test=foo.x: %+v", sz)
		}
		var all monitor.Subsz
		getJSON(t, hubURL+"/subsz?subs=1&acc=APP", &all)
		// Beside the client's two, the system account's requests that
		// every account answers (cid 0), as nats-server lists them.
		clients := 0
		for _, sub := range all.Subs {
			if sub.Cid != 0 {
				clients++
			}
		}
		if clients != 2 || all.SublistStats == nil || all.NumSubs < 2 || all.NumInserts < 2 {
			t.Errorf("acc=APP: %+v %+v", all, all.SublistStats)
		}
		var plain monitor.Subsz
		getJSON(t, hubURL+"/subsz", &plain)
		if plain.Subs != nil || plain.NumSubs < 2 {
			t.Errorf("no subs: %+v", plain)
		}
		if code, _, _ := get(t, hubURL+"/subsz?subs=1&test=foo.*"); code != http.StatusBadRequest {
			t.Errorf("wildcard test subject: status %d", code)
		}
	})

	t.Run("accountz", func(t *testing.T) {
		var az monitor.Accountz
		getJSON(t, hubURL+"/accountz", &az)
		if !slices.Contains(az.Accounts, "APP") || !slices.Contains(az.Accounts, "$G") {
			t.Errorf("accounts: %v", az.Accounts)
		}
		var ad monitor.Accountz
		getJSON(t, hubURL+"/accountz?acc=APP", &ad)
		a := ad.Account
		if a == nil || a.AccountName != "APP" || a.ClientCnt != 2 || a.LeafCnt != 1 || a.SubCnt < 2 || a.Sublist == nil {
			t.Errorf("APP: %+v", a)
		}
		if code, _, _ := get(t, hubURL+"/accountz?acc=NOPE"); code != http.StatusBadRequest {
			t.Errorf("unknown account: status %d", code)
		}
	})

	t.Run("healthz and root", func(t *testing.T) {
		code, b, _ := get(t, hubURL+"/healthz")
		if code != http.StatusOK || string(b) != `{"status":"ok"}` {
			t.Errorf("healthz: %d %s", code, b)
		}
		code, b, _ = get(t, hubURL+"/")
		for _, p := range []string{"/varz", "/connz", "/leafz", "/subsz", "/accountz", "/healthz"} {
			if !strings.Contains(string(b), p) {
				t.Errorf("root page does not list %s", p)
			}
		}
		if code != http.StatusOK {
			t.Errorf("root: %d", code)
		}
		if code, _, _ := get(t, hubURL+"/nope"); code != http.StatusNotFound {
			t.Errorf("/nope: %d", code)
		}
		var rz monitor.Routez
		getJSON(t, hubURL+"/routez", &rz)
		if rz.NumRoutes != 0 || rz.Routes == nil {
			t.Errorf("routez: %+v", rz)
		}
	})

	t.Run("indented", func(t *testing.T) {
		_, b, _ := get(t, hubURL+"/varz")
		if !strings.HasPrefix(string(b), "{\n  \"server_id\": ") {
			t.Errorf("not indented as nats-server: %.40q", b)
		}
	})
}
