package monitor_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/loop"
)

// walkConf is a hub with the system account, an application account that
// exports and imports, a user with permissions and a leafnode listener
// bound to the application account.
const walkConf = `
listen: "127.0.0.1:-1"
http: "127.0.0.1:-1"
accounts {
  SYS { users [{user: sys, password: pass}] }
  APP {
    users [{user: app, password: pass, permissions: {publish: {allow: ["foo.>", "osvc", "_INBOX.>"]}, subscribe: {allow: ["foo.>", "_INBOX.>"]}}}]
    exports [{stream: "app.ev.>"}, {service: "app.svc"}]
    imports [{service: {account: OTHER, subject: "other.svc"}, to: "osvc"}, {stream: {account: OTHER, subject: "other.ev.>"}, prefix: "imp"}]
  }
  OTHER {
    users [{user: other, password: pass}]
    exports [{service: "other.svc"}, {stream: "other.ev.>", accounts: [APP]}]
  }
}
system_account: SYS
leafnodes {
  listen: "127.0.0.1:-1"
  authorization { user: leaf, password: lpw, account: APP }
}
`

// walkJSON are the JSON endpoints nats-server v2.15.2 serves (its
// startMonitoring's registrations), with the options that add nested
// documents.
var walkJSON = []string{
	"/varz", "/connz", "/connz?subs=detail&auth=true", "/connz?state=closed&subs=detail",
	"/routez", "/gatewayz", "/leafz?subs=true", "/subsz?subs=true", "/subscriptionsz",
	"/accountz", "/accountz?acc=APP", "/accountz?acc=SYS", "/accountz?acc=OTHER",
	"/accstatz", "/accstatz?unused=true", "/accstatz?acc=APP",
	"/jsz", "/healthz", "/ipqueuesz", "/ipqueuesz?all=true", "/debug/vars",
}

// walkText are the endpoints that answer with something else than JSON;
// their status and body must be nats-server's (bodies compared only where
// they are not Canopy's own page or the process's stacks).
var walkText = []struct {
	path     string
	sameBody bool
}{
	{"/", false}, {"/stacksz", false}, {"/raftz", true}, {"/no-such-endpoint", true}, {"/varz/x", true},
}

// walkAllowed are the key differences the walk accepts, each with its
// reason; a key listed here that no longer differs fails the test too, so
// the list cannot outlive the difference.
var walkAllowed = map[string]string{
	// Canopy's identity, added to nats-server's keys (issue 11).
	"/varz .server_software": "Canopy's identity",
	"/varz .canopy_version":  "Canopy's identity",
	// nats-server lists the queues of its internal goroutines with
	// all=true; Canopy has no such queues.
	"/ipqueuesz?all=true .SendQ":                         "nats-server's internal queue",
	"/ipqueuesz?all=true .SendQ.pending":                 "nats-server's internal queue",
	"/ipqueuesz?all=true .System recvQ":                  "nats-server's internal queue",
	"/ipqueuesz?all=true .System recvQ.pending":          "nats-server's internal queue",
	"/ipqueuesz?all=true .System recvQ Pings":            "nats-server's internal queue",
	"/ipqueuesz?all=true .System recvQ Pings.pending":    "nats-server's internal queue",
	"/ipqueuesz?all=true .System sendQ":                  "nats-server's internal queue",
	"/ipqueuesz?all=true .System sendQ.pending":          "nats-server's internal queue",
	"/ipqueuesz?all=true .delayed API responses":         "nats-server's internal queue",
	"/ipqueuesz?all=true .delayed API responses.pending": "nats-server's internal queue",
}

// walkResult is what one endpoint answered.
type walkResult struct {
	code int
	keys map[string]bool
	body string
}

// walkServer fetches every endpoint from base.
func walkServer(t *testing.T, base string) map[string]walkResult {
	t.Helper()
	out := map[string]walkResult{}
	for _, p := range walkJSON {
		code, b, h := get(t, base+p)
		if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Errorf("%s: status %d, Content-Type %q: %.200s", p, code, h.Get("Content-Type"), b)
			continue
		}
		out[p] = walkResult{code: code, keys: keySet(t, b)}
	}
	for _, e := range walkText {
		code, b, _ := get(t, base+e.path)
		r := walkResult{code: code}
		if e.sameBody {
			r.body = string(b)
		}
		out[e.path] = r
	}
	return out
}

// walkSetup gives a server under test what the walk should see: a client
// with a subscription and a reply, a closed connection, a leaf link.
func walkSetup(t *testing.T, url, monURL string) {
	t.Helper()
	sub := natstest.Connect(t, url, nats.UserInfo("app", "pass"), nats.Name("sub"))
	if _, err := sub.Subscribe("foo.>", func(m *nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	flush(t, sub)
	pub := natstest.Connect(t, url, nats.UserInfo("app", "pass"), nats.Name("pub"))
	for range 3 {
		if err := pub.Publish("foo.x", []byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pub)
	gone := natstest.Connect(t, url, nats.UserInfo("other", "pass"))
	gone.Close()
	natstest.WaitFor(t, wait, "the closed connection and the leaf link", func() bool {
		var cz struct{ Total int }
		var lz struct {
			Leafs []struct {
				Subs []string `json:"subscriptions_list"`
			}
		}
		getJSON(t, monURL+"/connz?state=closed", &cz)
		getJSON(t, monURL+"/leafz?subs=true", &lz)
		return cz.Total == 1 && len(lz.Leafs) == 1 && len(lz.Leafs[0].Subs) > 0
	})
}

// TestEndpointWalk walks every monitoring endpoint nats-server v2.15.2
// serves, on Canopy and on nats-server run from the same configuration
// with the same clients and leaf link, and compares the JSON key sets,
// nested keys included, and the other endpoints' statuses and bodies.
func TestEndpointWalk(t *testing.T) {
	got := map[string]map[string]walkResult{}
	bothHubSpoke(t, walkConf, func(t *testing.T, p *hubSpoke) {
		p.startSpoke()
		sc := natstest.Connect(t, p.url, nats.UserInfo("sys", "pass"))
		flush(t, sc)
		walkSetup(t, p.url, p.mon)
		got[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = walkServer(t, p.mon)
	})
	c, n := got["canopy"], got["nats-server"]
	if c == nil || n == nil {
		return
	}
	used := map[string]bool{}
	var diffs []string
	paths := append([]string{}, walkJSON...)
	for _, e := range walkText {
		paths = append(paths, e.path)
	}
	for _, p := range paths {
		cr, nr := c[p], n[p]
		if cr.code != nr.code || cr.body != nr.body {
			diffs = append(diffs, fmt.Sprintf("%s: canopy %d %q, nats-server %d %q", p, cr.code, cr.body, nr.code, nr.body))
		}
		for k := range union(cr.keys, nr.keys) {
			if cr.keys[k] == nr.keys[k] {
				continue
			}
			if _, ok := walkAllowed[p+" "+k]; ok {
				used[p+" "+k] = true
				continue
			}
			if p == "/ipqueuesz" && !cr.keys[k] {
				// Without all=true nats-server lists only its internal
				// queues that hold something at that instant (its system
				// send queue, now and then); Canopy has none to list.
				continue
			}
			side := "canopy lacks"
			if cr.keys[k] {
				side = "canopy has more"
			}
			diffs = append(diffs, fmt.Sprintf("%s: %s %s", p, side, k))
		}
	}
	for k := range walkAllowed {
		if !used[k] {
			diffs = append(diffs, "allowed difference no longer seen: "+k)
		}
	}
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Error(d)
	}
}

func union(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// TestIdentity: clients and /varz's "version" see nats-server's version,
// while /varz and STATSZ also say the server is Canopy, and which one.
func TestIdentity(t *testing.T) {
	c := natstest.StartCanopy(t, sysConf)
	mon := startMonitor(t, c)
	nc := natstest.Connect(t, c.ClientURL(), nats.UserInfo("sys", "pass"))
	if v := nc.ConnectedServerVersion(); v != loop.CompatVersion {
		t.Errorf("INFO version %q", v)
	}
	var v struct {
		Version        string `json:"version"`
		ServerSoftware string `json:"server_software"`
		CanopyVersion  string `json:"canopy_version"`
	}
	getJSON(t, mon+"/varz", &v)
	if v.Version != loop.CompatVersion || v.ServerSoftware != "canopy" || v.CanopyVersion != loop.Version {
		t.Errorf("/varz identity %+v", v)
	}
	var sz struct {
		Server struct {
			Version string `json:"ver"`
		} `json:"server"`
		Statsz struct {
			ServerSoftware string `json:"server_software"`
			CanopyVersion  string `json:"canopy_version"`
		} `json:"statsz"`
	}
	b := sysRequest(t, nc, "$SYS.REQ.SERVER.PING", "", wait)
	if err := json.Unmarshal(b, &sz); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if sz.Server.Version != loop.CompatVersion || sz.Statsz.ServerSoftware != "canopy" || sz.Statsz.CanopyVersion != loop.Version {
		t.Errorf("STATSZ identity %s", b)
	}
}
