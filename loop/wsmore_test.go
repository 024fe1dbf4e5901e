package loop_test

import (
	"bytes"
	"compress/flate"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// deflateMsg compresses b as one permessage-deflate message: the deflate
// stream flushed, without its last four bytes.
func deflateMsg(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	w.Write(b)
	w.Flush()
	return buf.Bytes()[:buf.Len()-4]
}

func inflateMsg(t testing.TB, z []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(z), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return b
}

// TestWebsocketDeflateRaw: a compressed message split over frames (RSV1 on
// the first only) is inflated; the server's compressed answers inflate;
// a compressed continuation frame is a protocol error.
func TestWebsocketDeflateRaw(t *testing.T) {
	cfg := strings.Replace(wsPlain, "no_tls: true", "no_tls: true, compression: true", 1)
	wsServers(t, cfg, func(t *testing.T, ws, _ string) {
		c, resp := wsDialRaw(t, ws, wsUpgradeRequest("/", "Sec-WebSocket-Extensions: permessage-deflate"))
		if resp.StatusCode != 101 || !strings.Contains(resp.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate") {
			t.Fatalf("upgrade %s %v", resp.Status, resp.Header)
		}
		c.read() // INFO
		payload := strings.Repeat("compress me ", 200)
		z := deflateMsg(t, []byte("CONNECT {\"verbose\":false}\r\nSUB x 1\r\nPUB x "+itoa(len(payload))+"\r\n"+payload+"\r\nPING\r\n"))
		half := len(z) / 2
		c.frame(0x02|0x40, z[:half], true)
		c.frame(0x80, z[half:], true)
		var got []byte
		for !bytes.HasSuffix(got, []byte("PONG\r\n")) {
			op, p := c.read()
			if op&0x40 != 0 {
				p = inflateMsg(t, p)
			}
			got = append(got, p...)
		}
		// The server's first PING to a client (after a second or two)
		// may come in between on a loaded machine.
		got = bytes.ReplaceAll(got, []byte("PING\r\n"), nil)
		if want := "MSG x 1 " + itoa(len(payload)) + "\r\n" + payload + "\r\nPONG\r\n"; string(got) != want {
			t.Fatalf("got %.80q...", got)
		}
		c.frame(0x02, z[:half], true)
		c.frame(0x80|0x40, z[half:], true)
		if status, _ := c.closeStatus(); status != 1002 && status != 0 {
			t.Fatalf("close status %d", status)
		}
	})
}

// TestWebsocketBrowser: a browser (User-Agent Mozilla/...) gets frames of
// at most 4 KiB.
func TestWebsocketBrowser(t *testing.T) {
	wsServers(t, wsPlain, func(t *testing.T, ws, _ string) {
		c := wsDial(t, ws, "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120")
		payload := strings.Repeat("b", 20000)
		c.frame(0x82, []byte("CONNECT {\"verbose\":false}\r\nSUB x 1\r\nPUB x 20000\r\n"+payload+"\r\nPING\r\n"), true)
		var got []byte
		for !bytes.HasSuffix(got, []byte("PONG\r\n")) {
			_, p := c.read()
			if len(p) > 4096 {
				t.Fatalf("frame of %d bytes", len(p))
			}
			got = append(got, p...)
		}
		if want := "MSG x 1 20000\r\n" + payload + "\r\nPONG\r\n"; string(got) != want {
			t.Fatalf("got %d bytes", len(got))
		}
	})
}

// TestWebsocketHandshakeTimeout: a connection that never finishes its
// upgrade request is closed.
func TestWebsocketHandshakeTimeout(t *testing.T) {
	cfg := strings.Replace(wsPlain, "no_tls: true", "no_tls: true, handshake_timeout: \"300ms\"", 1)
	wsServers(t, cfg, func(t *testing.T, ws, _ string) {
		c := dialRawNoInfo(t, ws)
		c.send("GET / HTTP/1.1\r\nHost: x\r\n")
		start := time.Now()
		c.closedWithin(5 * time.Second)
		if d := time.Since(start); d > 4*time.Second {
			t.Fatalf("closed after %v", d)
		}
	})
}

// TestWebsocketAuthTimeout: a websocket client that never sends CONNECT
// gets the -ERR and a close frame (1008, policy violation).
func TestWebsocketAuthTimeout(t *testing.T) {
	cfg := `
listen: "127.0.0.1:-1"
authorization { token: s, timeout: 0.3 }
websocket { listen: "127.0.0.1:-1", no_tls: true }
`
	wsServers(t, cfg, func(t *testing.T, ws, _ string) {
		c := wsDial(t, ws)
		if got := c.text("\r\n"); got != "-ERR 'Authentication Timeout'\r\n" {
			t.Fatalf("got %q", got)
		}
		if status, why := c.closeStatus(); status != 1008 || why != "Authentication Timeout" {
			t.Fatalf("close %d %q", status, why)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestWebsocketHeaders: the block's headers go out with the 101; an
// upgrade to /leafnode on a server without leafnodes is closed.
func TestWebsocketHeaders(t *testing.T) {
	cfg := strings.Replace(wsPlain, "no_tls: true", "no_tls: true, headers { X-Canopy-Test: \"yes\" }", 1)
	wsServers(t, cfg, func(t *testing.T, ws, _ string) {
		_, resp := wsDialRaw(t, ws, wsUpgradeRequest("/"))
		if resp.StatusCode != 101 || resp.Header.Get("X-Canopy-Test") != "yes" {
			t.Fatalf("%s %v", resp.Status, resp.Header)
		}
		c := dialRawNoInfo(t, ws)
		c.send(wsUpgradeRequest("/leafnode"))
		if got := c.closed(); strings.Contains(got, "INFO") {
			t.Fatalf("leaf upgrade without leafnodes got %q", got)
		}
	})
}

// TestWebsocketMaxConnections: websocket clients count towards
// max_connections with the TCP ones.
func TestWebsocketMaxConnections(t *testing.T) {
	cfg := "max_connections: 1\n" + wsPlain
	wsServers(t, cfg, func(t *testing.T, ws, tcp string) {
		nc := connect(t, tcp)
		flush(t, nc)
		c, resp := wsDialRaw(t, ws, wsUpgradeRequest("/"))
		if resp.StatusCode != 101 {
			t.Fatal(resp.Status)
		}
		var got string
		for !strings.Contains(got, "-ERR") {
			op, p, err := c.tryRead()
			if err != nil {
				t.Fatalf("no -ERR: %v after %q", err, got)
			}
			if op&0x0f == 8 {
				t.Fatalf("close frame before -ERR: %q", got)
			}
			got += string(p)
		}
		if !strings.Contains(got, "-ERR 'maximum connections exceeded'") {
			t.Fatalf("got %q", got)
		}
	})
}

// TestWebsocketPingInterval: the block's ping_interval applies to
// websocket clients: one that never answers is pinged, then closed as
// stale, well before the server-wide interval.
func TestWebsocketPingInterval(t *testing.T) {
	cfg := "ping_interval: \"1m\"\nping_max: 2\n" + strings.Replace(wsPlain, "no_tls: true", "no_tls: true, ping_interval: \"100ms\"", 1)
	wsServers(t, cfg, func(t *testing.T, ws, _ string) {
		c := wsDial(t, ws)
		c.frame(0x82, []byte("CONNECT {\"verbose\":false}\r\n"), true)
		start := time.Now()
		var got string
		for {
			op, p, err := c.tryRead()
			if err != nil || op&0x0f == 8 {
				break
			}
			got += string(p)
		}
		if !strings.Contains(got, "PING\r\n") || !strings.Contains(got, "Stale Connection") {
			t.Fatalf("got %q", got)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("closed after %v", d)
		}
	})
}

// TestWebsocketReload: a reload that keeps the websocket block is
// accepted and websocket clients go on; one that changes it is refused,
// as nats-server refuses it.
func TestWebsocketReload(t *testing.T) {
	s := natstest.StartCanopy(t, wsPlain)
	nc := connect(t, "ws://"+s.WSHostPort())
	flush(t, nc)
	if err := rlReload(t, s, wsPlain+"\ndebug: true\n"); err != nil {
		t.Fatalf("reload: %v", err)
	}
	flush(t, nc)
	changed := strings.Replace(wsPlain, "no_tls: true", "no_tls: true, compression: true", 1)
	if err := rlReload(t, s, changed); err == nil {
		t.Fatal("a changed websocket block was reloaded")
	}
	flush(t, nc)
}

// TestWebsocketBatchedFrames: what one read causes goes out as one
// frame, not a frame per message.
func TestWebsocketBatchedFrames(t *testing.T) {
	s := natstest.StartCanopy(t, wsPlain)
	c := wsDial(t, s.WSHostPort())
	in := "CONNECT {\"verbose\":false}\r\nSUB x 1\r\n" + strings.Repeat("PUB x 2\r\nhi\r\n", 100) + "PING\r\n"
	c.frame(0x82, []byte(in), true)
	op, p := c.read()
	want := strings.Repeat("MSG x 1 2\r\nhi\r\n", 100) + "PONG\r\n"
	if op != 0x82 || string(p) != want {
		t.Fatalf("first frame: op %#x, %d bytes (want %d in one frame)", op, len(p), len(want))
	}
}
