package loop_test

import (
	"fmt"
	"testing"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// TestClosedLeafNotRetained is what make chaos's LS+ flood found: a closed
// leaf link stayed reachable from its account's leaf list (the slot past
// the end after a removal from the middle), and with it everything it held,
// such as the record of the interest sent to it (7 MB after eight links of
// 20,000 LS+ each had closed). Once every link is gone no slot may point
// to one.
func TestClosedLeafNotRetained(t *testing.T) {
	t.Parallel()
	hub := natstest.StartCanopy(t, "leafnodes { listen: \"127.0.0.1:-1\" }\n")
	var links []*raw
	for i := 0; i < 3; i++ {
		r := dialRaw(t, hub.LeafAddr().String())
		r.send(fmt.Sprintf("CONNECT {\"name\":\"kept-%d\",\"headers\":true,\"version\":\"2.15.2\",\"remote_account\":\"$G\"}\r\nPING\r\n", i))
		r.until("PONG\r\n")
		links = append(links, r)
	}
	natstest.WaitFor(t, wait, "3 leaf links", func() bool { return hub.NumLeafs() == 3 })
	// The first goes first, so that its removal shifts the others down.
	for i, r := range links {
		r.conn.Close()
		natstest.WaitFor(t, wait, fmt.Sprintf("%d leaf links", 2-i), func() bool { return hub.NumLeafs() == 2-i })
	}
	if n := hub.StaleLeafSlots("$G"); n != 0 {
		t.Fatalf("%d closed leaf links still referenced by the account's leaf list", n)
	}
}
