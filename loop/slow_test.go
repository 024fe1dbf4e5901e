package loop_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/loop"
)

// rawCID is the client_id the server gave a raw connection in its INFO.
func rawCID(t testing.TB, c *raw) uint64 {
	t.Helper()
	var info struct {
		ClientID uint64 `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(c.info, "INFO "))), &info); err != nil {
		t.Fatalf("INFO %q: %v", c.info, err)
	}
	return info.ClientID
}

// TestSlowConsumer floods a subject that two raw subscribers never read,
// one on the publisher's loop and one on the other. Each is closed once
// its pending output passes max_pending, without an -ERR (nats-server sends
// none); the publisher is never refused or stuck, a subscriber that reads
// gets every message, and the server's memory stays far below what was
// published.
func TestSlowConsumer(t *testing.T) {
	s, url := startCanopy(t, "max_pending: 4MB")
	addr := s.ClientAddr().String()
	const size, msgs = 16 << 10, 8192 // 128 MiB in all

	pc := connect(t, url)
	publoop := loopOf(t, s, pc)
	var slow []*raw
	seen := map[bool]bool{}
	for i := 0; i < 8 && len(seen) < 2; i++ {
		c := dialRaw(t, addr)
		onPub := s.LoopOfClient(rawCID(t, c)) == publoop
		if seen[onPub] {
			continue
		}
		seen[onPub] = true
		c.connect(quiet)
		c.send("SUB flood 1\r\n")
		c.flush()
		slow = append(slow, c)
	}
	if len(slow) != 2 {
		t.Fatal("could not place a slow subscriber on each loop")
	}

	var dropped atomic.Bool
	fc := connect(t, url, nats.DisconnectErrHandler(func(*nats.Conn, error) { dropped.Store(true) }))
	var got atomic.Int64
	fast, err := fc.Subscribe("flood", func(*nats.Msg) { got.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	fast.SetPendingLimits(-1, -1)
	flush(t, fc)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		// Sample the heap while the flood runs; it is a measurement, not
		// a synchronisation.
		defer close(sampled)
		var m runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()

	body := make([]byte, size)
	start := time.Now()
	for i := 0; i < msgs; i++ {
		if err := pc.Publish("flood", body); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	flush(t, pc)
	pubTime := time.Since(start)
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < msgs && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	<-sampled
	if n := got.Load(); n != msgs || dropped.Load() {
		t.Fatalf("the reading subscriber got %d of %d (disconnected: %v)", n, msgs, dropped.Load())
	}
	growth := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("published %d MiB in %v; heap in use grew by at most %d MiB", size*msgs>>20, pubTime, growth>>20)
	// The slow subscribers would hold 128 MiB each if nothing stopped them.
	if growth > 96<<20 {
		t.Errorf("heap grew by %d MiB during the flood", growth>>20)
	}

	for i, c := range slow {
		out := c.closed()
		if len(out) >= size*msgs {
			t.Errorf("slow subscriber %d got all %d bytes", i, len(out))
		}
		if strings.Contains(out, "-ERR") {
			t.Errorf("slow subscriber %d got an -ERR", i)
		}
		if !strings.HasPrefix(out, "MSG flood 1 16384\r\n") {
			t.Errorf("slow subscriber %d: stream starts %.40q", i, out)
		}
	}
	// The publisher still works.
	roundTrip(t, pc)
}

// TestSlowConsumerWriteDeadline: a subscriber that stops reading, with
// far less than max_pending waiting for it, is closed once its output has
// made no progress for write_deadline; the publisher and a reading
// subscriber carry on. (nats-server closes a client whose write blocks
// past the deadline; whether it blocks at all depends on how much the
// kernel buffers, so this is not compared.)
func TestSlowConsumerWriteDeadline(t *testing.T) {
	s, url := startCanopy(t, `write_deadline: "500ms"`)
	const size, msgs = 16 << 10, 1024 // 16 MiB: more than the sockets hold
	slow := dialRaw(t, s.ClientAddr().String())
	// A small receive buffer keeps the kernel from absorbing the flood on
	// the slow side (loopback autotuning otherwise grows it to many MiB).
	if err := slow.conn.SetReadBuffer(32 << 10); err != nil {
		t.Fatal(err)
	}
	slow.connect(quiet)
	slow.send("SUB flood 1\r\n")
	slow.flush()
	fc := connect(t, url)
	var got atomic.Int64
	all := make(chan struct{})
	fast, err := fc.Subscribe("flood", func(*nats.Msg) {
		if got.Add(1) == msgs {
			close(all)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	fast.SetPendingLimits(-1, -1)
	flush(t, fc)
	pc := connect(t, url)
	body := make([]byte, size)
	start := time.Now()
	for i := 0; i < msgs; i++ {
		if err := pc.Publish("flood", body); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pc)
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		t.Fatalf("the reading subscriber got %d of %d", got.Load(), msgs)
	}
	// Not reading for a while is the point: the server must give up on
	// its own within a few write deadlines, without the client reading
	// (the kernel may hold much of the flood, so reading would make
	// progress and keep the connection alive).
	natstest.WaitFor(t, 10*time.Second, "the slow subscriber to be closed", func() bool {
		closed, err := s.Conns(loop.ConnsOptions{Closed: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, ci := range closed {
			if ci.Reason == "Slow Consumer (Write Deadline)" {
				return true
			}
		}
		return false
	})
	out := slow.closedWithin(10 * time.Second)
	if len(out) >= size*msgs || strings.Contains(out, "-ERR") {
		t.Errorf("slow subscriber got %d bytes (an -ERR: %v)", len(out), strings.Contains(out, "-ERR"))
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("closed after %v, before the write deadline", d)
	}
	roundTrip(t, pc)
}

// TestSlowReaderKept: a subscriber that reads, however slowly, keeps its
// connection past write_deadline while its backlog shrinks: the deadline
// is for a receiver that takes nothing, as nats-server's is for a write
// that blocks.
func TestSlowReaderKept(t *testing.T) {
	s, url := startCanopy(t, `write_deadline: "300ms"`)
	const size, msgs = 8 << 10, 1024 // 8 MiB
	slow := dialRaw(t, s.ClientAddr().String())
	if err := slow.conn.SetReadBuffer(32 << 10); err != nil {
		t.Fatal(err)
	}
	slow.connect(quiet)
	slow.send("SUB flood 1\r\n")
	slow.flush()
	pc := connect(t, url)
	body := make([]byte, size)
	for i := 0; i < msgs; i++ {
		if err := pc.Publish("flood", body); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pc)
	// Read about 4 MiB/s: well over a second of backlog, several
	// deadlines, every one of them with progress.
	want := msgs * (len("MSG flood 1 8192\r\n") + size + 2)
	buf := make([]byte, 64<<10)
	got := 0
	deadline := time.Now().Add(30 * time.Second)
	for got < want {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d bytes", got, want)
		}
		time.Sleep(15 * time.Millisecond) // the point of the test: a slow reader
		slow.conn.SetReadDeadline(time.Now().Add(wait))
		n, err := slow.r.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", got, want, err)
		}
		got += n
	}
	roundTrip(t, pc)
}
