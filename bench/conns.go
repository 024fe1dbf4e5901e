package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/nats-io/nkeys"
	"golang.org/x/sys/unix"
)

// The idle-connection scenario does not use nats.go: a nats.go connection
// runs a reader and a flusher goroutine and holds 32 KiB or more of buffers,
// which at 100,000 connections would cost the harness gigabytes and compete
// with the server it measures. Each idle connection here is a bare socket
// that did INFO / CONNECT / [SUB] / PING / PONG by hand and then sits still;
// one sweeper answers the server's PINGs for all of them while they are held.
//
// Over TLS each idle connection is a crypto/tls client: the INFO line arrives
// in the clear, then the client's handshake, then CONNECT inside TLS, as
// nats.go does it. A full handshake per connection, with no session
// resumption, is what a server pays when its clients start; the rate at
// which they complete with Dialers of them in flight is the run's conns/s.

// sweepInterval is how often held connections are checked for server PINGs.
// nats-server pings every two minutes and closes after two unanswered ones,
// so ten seconds leaves a wide margin for other servers' settings.
const sweepInterval = 10 * time.Second

// serverInfo is the part of the server's INFO the raw client needs.
type serverInfo struct {
	Nonce        string `json:"nonce"`
	TLSRequired  bool   `json:"tls_required"`
	TLSAvailable bool   `json:"tls_available"`
}

type connectMsg struct {
	Verbose      bool   `json:"verbose"`
	Pedantic     bool   `json:"pedantic"`
	TLSRequired  bool   `json:"tls_required"`
	Name         string `json:"name"`
	Lang         string `json:"lang"`
	Version      string `json:"version"`
	Protocol     int    `json:"protocol"`
	Echo         bool   `json:"echo"`
	Headers      bool   `json:"headers"`
	NoResponders bool   `json:"no_responders"`
	User         string `json:"user,omitempty"`
	Pass         string `json:"pass,omitempty"`
	Token        string `json:"auth_token,omitempty"`
	JWT          string `json:"jwt,omitempty"`
	Sig          string `json:"sig,omitempty"`
}

// rawDialer opens idle connections to one server.
type rawDialer struct {
	o       *Options
	addr    string
	ips     []net.IP // source addresses, or nil for the kernel's choice
	connect connectMsg
	line    []byte        // the CONNECT line when it is the same for every connection
	kp      nkeys.KeyPair // set when a creds file signs each server nonce
	tls     *tls.Config   // set when the connections speak TLS
	ws      bool          // ws:// URL: the connections speak websocket
}

func newRawDialer(o *Options) (*rawDialer, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: cannot parse server URL %q", ErrOptions, redact(o.URL))
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "4222"
	}
	d := &rawDialer{o: o, addr: net.JoinHostPort(host, port), ws: u.Scheme == "ws"}
	if u.Scheme == "tls" || o.TLS.enabled() {
		if d.tls, err = o.TLS.clientConfig(host); err != nil {
			return nil, err
		}
	}
	d.connect = connectMsg{
		Name: "canopy-bench-idle", Lang: "go", Version: "canopy-bench", Protocol: 1,
		Echo: true, Headers: true, NoResponders: true, TLSRequired: d.tls != nil,
		Token: o.Auth.Token, User: o.Auth.User, Pass: o.Auth.Password,
	}
	if u.User != nil {
		if pass, ok := u.User.Password(); ok {
			d.connect.User, d.connect.Pass = u.User.Username(), pass
		} else {
			d.connect.Token = u.User.Username()
		}
	}
	if o.Auth.CredsFile != "" {
		contents, err := os.ReadFile(o.Auth.CredsFile)
		if err != nil {
			return nil, fmt.Errorf("bench: creds file: %w", err)
		}
		if d.connect.JWT, err = nkeys.ParseDecoratedJWT(contents); err != nil {
			return nil, fmt.Errorf("bench: creds file %s: %w", o.Auth.CredsFile, err)
		}
		if d.kp, err = nkeys.ParseDecoratedNKey(contents); err != nil {
			return nil, fmt.Errorf("bench: creds file %s: %w", o.Auth.CredsFile, err)
		}
	} else {
		b, _ := json.Marshal(d.connect)
		d.line = append(append([]byte("CONNECT "), b...), "\r\n"...)
	}
	d.ips = sourceIPs(o.SourceIPs, o.Conns, host)
	return d, nil
}

// sourceIPs picks loopback source addresses. One source address can reach one
// server port from at most as many connections as there are ephemeral ports
// (about 28,000 by default), but the opening rate suffers long before that:
// Linux gives connect() the ports of one parity first and searches the
// others only once those are taken, so every connect() past about half the
// range searches, and the rate measures the harness's kernel, not the
// server. 19,800 connections to one Canopy opened at 2,500-3,400 a second
// from one address and at 6,000-6,600 from four. So each address takes at
// most an eighth of the range (127.0.0.1, 127.0.0.2, and so on), or an even
// share of the connections over all 254 when that is more.
func sourceIPs(n, conns int, host string) []net.IP {
	if n == 0 {
		ip := net.ParseIP(host)
		if host == "localhost" {
			ip = net.IPv4(127, 0, 0, 1)
		}
		if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
			return nil
		}
		n = min(ceilDiv(conns, max(ephemeralPorts()/8, 1)), 254)
		if n <= 1 {
			return nil
		}
	}
	ips := make([]net.IP, n)
	for i := range ips {
		ips[i] = net.IPv4(127, 0, 0, byte(i+1))
	}
	return ips
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func ephemeralPorts() int {
	const fallback = 28232
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return fallback
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || hi <= lo {
		return fallback
	}
	return hi - lo + 1
}

// open dials connection i and completes the handshake. br is the calling
// worker's reader, reused across its connections: once PONG has arrived the
// server sends nothing more until its next PING, so nothing is left behind
// in it.
func (d *rawDialer) open(ctx context.Context, i int, br *bufio.Reader) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.o.Timeout}
	if d.ips != nil {
		nd.LocalAddr = &net.TCPAddr{IP: d.ips[i%len(d.ips)]}
		nd.Control = bindNoPort
	}
	c, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	if d.ws {
		_ = c.SetDeadline(time.Now().Add(d.o.Timeout))
		wc, err := wsUpgrade(c, d.addr)
		if err != nil {
			c.Close()
			return nil, err
		}
		c = wc
	}
	nc, err := d.handshake(c, i, br)
	if err != nil {
		c.Close()
		return nil, err
	}
	return nc, nil
}

// bindNoPort lets the kernel choose the source port of a socket bound to a
// source address at connect time, when it knows the destination, instead
// of at bind time (IP_BIND_ADDRESS_NO_PORT). Bound early, a port is taken
// for every destination at once and cannot be one a connection of the
// previous run left in TIME_WAIT, so consecutive runs of tens of thousands
// of connections run out of ports; chosen at connect time, a port only
// has to make the four-tuple unique.
func bindNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt IP_BIND_ADDRESS_NO_PORT", serr)
}

// handshake greets the server on c and returns the connection to keep: c
// itself, or the TLS client over it.
func (d *rawDialer) handshake(c net.Conn, i int, br *bufio.Reader) (net.Conn, error) {
	if err := c.SetDeadline(time.Now().Add(d.o.Timeout)); err != nil {
		return nil, err
	}
	br.Reset(c)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("reading INFO: %w", err)
	}
	if !bytes.HasPrefix(line, []byte("INFO ")) {
		return nil, fmt.Errorf("expected INFO, got %q", bytes.TrimSpace(line))
	}
	var info serverInfo
	if err := json.Unmarshal(bytes.TrimSpace(line[5:]), &info); err != nil {
		return nil, fmt.Errorf("bad INFO: %w", err)
	}
	switch {
	case info.TLSRequired && d.tls == nil:
		return nil, errors.New("the server requires TLS: give a CA file (--tls-ca) or a tls:// URL")
	case d.tls != nil && !info.TLSRequired && !info.TLSAvailable:
		return nil, errors.New("TLS was asked for but the server offers none")
	case d.tls != nil:
		// The server sends nothing after INFO until the client's hello,
		// so br holds nothing that belongs to the TLS stream.
		tc := tls.Client(c, d.tls)
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c = tc
		br.Reset(c)
	}
	out := d.line
	if d.kp != nil {
		sig, err := d.kp.Sign([]byte(info.Nonce))
		if err != nil {
			return nil, fmt.Errorf("signing the nonce: %w", err)
		}
		cm := d.connect
		cm.Sig = base64.RawURLEncoding.EncodeToString(sig)
		b, _ := json.Marshal(cm)
		out = append(append([]byte("CONNECT "), b...), "\r\n"...)
	} else {
		out = append([]byte(nil), out...)
	}
	if d.o.ConnSub {
		out = fmt.Appendf(out, "SUB %s.idle.%d %d\r\n", d.o.Subject, i, 1)
	}
	out = append(out, "PING\r\n"...)
	if _, err := c.Write(out); err != nil {
		return nil, fmt.Errorf("writing CONNECT: %w", err)
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, fmt.Errorf("waiting for PONG: %w", err)
		}
		switch {
		case bytes.HasPrefix(line, []byte("PONG")):
			return c, c.SetDeadline(time.Time{})
		case bytes.HasPrefix(line, []byte("PING")):
			if _, err := c.Write([]byte("PONG\r\n")); err != nil {
				return nil, err
			}
		case bytes.HasPrefix(line, []byte("-ERR")):
			return nil, fmt.Errorf("server said %s", bytes.TrimSpace(line))
		}
	}
}

func runConns(ctx context.Context, o *Options, res *Result) error {
	cr := &ConnsResult{Subscribed: o.ConnSub, ServerPID: o.ServerPID, Dialers: min(o.Dialers, o.Conns)}
	res.Conns = cr
	limit, hard := raiseNoFile()
	cr.NoFileLimit = limit
	const spareFDs = 64
	if need := uint64(o.Conns) + spareFDs; need > limit {
		return fmt.Errorf("%w: %d connections need about %d file descriptors; RLIMIT_NOFILE allows %d (hard limit %d) and cannot be raised further here",
			ErrOptions, o.Conns, need, limit, hard)
	}
	d, err := newRawDialer(o)
	if err != nil {
		return err
	}
	cr.SourceIPs = max(1, len(d.ips))
	cr.TLS = d.tls != nil
	if o.ServerPID != 0 {
		if cr.ServerRSSBefore, err = readRSS(o.ServerPID); err != nil {
			return err
		}
	}
	selfBefore, _ := readRSS(os.Getpid())

	conns := make([]net.Conn, o.Conns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var opened atomic.Int64
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bar := startProgress(o.Progress, fmt.Sprintf("conns %s", o.Label), int64(o.Conns), opened.Load)
	start := time.Now()
	var wg sync.WaitGroup
	for range min(o.Dialers, o.Conns) {
		wg.Go(func() {
			br := bufio.NewReaderSize(nil, 16<<10)
			for {
				i := int(next.Add(1) - 1)
				if i >= o.Conns || ctx.Err() != nil {
					return
				}
				c, err := d.open(ctx, i, br)
				if err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("bench: idle connection %d to %s: %w", i, d.addr, err)
						cancel()
					})
					return
				}
				conns[i] = c
				opened.Add(1)
			}
		})
	}
	wg.Wait()
	bar.finish()
	secs := time.Since(start).Seconds()
	cr.Opened = int(opened.Load())
	res.Sent, res.Expected = int64(cr.Opened), int64(o.Conns)
	res.Seconds, res.PubSeconds = secs, secs
	res.MsgsPerSec = float64(cr.Opened) / secs
	res.PubMsgsPerSec = res.MsgsPerSec
	if firstErr != nil {
		return fmt.Errorf("%w (%d of %d were open)", firstErr, cr.Opened, o.Conns)
	}

	// Every connection got its PONG, so the server has finished setting each
	// one up: its memory now is its memory with N more idle clients.
	if o.ServerPID != 0 {
		if cr.ServerRSSAfter, err = readRSS(o.ServerPID); err != nil {
			return err
		}
		cr.BytesPerConnAtOpen = float64(cr.ServerRSSAfter-cr.ServerRSSBefore) / float64(cr.Opened)
		// Both servers get the same idle time to give back what opening
		// the connections left (handshakes' garbage, buffers); the
		// connections answer their PINGs meanwhile in hold, later.
		select {
		case <-time.After(connsSettle):
		case <-ctx.Done():
			return ctx.Err()
		}
		if cr.ServerRSSAfter, err = readRSS(o.ServerPID); err != nil {
			return err
		}
		cr.BytesPerConn = float64(cr.ServerRSSAfter-cr.ServerRSSBefore) / float64(cr.Opened)
	}
	if selfAfter, err := readRSS(os.Getpid()); err == nil && selfBefore > 0 {
		cr.ClientBytesPerConn = float64(selfAfter-selfBefore) / float64(cr.Opened)
	}
	if o.PingSample > 0 {
		if res.Latency, err = pingSample(conns, o.PingSample, o.Timeout); err != nil {
			return err
		}
	}

	if o.opened != nil {
		o.opened()
	}
	held := time.Now()
	alive, err := hold(ctx, conns, o.Hold)
	cr.HeldSeconds = time.Since(held).Seconds()
	cr.Alive = alive
	res.Received = int64(alive)
	if err != nil {
		return err
	}
	if alive < cr.Opened {
		res.Lost = int64(cr.Opened - alive)
		return fmt.Errorf("%w: the server closed %d of %d idle connections", ErrIntegrity, cr.Opened-alive, cr.Opened)
	}
	return nil
}

var (
	pingLine = []byte("PING\r\n")
	pongLine = []byte("PONG\r\n")
)

// pingSample times one PING/PONG round trip on each of n connections picked
// at random. They go one at a time, so that each round trip is the server
// answering one connection among all the idle ones, not a queue of the
// sample's own PINGs.
func pingSample(conns []net.Conn, n int, timeout time.Duration) (*Latency, error) {
	hist := hdrhistogram.New(latencyMin, latencyMax, latencyDigits)
	buf := make([]byte, 4096)
	for _, i := range rand.Perm(len(conns))[:n] {
		d, err := pingOnce(conns[i], buf, timeout)
		if err != nil {
			return nil, fmt.Errorf("bench: PING on idle connection %d: %w", i, err)
		}
		_ = hist.RecordValue(max(int64(d), latencyMin))
	}
	return latencyOf(hist), nil
}

// pingOnce sends PING on c and waits for the PONG. A PING of the server's
// that was waiting on the socket, or crosses ours, is answered on the way.
func pingOnce(c net.Conn, buf []byte, timeout time.Duration) (time.Duration, error) {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if _, err := c.Write(pingLine); err != nil {
		return 0, err
	}
	var pending []byte
	for {
		n, err := c.Read(buf)
		if err != nil {
			return 0, err
		}
		pending = append(pending, buf[:n]...)
		for {
			line, rest, ok := bytes.Cut(pending, []byte("\r\n"))
			if !ok {
				break
			}
			pending = rest
			switch {
			case bytes.Equal(line, []byte("PONG")):
				d := time.Since(t0)
				return d, c.SetDeadline(time.Time{})
			case bytes.Equal(line, []byte("PING")):
				if _, err := c.Write(pongLine); err != nil {
					return 0, err
				}
			case bytes.HasPrefix(line, []byte("-ERR")):
				return 0, fmt.Errorf("server said %s", line)
			}
		}
	}
}

// hold keeps the connections open for d, answering PINGs every
// sweepInterval, and returns how many are still open at the end.
func hold(ctx context.Context, conns []net.Conn, d time.Duration) (int, error) {
	end := time.Now().Add(d)
	buf := make([]byte, 4096)
	for {
		alive := sweep(conns, buf)
		left := time.Until(end)
		if left <= 0 {
			return alive, nil
		}
		select {
		case <-ctx.Done():
			return alive, ctx.Err()
		case <-time.After(min(left, sweepInterval)):
		}
	}
}

// sweep reads whatever each connection has pending without blocking, answers
// PINGs, and closes (and forgets) connections the server has closed.
func sweep(conns []net.Conn, buf []byte) int {
	alive := 0
	for i, c := range conns {
		if c == nil {
			continue
		}
		n, closed := readNow(c, buf)
		if !closed && n > 0 {
			for range bytes.Count(buf[:n], []byte("PING\r\n")) {
				if _, err := c.Write(pongLine); err != nil {
					closed = true
				}
			}
		}
		if closed {
			c.Close()
			conns[i] = nil
			continue
		}
		alive++
	}
	return alive
}

// tlsReadWait is how long a sweep waits for the rest of a TLS record whose
// first bytes have arrived.
const tlsReadWait = 100 * time.Millisecond

// readNow does one non-blocking read. Going through the raw fd avoids
// setting a read deadline per connection, which would wait out the deadline
// on every idle socket.
func readNow(c net.Conn, buf []byte) (n int, closed bool) {
	if tc, ok := c.(*tls.Conn); ok {
		return readTLSNow(tc, buf)
	}
	return rawRead(c, buf, 0)
}

// readTLSNow is readNow through TLS. Reading the fd directly would take
// records away from crypto/tls, so it only peeks there; when bytes wait, the
// TLS layer reads them under a short deadline. Those bytes may be a session
// ticket rather than data, which leaves Read waiting out the deadline: that
// happens once per connection, in the first sweep, and costs only time.
func readTLSNow(tc *tls.Conn, buf []byte) (n int, closed bool) {
	n, closed = rawRead(tc.NetConn(), buf[:1], syscall.MSG_PEEK)
	if closed || n == 0 {
		return 0, closed
	}
	if err := tc.SetReadDeadline(time.Now().Add(tlsReadWait)); err != nil {
		return 0, true
	}
	n, err := tc.Read(buf)
	var ne net.Error
	switch {
	case err == nil:
	case errors.As(err, &ne) && ne.Timeout():
		// Crypto/tls keeps a connection usable after a timeout.
	default:
		return n, true
	}
	return n, tc.SetReadDeadline(time.Time{}) != nil
}

// rawRead does one non-blocking recv on c's socket with flags.
func rawRead(c net.Conn, buf []byte, flags int) (n int, closed bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, true
	}
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), buf, flags|syscall.MSG_DONTWAIT)
		return true
	})
	switch {
	case err != nil:
		return 0, true
	case rerr == syscall.EAGAIN || rerr == syscall.EINTR:
		return 0, false
	case rerr != nil:
		return 0, true
	case n == 0:
		return 0, true
	}
	return n, false
}

// raiseNoFile lifts the soft open-file limit to the hard limit, and the hard
// limit as far as the kernel lets this process (root may go up to
// fs.nr_open). It returns the soft and hard limits in force afterwards.
// Calling Setrlimit also makes child processes (a server the suite starts)
// inherit the raised limit.
func raiseNoFile() (soft, hard uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if nr, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && nr > rl.Max {
			up := syscall.Rlimit{Cur: nr, Max: nr}
			if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
				return nr, nr
			}
		}
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return rl.Cur, rl.Max
}

// connsSettle is how long idle connections are left alone before the
// server's memory is read.
const connsSettle = 3 * time.Second

// readRSS returns the resident set size of a process from /proc.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: server memory: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("bench: no VmRSS in /proc/%d/status", pid)
}
