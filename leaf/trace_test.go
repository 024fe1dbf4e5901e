package leaf_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// linkTraceMask hides the port and id of a leaf link in a trace line.
var linkTraceMask = regexp.MustCompile(`^\[TRC\] 127\.0\.0\.1:\d+ - lid:\d+ - `)

// linkTrace is what s traced on its leaf link about the subjects foo and
// bar, in order, with the link's port and id masked.
func linkTrace(s server) []string {
	var out []string
	for _, l := range s.Log().Lines() {
		if !linkTraceMask.MatchString(l) || !(strings.Contains(l, " foo") || strings.Contains(l, " bar") || strings.Contains(l, "MSG_PAYLOAD")) {
			continue
		}
		out = append(out, linkTraceMask.ReplaceAllString(l, "[TRC] <link> - "))
	}
	return out
}

// runTraceScenario links a leaf to a hub, both tracing, and moves interest
// and messages both ways: a leaf client's subscription to foo, a hub
// client's message on it, its unsubscription; a hub client's subscription
// to bar and a leaf client's message on it. It returns what the hub and
// the leaf traced on their link.
func runTraceScenario(t *testing.T, hubKind, leafKind kind) (hubLines, leafLines []string) {
	hub := start(t, hubKind, "server_name: hub\ntrace: true\nleafnodes { listen: \"127.0.0.1:-1\" }\n")
	lf := start(t, leafKind, "trace: true\n"+leafConfig("leaf", false, remoteTo(hub)))
	waitLinks(t, hub, 1)
	waitLinks(t, lf, 1)
	hc, lc := connect(t, hub, ""), connect(t, lf, "")

	foo, err := lc.SubscribeSync("foo")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, lc)
	natstest.WaitFor(t, 5*time.Second, "the hub to hear of foo", func() bool { return hasSub(hub, "foo") })
	publish(t, hc, "foo", "hello")
	if _, err := foo.NextMsg(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := foo.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	flush(t, lc)
	natstest.WaitFor(t, 5*time.Second, "the hub to drop foo", func() bool { return !hasSub(hub, "foo") })

	bar, err := hc.SubscribeSync("bar")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, hc)
	natstest.WaitFor(t, 5*time.Second, "the leaf to hear of bar", func() bool { return hasSub(lf, "bar") })
	publish(t, lc, "bar", "hi")
	if _, err := bar.NextMsg(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The hub traced the LMSG before delivering it.
	return linkTrace(hub), linkTrace(lf)
}

// TestLeafTraceLines compares what hub and leaf trace on their link, line
// by line, with nats-server's: LS+ and LS- as sent and received, the
// DELSUB of an LS-, LMSG both ways with their payload lines.
func TestLeafTraceLines(t *testing.T) {
	t.Parallel()
	wantHub, wantLeaf := runTraceScenario(t, natsKind, natsKind)
	for _, l := range []string{"<<- [LS+ foo]", "->> [LMSG foo 5]", `->> MSG_PAYLOAD: ["hello"]`, "<<- [LS- foo]",
		"<-> [DELSUB foo]", "->> [LS+ bar]", "<<- [LMSG bar 2]"} {
		if !strings.Contains(strings.Join(wantHub, "\n"), "[TRC] <link> - "+l) {
			t.Errorf("nats-server's hub traced no %q:\n\t%s", l, strings.Join(wantHub, "\n\t"))
		}
	}
	compare := func(t *testing.T, what string, got, want []string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s traces differ\ncanopy:\n\t%s\nnats-server:\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	}
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			gotHub, gotLeaf := runTraceScenario(t, p.hub, p.leaf)
			if p.hub == canopyKind {
				compare(t, "hub", gotHub, wantHub)
			}
			if p.leaf == canopyKind {
				compare(t, "leaf", gotLeaf, wantLeaf)
			}
		})
	}
}
