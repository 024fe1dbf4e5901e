package monitor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/monitor"
)

const sysConf = `
accounts {
  SYS { users [{user: sys, password: pass}] }
  APP { users [{user: app, password: pass}] }
}
system_account: SYS
`

// sysServers runs fn against Canopy (with its monitor registered, as the
// command does) and nats-server, started from the same config.
func sysServers(t *testing.T, config string, fn func(t *testing.T, url, id string)) {
	t.Helper()
	t.Run("canopy", func(t *testing.T) {
		c := natstest.StartCanopy(t, config)
		monitor.New(c.Server, quiet{})
		fn(t, c.ClientURL(), c.ID())
	})
	t.Run("nats-server", func(t *testing.T) {
		n := natstest.StartNATS(t, config)
		fn(t, "nats://"+n.Addr().String(), n.ID())
	})
}

// keys lists the key paths of a JSON document, nested objects included;
// an array contributes the keys of its elements under "[]".
func keys(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := prefix + "." + k
			out[p] = true
			keys(e, p, out)
		}
	case []any:
		for _, e := range x {
			keys(e, prefix+"[]", out)
		}
	}
}

func keySet(t testing.TB, b []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	out := map[string]bool{}
	keys(v, "", out)
	return out
}

// sysRequest sends a request and returns the answer's body, or nil when
// none came within d.
func sysRequest(t testing.TB, nc *nats.Conn, subject, body string, d time.Duration) []byte {
	t.Helper()
	m, err := nc.Request(subject, []byte(body), d)
	if err != nil {
		return nil
	}
	return m.Data
}

// TestSysRequestKeys asks both servers every system service and compares
// the answers' key sets, nested keys included.
func TestSysRequestKeys(t *testing.T) {
	type probe struct{ subject, body string }
	probes := func(id string) []probe {
		ps := []probe{{"$SYS.REQ.SERVER.PING", ""}, {"$SYS.REQ.USER.INFO", ""}}
		for _, k := range []string{"STATSZ", "VARZ", "CONNZ", "SUBSZ", "LEAFZ", "ACCOUNTZ", "HEALTHZ", "IDZ", "ROUTEZ", "GATEWAYZ", "JSZ"} {
			ps = append(ps, probe{"$SYS.REQ.SERVER.PING." + k, ""}, probe{"$SYS.REQ.SERVER." + id + "." + k, "{}"})
		}
		for _, k := range []string{"CONNZ", "LEAFZ", "SUBSZ", "INFO", "STATZ", "CONNS"} {
			ps = append(ps, probe{"$SYS.REQ.ACCOUNT.APP." + k, ""})
		}
		ps = append(ps, probe{"$SYS.REQ.ACCOUNT.PING.STATZ", ""}, probe{"$SYS.REQ.ACCOUNT.PING.CONNZ", ""},
			probe{"$SYS.REQ.SERVER.PING.CONNZ", `{"subscriptions":true}`},
			probe{"$SYS.REQ.SERVER.PING.SUBSZ", `{"subscriptions":true}`})
		return ps
	}
	got := map[string]map[string]map[string]bool{}
	sysServers(t, sysConf, func(t *testing.T, url, id string) {
		app := natstest.Connect(t, url, nats.UserInfo("app", "pass"))
		flush(t, app)
		nc := natstest.Connect(t, url, nats.UserInfo("sys", "pass"))
		answers := map[string]map[string]bool{}
		for _, p := range probes(id) {
			b := sysRequest(t, nc, p.subject, p.body, 2*time.Second)
			if b == nil {
				t.Errorf("%s: no answer", p.subject)
				continue
			}
			name := strings.Replace(p.subject, id, "<id>", 1)
			answers[name] = keySet(t, b)
		}
		got[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = answers
	})
	compareKeys(t, got["canopy"], got["nats-server"])
}

// compareKeys reports, per subject, the keys one server's answers have
// and the other's lack.
func compareKeys(t *testing.T, c, n map[string]map[string]bool) {
	t.Helper()
	if c == nil || n == nil {
		return
	}
	for subj, want := range n {
		have := c[subj]
		var missing, extra []string
		for k := range want {
			if !have[k] && !sysKeyExempt(k) {
				missing = append(missing, k)
			}
		}
		for k := range have {
			if !want[k] && !sysKeyExempt(k) {
				extra = append(extra, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing)+len(extra) > 0 {
			t.Errorf("%s: canopy lacks %v, has more %v", subj, missing, extra)
		}
	}
}

// sysKeyExempt are the keys whose presence depends on features Canopy
// does not have, or on values (omitempty) rather than on the shape.
func sysKeyExempt(k string) bool {
	for _, p := range []string{".data.jetstream", ".data.cluster", ".data.gateway", ".data.mqtt", ".data.websocket",
		".data.config", ".data.ocsp", ".data.tls_", ".data.http_req_stats", ".data.routes", ".data.connect_urls",
		".data.proxies",
		// Canopy's identity, added to /varz and STATSZ (issue 11).
		".data.server_software", ".data.canopy_version", ".statsz.server_software", ".statsz.canopy_version",
		// nats-server measures a client's RTT right after its CONNECT;
		// Canopy at its first PING, so an event may carry none yet.
		".client.rtt"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// TestSysFilterSilence: a request whose filter leaves the server out gets
// no answer at all, from both.
func TestSysFilterSilence(t *testing.T) {
	sysServers(t, sysConf, func(t *testing.T, url, id string) {
		nc := natstest.Connect(t, url, nats.UserInfo("sys", "pass"))
		for _, body := range []string{`{"server_name":"no-such-server"}`, `{"tags":["x"]}`, `{"cluster":"c1"}`} {
			if b := sysRequest(t, nc, "$SYS.REQ.SERVER.PING.VARZ", body, 300*time.Millisecond); b != nil {
				t.Errorf("%s: answered %s", body, b)
			}
		}
		if b := sysRequest(t, nc, "$SYS.REQ.SERVER.PING.IDZ", "", 2*time.Second); b == nil {
			t.Errorf("IDZ: no answer")
		}
	})
}

// TestSysEvents: connect, disconnect and authorization error events, and
// STATSZ on a request without reply, with the same JSON keys as
// nats-server's.
func TestSysEvents(t *testing.T) {
	got := map[string]map[string]map[string]bool{}
	sysServers(t, sysConf, func(t *testing.T, url, id string) {
		seen := map[string]map[string]bool{}
		nc := natstest.Connect(t, url, nats.UserInfo("sys", "pass"))
		sub, err := nc.SubscribeSync("$SYS.>")
		if err != nil {
			t.Fatal(err)
		}
		flush(t, nc)
		app := natstest.Connect(t, url, nats.UserInfo("app", "pass"))
		flush(t, app)
		app.Close()
		if bad, err := nats.Connect(url, nats.UserInfo("app", "wrong"), nats.NoReconnect()); err == nil {
			bad.Close()
		}
		if err := nc.Publish("$SYS.REQ.SERVER.PING.STATSZ", nil); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{
			"$SYS.ACCOUNT.APP.CONNECT": false, "$SYS.ACCOUNT.APP.DISCONNECT": false,
			"$SYS.SERVER." + id + ".CLIENT.AUTH.ERR": false, "$SYS.SERVER." + id + ".STATSZ": false,
			"$SYS.ACCOUNT.APP.SERVER.CONNS": false, "$SYS.SERVER.ACCOUNT.APP.CONNS": false,
		}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && slices.Contains(valuesOf(want), false) {
			m, err := sub.NextMsg(time.Until(deadline))
			if err != nil {
				break
			}
			if _, ok := want[m.Subject]; ok {
				want[m.Subject] = true
				name := strings.Replace(m.Subject, id, "<id>", 1)
				if seen[name] == nil {
					seen[name] = map[string]bool{}
				}
				for k := range keySet(t, m.Data) {
					seen[name][k] = true
				}
			}
		}
		for s, ok := range want {
			if !ok {
				t.Errorf("no %s", s)
			}
		}
		got[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = seen
	})
	compareKeys(t, got["canopy"], got["nats-server"])
}

func valuesOf(m map[string]bool) []bool {
	out := make([]bool, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

var _ = fmt.Sprint

func flush(t testing.TB, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(wait); err != nil {
		t.Fatal(err)
	}
}

// TestSysStatszPeriodic: a server sends $SYS.SERVER.<id>.STATSZ by itself,
// soon after start, once someone subscribes to it.
func TestSysStatszPeriodic(t *testing.T) {
	const config = `
accounts { SYS { users [{user: sys, password: pass}] } }
system_account: SYS
`
	sysServers(t, config, func(t *testing.T, url, _ string) {
		nc := natstest.Connect(t, url, nats.UserInfo("sys", "pass"))
		sub, err := nc.SubscribeSync("$SYS.SERVER.*.STATSZ")
		if err != nil {
			t.Fatal(err)
		}
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("no periodic STATSZ: %v", err)
		}
		var sz struct {
			Server map[string]any `json:"server"`
			Statsz map[string]any `json:"statsz"`
		}
		if err := json.Unmarshal(m.Data, &sz); err != nil || sz.Server["id"] == nil {
			t.Fatalf("STATSZ: %s (%v)", m.Data, err)
		}
	})
}

// TestAccStatz: /accstatz has nats-server's keys, with and without unused
// accounts, and counts the account's connections; /jsz and /gatewayz
// have nats-server's keys for a server without JetStream and gateways.
func TestAccStatz(t *testing.T) {
	text := sysConf + "\nhttp: \"127.0.0.1:-1\"\n"
	c := natstest.StartCanopy(t, text)
	curl := startMonitor(t, c)
	n := natstest.StartNATS(t, text)
	nurl := "http://" + n.MonitorAddr().String()
	natstest.Connect(t, c.ClientURL(), nats.UserInfo("app", "pass"))
	natstest.Connect(t, "nats://"+n.Addr().String(), nats.UserInfo("app", "pass"))
	for _, p := range []string{"/jsz", "/gatewayz"} {
		_, cb, _ := get(t, curl+p)
		_, nb, _ := get(t, nurl+p)
		ck, nk := keySet(t, cb), keySet(t, nb)
		for k := range nk {
			if !ck[k] {
				t.Errorf("%s: canopy lacks %s\n canopy %s\n nats-server %s", p, k, cb, nb)
			}
		}
		for k := range ck {
			if !nk[k] {
				t.Errorf("%s: canopy has more %s", p, k)
			}
		}
	}
	for _, q := range []string{"", "?unused=1", "?acc=APP"} {
		_, cb, _ := get(t, curl+"/accstatz"+q)
		_, nb, _ := get(t, nurl+"/accstatz"+q)
		ck, nk := keySet(t, cb), keySet(t, nb)
		for k := range nk {
			if !ck[k] && !sysKeyExempt(".data"+k) {
				t.Errorf("/accstatz%s: canopy lacks %s\n canopy %s\n nats-server %s", q, k, cb, nb)
			}
		}
		var sz monitor.AccountStatz
		if err := json.Unmarshal(cb, &sz); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, a := range sz.Accounts {
			if a.Account == "APP" {
				found = a.Conns == 1
			}
		}
		if !found {
			t.Errorf("/accstatz%s: APP with one connection not listed: %s", q, cb)
		}
	}
}

// TestSysLameDuckShutdown: lame-duck mode and shutdown are announced on
// $SYS.SERVER.<id>.LAMEDUCK and SHUTDOWN, by both servers.
func TestSysLameDuckShutdown(t *testing.T) {
	const config = sysConf + `
lame_duck_grace_period: "100ms"
lame_duck_duration: "30s"
`
	expect := func(t *testing.T, url, id, event string, act func()) {
		t.Helper()
		nc := natstest.Connect(t, url, nats.UserInfo("sys", "pass"), nats.NoReconnect())
		sub, err := nc.SubscribeSync("$SYS.SERVER." + id + "." + event)
		if err != nil {
			t.Fatal(err)
		}
		flush(t, nc)
		go act()
		if _, err := sub.NextMsg(10 * time.Second); err != nil {
			t.Errorf("no %s event: %v", event, err)
		}
	}
	t.Run("canopy", func(t *testing.T) {
		c := natstest.StartCanopy(t, config)
		monitor.New(c.Server, quiet{})
		expect(t, c.ClientURL(), c.ID(), "LAMEDUCK", c.LameDuck)
		c = natstest.StartCanopy(t, config)
		monitor.New(c.Server, quiet{})
		expect(t, c.ClientURL(), c.ID(), "SHUTDOWN", func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			_ = c.Shutdown(ctx)
		})
	})
	t.Run("nats-server", func(t *testing.T) {
		n := natstest.StartNATS(t, config)
		expect(t, "nats://"+n.Addr().String(), n.ID(), "LAMEDUCK", n.LameDuckShutdown)
		n = natstest.StartNATS(t, config)
		expect(t, "nats://"+n.Addr().String(), n.ID(), "SHUTDOWN", n.Shutdown)
	})
}

// TestSysLeafAuthErrorEvent: a leaf whose CONNECT is refused is announced
// on CLIENT.AUTH.ERR, as a Leafnode, with the same keys as nats-server's,
// and no disconnect event follows (the link never had an account).
func TestSysLeafAuthErrorEvent(t *testing.T) {
	const config = sysConf + `leafnodes { listen: "127.0.0.1:-1", authorization { user: leaf, password: lpw, account: APP } }
`
	got := map[string]map[string]map[string]bool{}
	run := func(t *testing.T, url, id string, leafPort int) {
		nc := natstest.Connect(t, url, nats.UserInfo("sys", "pass"))
		sub, err := nc.SubscribeSync("$SYS.>")
		if err != nil {
			t.Fatal(err)
		}
		flush(t, nc)
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", leafPort), wait)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(wait))
		br := bufio.NewReader(conn)
		if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "INFO ") {
			t.Fatalf("leaf greeting %q: %v", l, err)
		}
		if _, err := conn.Write([]byte(`CONNECT {"name":"bad","user":"leaf","pass":"wrong","headers":true,"version":"2.15.2"}` + "\r\n")); err != nil {
			t.Fatal(err)
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("no -ERR for a wrong password: %v", err)
			}
			if strings.HasPrefix(l, "-ERR") {
				break
			}
		}
		subj := "$SYS.SERVER." + id + ".CLIENT.AUTH.ERR"
		seen := map[string]map[string]bool{}
		var ev struct {
			Client struct {
				Kind    string
				User    string
				Account string `json:"acc"`
			} `json:"client"`
			Reason string `json:"reason"`
		}
		// Until the event, then a moment longer: nothing else may be
		// said of the leaf (there is no signal for an absence).
		for found := false; ; {
			d := wait
			if found {
				d = 300 * time.Millisecond
			}
			m, err := sub.NextMsg(d)
			if err != nil {
				if found {
					break
				}
				t.Fatalf("no %s: %v", subj, err)
			}
			if (strings.HasSuffix(m.Subject, ".DISCONNECT") || strings.HasSuffix(m.Subject, ".CONNECT")) && strings.Contains(string(m.Data), `"kind":"Leafnode"`) {
				t.Fatalf("%s for the refused leaf: %s", m.Subject, m.Data)
			}
			if m.Subject != subj || found {
				continue
			}
			found = true
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Client.Kind != "Leafnode" {
				t.Fatalf("event for kind %q, want Leafnode: %s", ev.Client.Kind, m.Data)
			}
			seen["$SYS.SERVER.<id>.CLIENT.AUTH.ERR"] = keySet(t, m.Data)
		}
		t.Logf("%s: user %q, account %q, reason %q", subj, ev.Client.User, ev.Client.Account, ev.Reason)
		if ev.Client.User != "leaf" || ev.Client.Account != "N/A" || ev.Reason != "Authentication Failure" {
			t.Errorf("user %q, account %q, reason %q: want leaf, N/A, Authentication Failure", ev.Client.User, ev.Client.Account, ev.Reason)
		}
		got[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = seen
	}
	t.Run("canopy", func(t *testing.T) {
		c := natstest.StartCanopy(t, config)
		monitor.New(c.Server, quiet{})
		run(t, c.ClientURL(), c.ID(), c.LeafPort())
	})
	t.Run("nats-server", func(t *testing.T) {
		n := natstest.StartNATS(t, config)
		run(t, "nats://"+n.Addr().String(), n.ID(), n.LeafPort())
	})
	compareKeys(t, got["canopy"], got["nats-server"])
}

// TestSysDefaultAccount: with no system_account, the system services run
// in $SYS, as nats-server's do, so a config that only gives $SYS users
// serves natscli's requests; no_system_account turns them off.
func TestSysDefaultAccount(t *testing.T) {
	const users = `accounts { $SYS { users [{user: admin, password: pass}] }, APP { users [{user: app, password: pass}] } }
`
	sysServers(t, users, func(t *testing.T, url, id string) {
		nc := natstest.Connect(t, url, nats.UserInfo("admin", "pass"))
		b := sysRequest(t, nc, "$SYS.REQ.SERVER.PING", "", wait)
		var m struct {
			Server struct{ ID string } `json:"server"`
		}
		if b == nil || json.Unmarshal(b, &m) != nil || m.Server.ID != id {
			t.Fatalf("SERVER.PING answered %q, want this server's STATSZ", b)
		}
		sub, err := nc.SubscribeSync("$SYS.ACCOUNT.APP.CONNECT")
		if err != nil {
			t.Fatal(err)
		}
		flush(t, nc)
		natstest.Connect(t, url, nats.UserInfo("app", "pass"))
		if _, err := sub.NextMsg(wait); err != nil {
			t.Fatalf("no connect event: %v", err)
		}
	})
	// Every account can ask who it is, while the services run; an
	// account named $SYS keeps them running despite no_system_account.
	const app = `accounts { APP { users [{user: app, password: pass}] } }
`
	for _, tc := range []struct {
		config string
		runs   bool
	}{{app, true}, {app + "no_system_account: true\n", false}, {users + "no_system_account: true\n", true}} {
		sysServers(t, tc.config, func(t *testing.T, url, _ string) {
			nc := natstest.Connect(t, url, nats.UserInfo("app", "pass"))
			d := wait
			if !tc.runs {
				d = 500 * time.Millisecond
			}
			if b := sysRequest(t, nc, "$SYS.REQ.USER.INFO", "", d); (b != nil) != tc.runs {
				t.Fatalf("%q: USER.INFO answered %q, want an answer: %v", tc.config, b, tc.runs)
			}
		})
	}
}
