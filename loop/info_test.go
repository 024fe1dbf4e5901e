package loop_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// infoKeys returns the keys of an INFO line's JSON object in the order
// they appear, without the keys in skip.
func infoKeys(t *testing.T, line string, skip ...string) []string {
	t.Helper()
	js := strings.TrimSuffix(strings.TrimPrefix(line, "INFO "), " ")
	dec := json.NewDecoder(bytes.NewReader([]byte(js)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("INFO %q: not an object (%v)", line, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("INFO %q: %v", line, err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("INFO %q: %v", line, err)
		}
		if k := tok.(string); !slices.Contains(skip, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestInfoKeysMatchNATS compares, key by key and in order, the INFO lines
// Canopy and nats-server send for the same config: a client's greeting,
// its connect-info INFO after CONNECT, and the leafnode port's greeting.
// Canopy builds all of them from one type, leaf.Info. The keys nats-server
// sends that Canopy has no use for are named here with the reason.
func TestInfoKeysMatchNATS(t *testing.T) {
	// xkey: nats-server's x25519 key for auth callout, which Canopy lacks.
	// jetstream, domain: Canopy runs no JetStream of its own.
	// git_commit: empty in nats-server builds from the module proxy.
	skip := []string{"xkey", "jetstream", "domain", "git_commit"}
	const cfg = "leafnodes { listen: 127.0.0.1:-1 }\n"
	type infos struct{ greet, connect, leaf string }
	read := func(t *testing.T, client, leafAddr string) infos {
		c := dialRaw(t, client)
		c.send(`CONNECT {"verbose":false,"protocol":1}` + "\r\nPING\r\n")
		c.expect("PONG\r\n")
		connect := c.line()
		l := dialRaw(t, leafAddr)
		return infos{c.info, connect, l.info}
	}
	cs := natstest.StartCanopy(t, cfg)
	ns := natstest.StartNATS(t, cfg)
	canopy := read(t, cs.ClientAddr().String(), cs.LeafAddr().String())
	nats := read(t, ns.Addr().String(), fmt.Sprintf("127.0.0.1:%d", ns.LeafPort()))
	for _, c := range []struct{ name, a, b string }{
		{"client greeting", canopy.greet, nats.greet},
		{"connect info", canopy.connect, nats.connect},
		{"leaf greeting", canopy.leaf, nats.leaf},
	} {
		got, want := infoKeys(t, c.a, skip...), infoKeys(t, c.b, skip...)
		if !slices.Equal(got, want) {
			t.Errorf("%s keys:\n canopy      %v\n nats-server %v", c.name, got, want)
		}
		if !strings.Contains(c.a, `"api_lvl":5`) || !strings.Contains(c.b, `"api_lvl":5`) {
			t.Errorf("%s: api_lvl missing:\n canopy      %s\n nats-server %s", c.name, c.a, c.b)
		}
	}
}
