package leaf_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// compressionRows is PROTOCOL.md 4.6's table: the hub's and the leaf's
// configured modes ("" for the default) and what each side's /leafz then
// shows, as nats-server v2.15.2 shows it.
var compressionRows = []struct {
	hub, leaf         string
	hubShow, leafShow string
}{
	{"", "", "s2_uncompressed", "s2_uncompressed"},
	{"off", "s2_fast", "off", "off"},
	{"s2_best", "accept", "s2_best", "s2_best"},
	{"accept", "accept", "off", "off"},
	{"s2_better", "s2_fast", "s2_better", "s2_fast"},
	{"accept", "s2_auto", "s2_fast", "s2_uncompressed"},
	{"", "off", "off", "off"},
	{"s2_fast", "s2_best", "s2_fast", "s2_best"},
}

func compressionKey(mode string) string {
	if mode == "" {
		return ""
	}
	return fmt.Sprintf("compression: %q", mode)
}

// TestLeafCompression runs every row in every pairing, checks what both
// sides' /leafz report, and sends a mix of payloads both ways.
func TestLeafCompression(t *testing.T) {
	t.Parallel()
	for _, p := range pairings {
		for _, row := range compressionRows {
			name := fmt.Sprintf("%s/hub=%s,leaf=%s", p.name, orDefault(row.hub), orDefault(row.leaf))
			t.Run(name, func(t *testing.T) {
				hub := start(t, p.hub, fmt.Sprintf(`server_name: hub
leafnodes { listen: "127.0.0.1:-1", %s }`, compressionKey(row.hub)))
				lf := start(t, p.leaf, fmt.Sprintf(`server_name: leaf
leafnodes { reconnect: "100ms", remotes = [ { url: "nats-leaf://127.0.0.1:%d", %s } ] }`,
					hub.LeafPort(), compressionKey(row.leaf)))
				waitLinks(t, hub, 1)
				waitLinks(t, lf, 1)
				if got := hub.Links()[0].Compression; !sameLevel(got, row.hubShow) {
					t.Errorf("hub shows %q, want %q", got, row.hubShow)
				}
				if got := lf.Links()[0].Compression; !sameLevel(got, row.leafShow) {
					t.Errorf("leaf shows %q, want %q", got, row.leafShow)
				}
				hc := connect(t, hub, "")
				lc := connect(t, lf, "")
				payloadMix(t, "down", hub, hc, lc)
				payloadMix(t, "up", lf, lc, hc)
			})
		}
	}
}

// sameLevel compares a shown compression with the table's. s2_auto picks
// s2_uncompressed for a round trip up to 10 ms, which loopback has, but a
// loaded 2-core machine running many servers (or the race detector) can
// take longer to answer: then any S2 level is as right, on either
// implementation, as long as it is one.
func sameLevel(got, want string) bool {
	if want == "s2_uncompressed" {
		return strings.HasPrefix(got, "s2_") && got != "s2_auto"
	}
	return got == want
}

func orDefault(m string) string {
	if m == "" {
		return "default"
	}
	return m
}

// payloadMix publishes random and repetitive payloads of many sizes on
// pub (on pubSrv) and checks every one arrives intact, in order, at sub.
func payloadMix(t *testing.T, subject string, pubSrv server, pub, sub *nats.Conn) {
	t.Helper()
	s, err := sub.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	flush(t, sub)
	// The publisher's server must know of the subscriber across the link.
	waitSub(t, pubSrv, subject, true)
	r := rand.New(rand.NewPCG(7, uint64(len(subject))))
	random := make([]byte, 300_000)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	json := bytes.Repeat([]byte(`{"id":1234,"temp":21.5,"unit":"C","ok":true},`), 6000)
	var sent [][]byte
	for i := 0; i < 300; i++ {
		n := r.IntN(1 << (i % 19))
		var p []byte
		if i%2 == 0 {
			p = random[:min(n, len(random))]
		} else {
			p = json[:min(n, len(json))]
		}
		sent = append(sent, p)
		if err := pub.Publish(subject, p); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pub)
	for i, want := range sent {
		m, err := s.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("%s: message %d of %d: %v", subject, i, len(sent), err)
		}
		if !bytes.Equal(m.Data, want) {
			t.Fatalf("%s: message %d: %d bytes, want %d, or differs", subject, i, len(m.Data), len(want))
		}
	}
	s.Unsubscribe()
}

// TestLeafCompressionRTTThresholds: s2_auto with thresholds that turn the
// two lowest levels off picks s2_better whatever the round trip, on the
// leaf that configured it.
func TestLeafCompressionRTTThresholds(t *testing.T) {
	t.Parallel()
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			hub := start(t, p.hub, `server_name: hub
leafnodes { listen: "127.0.0.1:-1", compression: accept }`)
			lf := start(t, p.leaf, fmt.Sprintf(`server_name: leaf
leafnodes { remotes = [ { url: "nats-leaf://127.0.0.1:%d",
  compression: { mode: s2_auto, rtt_thresholds: ["0ms", "0ms", "1h"] } } ] }`, hub.LeafPort()))
			waitLinks(t, hub, 1)
			waitLinks(t, lf, 1)
			if got := lf.Links()[0].Compression; got != "s2_better" {
				t.Errorf("leaf shows %q, want s2_better", got)
			}
			payloadMix(t, "down", hub, connect(t, hub, ""), connect(t, lf, ""))
		})
	}
}
