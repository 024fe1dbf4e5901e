package loop_test

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// TestWebsocketSlowConsumer: a websocket subscriber that never reads is
// closed past max_pending, while a websocket reader gets every message
// and the publisher stays.
func TestWebsocketSlowConsumer(t *testing.T) {
	s := natstest.StartCanopy(t, "max_pending: 4MB\n"+wsPlain)
	ws := s.WSHostPort()
	slow := wsDial(t, ws)
	slow.frame(0x82, []byte("CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n"), true)
	if got := slow.text("PONG\r\n"); got != "PONG\r\n" {
		t.Fatalf("slow subscriber: %q", got)
	}
	var dropped atomic.Bool
	fc := connect(t, "ws://"+ws)
	pc := connect(t, "ws://"+ws, nats.DisconnectErrHandler(func(*nats.Conn, error) { dropped.Store(true) }))
	floodPastSlow(t, s, fc, pc, &dropped)
}

// floodPastSlow publishes 64 MiB on pc to a subscriber on fc that reads,
// while one subscriber that never reads holds a subscription already:
// the reader must get every message, the publisher must stay connected
// (dropped says whether it was), and exactly one slow consumer must have
// been closed.
func floodPastSlow(t *testing.T, s *natstest.Canopy, fc, pc *nats.Conn, dropped *atomic.Bool) {
	t.Helper()
	var got atomic.Int64
	fast, err := fc.Subscribe("flood", func(*nats.Msg) { got.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	fast.SetPendingLimits(-1, -1)
	flush(t, fc)
	const size, msgs = 16 << 10, 4096 // 64 MiB
	payload := make([]byte, size)
	for i := 0; i < msgs; i++ {
		if err := pc.Publish("flood", payload); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	flush(t, pc)
	natstest.WaitFor(t, 30*time.Second, "the reading subscriber to get every message", func() bool { return got.Load() == msgs })
	if dropped.Load() {
		t.Fatal("the publisher was disconnected")
	}
	if n := s.Stats().SlowConsumers; n != 1 {
		t.Fatalf("%d slow consumers, want the one that never read", n)
	}
}

// TestWebsocketSplits feeds a stream of frames (a fragmented message, a
// ping, a compressed message split over two frames, a text frame) split
// at every byte, and checks the same answer comes back each time.
func TestWebsocketSplits(t *testing.T) {
	cfg := strings.Replace(wsPlain, "no_tls: true", "no_tls: true, compression: true", 1)
	s := natstest.StartCanopy(t, cfg)
	ws := s.WSHostPort()
	z := deflateMsg(t, []byte("PUB x 3\r\nzzz\r\n"))
	var stream []byte
	stream = append(stream, wsFrame(0x82, []byte("CONNECT {\"verbose\":false}\r\nSUB x 1\r\n"), true)...)
	stream = append(stream, wsFrame(0x02, []byte("PUB x 5\r\nhe"), true)...)
	stream = append(stream, wsFrame(0x89, []byte("p"), true)...)
	stream = append(stream, wsFrame(0x80, []byte("llo\r\n"), true)...)
	stream = append(stream, wsFrame(0x42, z[:3], true)...)
	stream = append(stream, wsFrame(0x80, z[3:], true)...)
	stream = append(stream, wsFrame(0x81, bytes.Repeat([]byte("PING\r\n"), 30), true)...)
	want := "MSG x 1 5\r\nhello\r\nMSG x 1 3\r\nzzz\r\n" + strings.Repeat("PONG\r\n", 30)
	for k := 1; k < len(stream); k++ {
		c, resp := wsDialRaw(t, ws, wsUpgradeRequest("/", "Sec-WebSocket-Extensions: permessage-deflate"))
		if resp.StatusCode != 101 {
			t.Fatal(resp.Status)
		}
		c.read()
		c.write(stream[:k])
		time.Sleep(time.Millisecond)
		c.write(stream[k:])
		var got []byte
		pong := false
		for len(got) < len(want) {
			op, p := c.read()
			switch {
			case op&0x0f == 0xa:
				pong = true
				continue
			case op&0x40 != 0:
				p = inflateMsg(t, p)
			}
			got = append(got, p...)
		}
		if string(got) != want || !pong {
			t.Fatalf("split at %d: pong %v, got %q", k, pong, got)
		}
		c.conn.Close()
	}
}
