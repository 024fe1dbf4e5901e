package loop_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// wait is how long any single expectation may take before the test fails.
// It is generous because the VM is small and noisy; a passing test never
// waits for it.
const wait = 5 * time.Second

// raw is a plain TCP client that speaks the protocol by hand, so tests can
// assert the exact bytes a server sends.
type raw struct {
	t    testing.TB
	conn *net.TCPConn
	r    *bufio.Reader
	info string // the INFO line the server greeted with, without CRLF
}

// dialRaw connects to addr and reads the INFO line.
func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	c := dialRawNoInfo(t, addr)
	line := c.line()
	if !strings.HasPrefix(line, "INFO {") || !strings.HasSuffix(line, "} ") {
		t.Fatalf("greeting: got %q, want INFO {...} with a trailing space", line)
	}
	c.info = line
	return c
}

// dialRawNoInfo connects to addr and reads nothing.
func dialRawNoInfo(t testing.TB, addr string) *raw {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	tc := nc.(*net.TCPConn)
	t.Cleanup(func() { tc.Close() })
	return &raw{t: t, conn: tc, r: bufio.NewReaderSize(tc, 64<<10)}
}

// send writes s in one write.
func (c *raw) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write %.40q: %v", s, err)
	}
}

// line reads one line and returns it without its CRLF. It insists on CRLF:
// servers always send it.
func (c *raw) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read line: %v (got %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		c.t.Fatalf("line %q does not end in CRLF", s)
	}
	return s[:len(s)-2]
}

// expect reads exactly len(want) bytes and compares them with want.
func (c *raw) expect(want string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	got := make([]byte, len(want))
	n, err := io.ReadFull(c.r, got)
	if err != nil || string(got) != want {
		c.t.Fatalf("expected %q, got %q (%v)", want, got[:n], err)
	}
}

// connect sends CONNECT with the given JSON and a PING, and waits for the
// PONG (after +OK when the JSON leaves verbose on).
func (c *raw) connect(js string) {
	c.t.Helper()
	c.send("CONNECT " + js + "\r\nPING\r\n")
	c.expect(c.verboseOK(js) + "PONG\r\n")
}

// verboseOK is the +OK a CONNECT with js earns: verbose defaults to true.
func (c *raw) verboseOK(js string) string {
	if strings.Contains(js, `"verbose":false`) {
		return ""
	}
	return "+OK\r\n"
}

// flush sends PING and returns everything that arrives before the PONG.
// Because a server answers a PING only after every earlier op of the
// connection took effect, it is the barrier raw tests synchronise on.
func (c *raw) flush() string {
	c.t.Helper()
	c.send("PING\r\n")
	return c.until("PONG\r\n")
}

// until reads until the bytes read end with suffix and returns what came
// before it.
func (c *raw) until(suffix string) string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	var b []byte
	for !bytes.HasSuffix(b, []byte(suffix)) {
		x, err := c.r.ReadByte()
		if err != nil {
			c.t.Fatalf("waiting for %q: %v after %q", suffix, err, b)
		}
		b = append(b, x)
	}
	return string(b[:len(b)-len(suffix)])
}

// closed reads until the server closes the connection and returns what
// arrived first. It fails if the connection stays open.
func (c *raw) closed() string {
	c.t.Helper()
	return c.closedWithin(wait)
}

func (c *raw) closedWithin(d time.Duration) string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v; read %d bytes: %.200q", d, len(b), b)
	}
	// A reset after the server closed is as good as EOF here: the peer is
	// gone. ReadAll returns the bytes read before it.
	return string(b)
}

// servers runs fn against Canopy and against nats-server v2.15.2, each
// started from the same config text, as subtests. A raw-bytes expectation
// that holds for both is a fact of the protocol, not a guess.
func servers(t *testing.T, config string, fn func(t *testing.T, addr string)) {
	t.Helper()
	t.Run("canopy", func(t *testing.T) {
		s := natstest.StartCanopy(t, config)
		fn(t, s.ClientAddr().String())
	})
	t.Run("nats-server", func(t *testing.T) {
		s := natstest.StartNATS(t, config)
		fn(t, s.Addr().String())
	})
}

// startCanopy starts Canopy with config text and returns its client URL.
func startCanopy(t testing.TB, config string) (*natstest.Canopy, string) {
	t.Helper()
	s := natstest.StartCanopy(t, config)
	return s, s.ClientURL()
}

// connect opens a nats.go connection that reports async errors to the
// test instead of dropping them.
func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
		subj := ""
		if s != nil {
			subj = s.Subject
		}
		t.Errorf("async error on %q: %v", subj, err)
	})}, opts...)
	return natstest.Connect(t, url, opts...)
}

// flush flushes nc and fails the test on error.
func flush(t testing.TB, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(wait); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// next waits for the next message of a synchronous subscription.
func next(t testing.TB, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(wait)
	if err != nil {
		t.Fatalf("next message on %q: %v", sub.Subject, err)
	}
	return m
}

// none checks that a synchronous subscription holds no message now. Call
// it after a flush of every publisher and of the subscriber, so anything
// that was going to arrive has.
func none(t testing.TB, sub *nats.Subscription) {
	t.Helper()
	if n, _, err := sub.Pending(); err != nil || n != 0 {
		m, _ := sub.NextMsg(time.Millisecond)
		t.Fatalf("subscription %q: %d unexpected messages pending (%v), first %+v", sub.Subject, n, err, m)
	}
}
