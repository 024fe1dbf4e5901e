//go:build !race

package loop_test

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// TestLargeMessageAllocs sends 64 KiB messages from one raw client to
// another through Canopy and counts every allocation in the process once
// the path is warm: with publisher and subscriber on one loop and on two.
// The subscriber reads as fast as it can, so the server's writes regularly
// find its socket full and gnet's outbound buffer in use.
func TestLargeMessageAllocs(t *testing.T) {
	const (
		size  = 64 << 10
		batch = 8
		warm  = 2000
		n     = 3000
	)
	payload := bytes.Repeat([]byte("x"), size)
	frame := []byte("PUB big " + strconv.Itoa(size) + "\r\n" + string(payload) + "\r\n")
	msgLen := int64(len("MSG big 1 "+strconv.Itoa(size)+"\r\n") + size + 2)
	buf := bytes.Repeat(frame, batch)

	for _, tc := range []struct {
		name string
		same bool
	}{{"same-loop", true}, {"cross-loop", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := natstest.StartCanopy(t, "loops: 2")
			addr := s.ClientAddr().String()
			sub := dialRaw(t, addr)
			sub.connect(quiet)
			sub.send("SUB big 1\r\n")
			sub.flush()
			subLoop := s.LoopOfClient(rawCID(t, sub))
			var pub *raw
			for i := 0; i < 8 && pub == nil; i++ {
				c := dialRaw(t, addr)
				if (s.LoopOfClient(rawCID(t, c)) == subLoop) == tc.same {
					c.connect(quiet)
					pub = c
				}
			}
			if pub == nil {
				t.Fatal("no publisher landed where the test needs it")
			}
			// The raw clients' deadlines are for single expectations.
			sub.conn.SetReadDeadline(time.Time{})
			pub.conn.SetWriteDeadline(time.Time{})

			// The subscriber counts bytes into a buffer it reuses.
			got := make(chan int64, 1)
			want := make(chan int64)
			go func() {
				rb := make([]byte, 256<<10)
				var total int64
				target := <-want
				for {
					for total < target {
						k, err := sub.r.Read(rb)
						if err != nil {
							t.Errorf("subscriber: %v", err)
							got <- -1
							return
						}
						total += int64(k)
					}
					got <- total
					var ok bool
					if target, ok = <-want; !ok {
						return
					}
				}
			}()
			defer close(want)
			// run has the subscriber read up to total bytes while msgs more
			// messages are published, and waits for them all.
			run := func(msgs int, total int64) {
				t.Helper()
				want <- total
				for sent := 0; sent < msgs; sent += batch {
					if _, err := pub.conn.Write(buf); err != nil {
						t.Fatal(err)
					}
				}
				select {
				case g := <-got:
					if g != total {
						t.Fatalf("subscriber read %d bytes, want %d", g, total)
					}
				case <-time.After(60 * time.Second):
					t.Fatal("subscriber did not get every message")
				}
			}

			run(warm, warm*msgLen)
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			run(n, (warm+n)*msgLen)
			runtime.ReadMemStats(&m1)
			per := float64(m1.Mallocs-m0.Mallocs) / n
			t.Logf("%d allocations over %d messages of %d bytes: %.4f per message",
				m1.Mallocs-m0.Mallocs, n, size, per)
			if per >= 0.01 {
				t.Errorf("%.4f allocations per message, want < 0.01", per)
			}
		})
	}
}
