package loop_test

import (
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/loop"
)

// The tests of issue 12's items 6 and 7: how long back-pressure may hold a
// loop, and how much memory a slow consumer costs, beside nats-server
// v2.15.2.

// stallBudget is loop's budget of waiting per event (loop/worker.go).
const stallBudget = 10 * time.Millisecond

// TestOneStallBudget is item 6: k subscribers that never read, on one loop
// with a publisher and an unrelated client. Once all k are far behind,
// every event of the publisher finds them so; however many they are, the
// loop waits for them one budget per event, so the unrelated client's
// round trips stay near that budget (each event waited 5 ms per slow
// subscriber before). The publisher then sends one small message per
// event, so that the round trips measure the waiting, not the copying of
// large messages to k buffers. The median is asserted, the worst logged:
// on a machine this loaded the worst is often the scheduler's. nats-server
// slows only the publisher's read loop; its figures are logged.
func TestOneStallBudget(t *testing.T) {
	// fill takes every slow subscriber past the 2 MiB past which the loop
	// waits for it (the kernel holds much of it), well short of
	// max_pending.
	const k, fill, size, rounds = 40, 6 << 10, 1 << 10, 40
	run := func(t *testing.T, addr string, behind func() bool) (median, worst time.Duration) {
		for range k {
			c := dialRaw(t, addr)
			if err := c.conn.SetReadBuffer(4 << 10); err != nil {
				t.Fatal(err)
			}
			c.connect(quiet)
			c.send("SUB flood 1\r\n")
			c.flush()
		}
		nc := connect(t, "nats://"+addr)
		pc := connect(t, "nats://"+addr)
		body := make([]byte, size)
		for range fill {
			if err := pc.Publish("flood", body); err != nil {
				t.Fatal(err)
			}
		}
		if err := pc.FlushTimeout(12 * wait); err != nil {
			t.Fatal(err)
		}
		natstest.WaitFor(t, wait, "every slow subscriber far behind", behind)
		// Collect the fill's garbage now, not while round trips are
		// measured: the server runs in this process.
		runtime.GC()
		stop := natstest.WatchEachRoundTrip(t, nc)
		began := time.Now()
		for range rounds {
			if err := pc.Publish("flood", body[:16]); err != nil {
				t.Fatal(err)
			}
			flush(t, pc)
		}
		took := time.Since(began)
		rtts := stop()
		if len(rtts) == 0 {
			t.Fatal("no round trip measured")
		}
		slices.Sort(rtts)
		median, worst = rtts[len(rtts)/2], rtts[len(rtts)-1]
		t.Logf("%d subscribers that do not read, each far behind: %d messages, one per flush, in %v; a client on the publisher's loop: %d round trips, median %v, worst %v",
			k, rounds, took.Round(time.Millisecond), len(rtts), median.Round(100*time.Microsecond), worst.Round(100*time.Microsecond))
		return median, worst
	}
	cfg := "max_pending: 16MB\n"
	var canopy, nats [2]time.Duration
	t.Run("canopy", func(t *testing.T) {
		s := natstest.StartCanopy(t, "loops: 1\n"+cfg)
		canopy[0], canopy[1] = run(t, s.ClientAddr().String(), func() bool {
			cs, err := s.Conns(loop.ConnsOptions{Open: true})
			if err != nil {
				t.Fatal(err)
			}
			behind := 0
			for _, c := range cs {
				if c.Pending > 2<<20 {
					behind++
				}
			}
			return behind == k
		})
		// The median was over 100 ms here (a PING waited, on average,
		// half of an event's k × 5 ms).
		if bound := 5 * stallBudget; canopy[0] > bound {
			t.Fatalf("median round trip %v beside %d slow subscribers: over %v", canopy[0], k, bound)
		}
	})
	t.Run("nats-server", func(t *testing.T) {
		s := natstest.StartNATS(t, cfg)
		nats[0], nats[1] = run(t, s.Addr().String(), func() bool { return true })
	})
	t.Logf("round trips beside %d subscribers that do not read, median/worst: canopy %v/%v, nats-server %v/%v", k,
		canopy[0].Round(100*time.Microsecond), canopy[1].Round(100*time.Microsecond),
		nats[0].Round(100*time.Microsecond), nats[1].Round(100*time.Microsecond))
}
