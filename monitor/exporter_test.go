package monitor_test

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// The Prometheus NATS exporter (github.com/nats-io/prometheus-nats-exporter)
// reads these documents as follows (collector/collector.go, connz.go,
// leafz.go):
//
//   - /varz: every number becomes a gauge named after its key, nested
//     objects flattened with "_" (slow_consumer_stats_clients,
//     http_req_stats_varz...); of the strings, server_id, server_name and
//     version become labels and start and config_load_time are parsed as
//     RFC 3339 times.
//   - /connz: num_connections, total, offset and limit as numbers; per
//     connection cid, kind, type, ip, port, name, lang, version as labels
//     (asserting strings where present), pending_bytes, subscriptions and
//     the in/out figures as numbers, start and last_activity as RFC 3339,
//     rtt as a Go duration, uptime and idle in nats-server's "1d2h3m4s".
//   - /leafz: leafnodes; per leaf name, account, ip (strings), port and
//     the figures (numbers), rtt (a duration), subscriptions_list.
//
// TestExporterFields runs the same configuration, clients and leaf link on
// nats-server v2.15.2 and on Canopy and requires every field the exporter
// reads to be present in Canopy's documents with the JSON type
// nats-server gives it.
func TestExporterFields(t *testing.T) {
	type side struct {
		name       string
		hubURL     string
		clientURL  string
		spokeReady func() bool
	}
	hubText := hubConf + "\nhttp: \"127.0.0.1:-1\"\n"

	nhub := natstest.StartNATS(t, hubText)
	nhubLeaf := nhub.LeafPort()
	nspoke := natstest.StartNATS(t, spokeConf(nhubLeaf))
	natsSide := side{
		name:      "nats-server",
		hubURL:    "http://" + nhub.MonitorAddr().String(),
		clientURL: nhub.ClientURL(),
		spokeReady: func() bool {
			return nhub.NumLeafNodes() == 1 && nspoke.NumLeafNodes() == 1
		},
	}

	chub := natstest.StartCanopy(t, hubConf)
	cspoke := natstest.StartCanopy(t, spokeConf(chub.LeafPort()))
	canopySide := side{
		name:       "canopy",
		hubURL:     startMonitor(t, chub),
		clientURL:  chub.ClientURL(),
		spokeReady: func() bool { return chub.NumLeafs() == 1 && cspoke.NumLeafs() == 1 },
	}

	docs := map[string]map[string]any{}
	for _, s := range []side{natsSide, canopySide} {
		natstest.WaitFor(t, wait, s.name+" leaf link", s.spokeReady)
		sub := natstest.Connect(t, s.clientURL, nats.UserInfo("app", "pw"), nats.Name("sub"))
		got := make(chan struct{}, 10)
		sub.Subscribe("foo.>", func(*nats.Msg) { got <- struct{}{} })
		sub.QueueSubscribe("bar", "q", func(*nats.Msg) {})
		sub.Flush()
		pub := natstest.Connect(t, s.clientURL, nats.UserInfo("app", "pw"), nats.Name("pub"))
		for range 3 {
			pub.Publish("foo.x", []byte("hello"))
		}
		pub.Flush()
		for range 3 {
			select {
			case <-got:
			case <-time.After(wait):
				t.Fatalf("%s: messages not delivered", s.name)
			}
		}
		for _, ep := range []string{"/varz", "/connz", "/leafz?subs=1"} {
			var doc map[string]any
			getJSON(t, s.hubURL+ep, &doc)
			docs[s.name+ep] = doc
		}
	}

	t.Run("varz", func(t *testing.T) {
		want, got := flatten(docs["nats-server/varz"]), flatten(docs["canopy/varz"])
		// Same clients, same messages: the same figures.
		for _, k := range []string{"connections", "total_connections", "leafnodes", "in_msgs", "in_bytes",
			"out_msgs", "out_bytes", "in_client_msgs", "out_client_bytes", "slow_consumers", "max_payload",
			"ping_interval", "ping_max", "auth_timeout", "max_connections", "write_deadline", "leaf_auth_timeout"} {
			if want[k] != got[k] {
				t.Errorf("/varz %s: nats-server %v, Canopy %v", k, want[k], got[k])
			}
		}
		for _, k := range sortedKeys(want) {
			v := want[k]
			switch v.(type) {
			case float64:
				if _, ok := got[k].(float64); !ok {
					t.Errorf("/varz %s: nats-server has the number %v, Canopy has %#v", k, v, got[k])
				}
			case string:
				switch k {
				case "server_id", "server_name", "version":
					if _, ok := got[k].(string); !ok {
						t.Errorf("/varz %s: not a string in Canopy: %#v", k, got[k])
					}
				case "start", "config_load_time", "now":
					s, _ := got[k].(string)
					if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
						t.Errorf("/varz %s: %v", k, err)
					}
				}
			}
		}
	})

	t.Run("connz", func(t *testing.T) {
		nz, cz := docs["nats-server/connz"], docs["canopy/connz"]
		for _, k := range []string{"num_connections", "total", "offset", "limit"} {
			if _, ok := cz[k].(float64); !ok {
				t.Errorf("/connz %s: %#v", k, cz[k])
			}
			if cz[k] != nz[k] {
				t.Errorf("/connz %s: nats-server %v, Canopy %v", k, nz[k], cz[k])
			}
		}
		want, got := byKind(t, nz["connections"]), byKind(t, cz["connections"])
		if len(want) != 2 || len(got) != 2 {
			t.Fatalf("kinds: nats-server %v, Canopy %v", keysOf(want), keysOf(got))
		}
		for kind, w := range want {
			g := got[kind]
			sameShape(t, "/connz "+kind, w, g, nil)
			checkConn(t, kind, g)
		}
	})

	t.Run("leafz", func(t *testing.T) {
		nz, cz := docs["nats-server/leafz?subs=1"], docs["canopy/leafz?subs=1"]
		if n, _ := cz["leafnodes"].(float64); n != 1 || nz["leafnodes"] != cz["leafnodes"] {
			t.Fatalf("leafnodes: nats-server %v, Canopy %v", nz["leafnodes"], cz["leafnodes"])
		}
		nl := nz["leafs"].([]any)[0].(map[string]any)
		cl, _ := cz["leafs"].([]any)[0].(map[string]any)
		// Canopy never compresses a link, and says nothing about it.
		sameShape(t, "/leafz leaf", nl, cl, map[string]bool{"compression": true})
		if _, err := time.ParseDuration(cl["rtt"].(string)); err != nil {
			t.Errorf("/leafz rtt: %v", err)
		}
		for _, k := range []string{"name", "account", "ip"} {
			if s, _ := cl[k].(string); s == "" {
				t.Errorf("/leafz %s: %#v", k, cl[k])
			}
		}
		if cl["account"] != "APP" || nl["account"] != "APP" {
			t.Errorf("/leafz account: nats-server %v, Canopy %v", nl["account"], cl["account"])
		}
	})
}

// flatten joins nested object keys with "_" as the exporter does; arrays
// are left out, as the exporter leaves them.
func flatten(doc map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch v := v.(type) {
			case map[string]any:
				walk(prefix+k+"_", v)
			case []any:
			default:
				out[prefix+k] = v
			}
		}
	}
	walk("", doc)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func keysOf[V any](m map[string]V) []string { return sortedKeys(m) }

// byKind indexes /connz connections by kind (one of each in the test).
func byKind(t *testing.T, v any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	list, _ := v.([]any)
	for _, c := range list {
		m := c.(map[string]any)
		kind, _ := m["kind"].(string)
		if kind == "Client" && m["name"] != "sub" {
			continue
		}
		out[kind] = m
	}
	return out
}

// sameShape requires got to have exactly want's keys, each with the same
// JSON type, but for the keys in skip.
func sameShape(t *testing.T, what string, want, got map[string]any, skip map[string]bool) {
	t.Helper()
	for _, k := range sortedKeys(want) {
		if skip[k] {
			continue
		}
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: Canopy lacks %q (nats-server: %#v)", what, k, want[k])
			continue
		}
		if wt, gt := fmt.Sprintf("%T", want[k]), fmt.Sprintf("%T", g); wt != gt {
			t.Errorf("%s %s: nats-server has a %s, Canopy a %s", what, k, wt, gt)
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok && !skip[k] {
			t.Errorf("%s: Canopy has %q, nats-server does not", what, k)
		}
	}
}

var uptimeRE = regexp.MustCompile(`^(\d+y)?(\d+d)?(\d+h)?(\d+m)?\d+s$`)

// checkConn parses a connection's fields the way the exporter does.
func checkConn(t *testing.T, kind string, c map[string]any) {
	t.Helper()
	for _, k := range []string{"start", "last_activity"} {
		s, _ := c[k].(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("/connz %s %s: %v", kind, k, err)
		}
	}
	if s, _ := c["rtt"].(string); s != "" {
		if _, err := time.ParseDuration(s); err != nil {
			t.Errorf("/connz %s rtt: %v", kind, err)
		}
	} else {
		t.Errorf("/connz %s: no rtt", kind)
	}
	for _, k := range []string{"uptime", "idle"} {
		if s, _ := c[k].(string); !uptimeRE.MatchString(s) {
			t.Errorf("/connz %s %s: %q", kind, k, s)
		}
	}
	for _, k := range []string{"cid", "port", "pending_bytes", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions"} {
		if _, ok := c[k].(float64); !ok {
			t.Errorf("/connz %s %s: %#v", kind, k, c[k])
		}
	}
	if p, _ := c["port"].(float64); p <= 0 || p > 65535 {
		t.Errorf("/connz %s port %v", kind, c["port"])
	}
	if ip, _ := c["ip"].(string); net.ParseIP(ip) == nil {
		t.Errorf("/connz %s ip %q", kind, ip)
	}
}
