//go:build !race

package parser

import (
	"strings"
	"testing"
)

// TestAllocs holds the steady-state paths to zero allocations per Parse call.
// The race detector instruments allocations, hence the build tag.
func TestAllocs(t *testing.T) {
	pubs := strings.Repeat("PUB foo.bar 16\r\n0123456789abcdef\r\n", 50)
	leafMsgs := strings.Repeat("LMSG foo.bar + _INBOX.x q1 q2 q3 q4 q5 q6 q7 q8 q9 q10 16\r\n0123456789abcdef\r\n", 20)
	tests := []struct {
		name  string
		mode  Mode
		reads []string // each iteration feeds these in order
	}{
		{"pub", Client, []string{"PUB foo.bar 5\r\nhello\r\n"}},
		{"pub batch", Client, []string{pubs}},
		{"pub reply", Client, []string{"PUB foo.bar _INBOX.abc 5\r\nhello\r\n"}},
		{"hpub", Client, []string{"HPUB foo.hdr 23 25\r\nNATS/1.0\r\nX-Test: 1\r\n\r\nhd\r\n"}},
		{"sub unsub", Client, []string{"SUB foo.*  1\r\nSUB svc workers 2\r\nUNSUB 1 5\r\n"}},
		{"ping pong", Client, []string{"PING\r\nPONG\r\n"}},
		{"lmsg queues", Leaf, []string{leafMsgs}},
		{"hmsg", Leaf, []string{"HMSG qq + r.1 grp 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"}},
		{"ls+ ls-", Leaf, []string{"LS+ foo q 3\r\nLS- foo q\r\n"}},
		{"split name", Client, []string{"PU", "B foo 5\r\nhello\r\n"}},
		{"split line", Client, []string{"PUB foo.b", "ar 5\r\nhello\r\n"}},
		{"split payload", Client, []string{"PUB foo.bar 5\r\nhel", "lo\r\n"}},
		{"split terminator", Client, []string{"PUB foo.bar 5\r\nhello\r", "\n"}},
		{"split big payload", Client, []string{"PUB foo 70000\r\n" + strings.Repeat("x", 30000), strings.Repeat("x", 40000) + "\r\n"}},
		{"split lmsg", Leaf, []string{"LMSG foo + r q1 q2 5\r\nhe", "llo\r\n"}},
		{"trickle", Client, strings.Split("SUB foo 1\r\n", "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reads := make([][]byte, len(tc.reads))
			for i, r := range tc.reads {
				reads[i] = []byte(r)
			}
			p := &Parser{Mode: tc.mode}
			h := &counter{}
			run := func() {
				for _, r := range reads {
					if err := p.Parse(r, h); err != nil {
						t.Fatal(err)
					}
				}
			}
			run() // warm the pools
			if allocs := testing.AllocsPerRun(200, run); allocs != 0 {
				t.Fatalf("%v allocations per run, want 0", allocs)
			}
			if h.n == 0 || p.Pending() != 0 {
				t.Fatalf("%d ops, Pending() = %d", h.n, p.Pending())
			}
		})
	}
}
