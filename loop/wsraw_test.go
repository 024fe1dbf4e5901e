package loop_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// wsRaw is a websocket client that writes frames by hand, so tests can
// send what no library would.
type wsRaw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// wsUpgradeRequest is a valid upgrade request with extra header lines.
func wsUpgradeRequest(path string, extra ...string) string {
	s := "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, e := range extra {
		s += e + "\r\n"
	}
	return s + "\r\n"
}

// wsDialRaw connects and sends req, returning the client and the response.
func wsDialRaw(t testing.TB, addr, req string) (*wsRaw, *http.Response) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &wsRaw{t: t, conn: nc, r: bufio.NewReader(nc)}
	nc.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("upgrade response: %v", err)
	}
	return c, resp
}

// wsDial upgrades and reads the INFO frame.
func wsDial(t testing.TB, addr string, extra ...string) *wsRaw {
	t.Helper()
	c, resp := wsDialRaw(t, addr, wsUpgradeRequest("/", extra...))
	if resp.StatusCode != 101 {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	if got := resp.Header.Get("Sec-Websocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept key %q", got)
	}
	op, p := c.read()
	if op&0x0f != 2 || !strings.HasPrefix(string(p), "INFO {") {
		t.Fatalf("first frame: op %d %q", op, p)
	}
	return c
}

// frame writes one frame: b0 as given (FIN, RSV, opcode), masked with a
// fixed key unless unmasked.
func (c *wsRaw) frame(b0 byte, payload []byte, masked bool) {
	c.t.Helper()
	c.write(wsFrame(b0, payload, masked))
}

func (c *wsRaw) write(b []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(wait))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func wsFrame(b0 byte, payload []byte, masked bool) []byte {
	b := []byte{b0, 0}
	n := len(payload)
	switch {
	case n <= 125:
		b[1] = byte(n)
	case n < 1<<16:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	b[1] |= 0x80
	key := []byte{1, 2, 3, 4}
	b = append(b, key...)
	for i, x := range payload {
		b = append(b, x^key[i&3])
	}
	return b
}

// read reads one frame (server frames are not masked) and returns its
// opcode and payload.
func (c *wsRaw) read() (byte, []byte) {
	c.t.Helper()
	op, p, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return op, p
}

func (c *wsRaw) tryRead() (byte, []byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(wait))
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		if _, err := io.ReadFull(c.r, x[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		if _, err := io.ReadFull(c.r, x[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(x[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.r, p); err != nil {
		return 0, nil, err
	}
	return h[0], p, nil
}

// text reads data frames until their payloads end with suffix.
func (c *wsRaw) text(suffix string) string {
	c.t.Helper()
	var s string
	for !strings.HasSuffix(s, suffix) {
		op, p := c.read()
		if op&0x0f == 8 {
			c.t.Fatalf("close frame %q while waiting for %q after %q", p, suffix, s)
		}
		s += string(p)
	}
	return s
}

// closeStatus reads until a close frame and returns its status and
// reason; the connection must then end. Status 0: it ended without one.
func (c *wsRaw) closeStatus() (int, string) {
	c.t.Helper()
	for {
		op, p, err := c.tryRead()
		if errors.Is(err, io.EOF) {
			return 0, ""
		}
		if err != nil {
			c.t.Fatalf("no close frame: %v", err)
		}
		if op&0x0f != 8 {
			continue
		}
		if op&0x80 == 0 {
			c.t.Fatalf("close frame without FIN")
		}
		status := 1005
		if len(p) >= 2 {
			status = int(binary.BigEndian.Uint16(p))
			p = p[2:]
		}
		c.conn.SetReadDeadline(time.Now().Add(wait))
		if _, err := io.ReadAll(c.r); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("connection still open after the close frame")
			}
		}
		return status, string(p)
	}
}
