package loop

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/canopy-nats/canopy/conf"
)

// TLS runs on the transport seam (write.go) with Go's crypto/tls, no fork.
// See doc.go for why the record layer runs on the loop over an in-memory
// pipe and the handshake on a goroutine of its own.

const reasonTLSHandshake closeReason = "TLS Handshake Failure"

// tlsChunk is the most plaintext handed to one tls.Conn.Write: four full
// records. tlsFlushAt is how much ciphertext output gathers before it is
// handed to gnet, so a large flush does not need a buffer of its size.
const (
	tlsRecord  = 16 << 10
	tlsChunk   = 4 * tlsRecord
	tlsFlushAt = 256 << 10
)

// tlsHandshakeRecord is the first byte of a TLS handshake record: what a
// ClientHello starts with.
const tlsHandshakeRecord = 0x16

type tlsPhase uint8

const (
	// tlsWaitFirst: handshake_first with a fallback delay; waiting for the
	// peer's first bytes, or for the delay to pass.
	tlsWaitFirst tlsPhase = iota
	// tlsMaybe: allow_non_tls; the first byte tells a ClientHello from a
	// plaintext CONNECT.
	tlsMaybe
	tlsHandshaking
	tlsLive
)

// tlsTransport is a connection's TLS: a tls.Conn over a tlsPipe.
type tlsTransport struct {
	xl     xlink
	phase  tlsPhase // loop only
	conn   *tls.Conn
	pipe   *tlsPipe
	server bool
	leaf   bool
	// after runs on the loop once the handshake has succeeded, before
	// what arrived with it is parsed (a handshake_first server sends its
	// INFO, a leaf remote its CONNECT).
	after   func()
	timeout time.Duration // how long the handshake may take

	// Read by monitoring (on the loop, through onLoops) once live.
	version uint16
	cipher  uint16
	peer    []*x509.Certificate
	first   bool // the handshake came before INFO
}

// errWouldBlock is what the pipe's Read returns when no ciphertext is
// buffered: crypto/tls keeps a connection usable after a temporary error
// (conn.go readRecordOrCCS), so the record layer can run on the loop and
// return to it whenever a record is incomplete.
var errWouldBlock net.Error = tlsPipeError{"no ciphertext buffered", false, true}

var errTLSTimeout net.Error = tlsPipeError{"i/o timeout", true, true}

type tlsPipeError struct {
	s         string
	timeout   bool
	temporary bool
}

func (e tlsPipeError) Error() string   { return e.s }
func (e tlsPipeError) Timeout() bool   { return e.timeout }
func (e tlsPipeError) Temporary() bool { return e.temporary }

// tlsPipe is the net.Conn a tls.Conn sees. During the handshake it is
// blocking: the handshake goroutine reads what OnTraffic hands over (hin,
// under mu) and writes with gnet's AsyncWrite. Once live it belongs to the
// loop: Read takes from in (the bytes of the current OnTraffic, without a
// copy) and says errWouldBlock when they are used up; Write appends the
// records to the output being gathered (collect) or, outside output,
// writes them to gnet directly.
type tlsPipe struct {
	gc gnet.Conn

	mu     sync.Mutex
	cond   sync.Cond
	hin    []byte
	failed error // set once: the connection closed, or the handshake timed out

	live    atomic.Bool
	in      []byte
	collect *[]byte
}

func newTLSPipe(gc gnet.Conn) *tlsPipe {
	p := &tlsPipe{gc: gc}
	p.cond.L = &p.mu
	return p
}

func (p *tlsPipe) Read(b []byte) (int, error) {
	if p.live.Load() {
		if len(p.in) == 0 {
			return 0, errWouldBlock
		}
		n := copy(b, p.in)
		p.in = p.in[n:]
		return n, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.hin) == 0 && p.failed == nil {
		p.cond.Wait()
	}
	if len(p.hin) == 0 {
		return 0, p.failed
	}
	n := copy(b, p.hin)
	p.hin = p.hin[n:]
	if len(p.hin) == 0 {
		p.hin = nil
	}
	return n, nil
}

func (p *tlsPipe) Write(b []byte) (int, error) {
	if p.live.Load() {
		if p.collect != nil {
			*p.collect = append(*p.collect, b...)
			return len(b), nil
		}
		return p.gc.Write(b)
	}
	// The handshake goroutine: gnet writes it on the loop, in order.
	if err := p.gc.AsyncWrite(append([]byte(nil), b...), nil); err != nil {
		return 0, err
	}
	return len(b), nil
}

// feed hands bytes that arrived during the handshake to its goroutine.
func (p *tlsPipe) feed(b []byte) {
	p.mu.Lock()
	p.hin = append(p.hin, b...)
	p.cond.Signal()
	p.mu.Unlock()
}

// fail wakes the handshake goroutine with err, once.
func (p *tlsPipe) fail(err error) {
	p.mu.Lock()
	if p.failed == nil {
		p.failed = err
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// goLive hands the pipe to the loop, with what arrived after the
// handshake's last message.
func (p *tlsPipe) goLive() {
	p.mu.Lock()
	p.in = p.hin
	p.hin = nil
	p.live.Store(true)
	p.mu.Unlock()
}

func (p *tlsPipe) Close() error {
	p.fail(net.ErrClosed)
	return nil
}

func (p *tlsPipe) LocalAddr() net.Addr                { return p.gc.LocalAddr() }
func (p *tlsPipe) RemoteAddr() net.Addr               { return p.gc.RemoteAddr() }
func (p *tlsPipe) SetDeadline(t time.Time) error      { return nil }
func (p *tlsPipe) SetReadDeadline(t time.Time) error  { return nil }
func (p *tlsPipe) SetWriteDeadline(t time.Time) error { return nil }

// newTLS gives c a TLS transport in the given phase; tlsHandshaking starts
// the handshake at once.
func (c *client) newTLS(cfg *tls.Config, server bool, timeout time.Duration, phase tlsPhase) *tlsTransport {
	p := newTLSPipe(c.conn)
	t := &tlsTransport{phase: phase, pipe: p, server: server, leaf: c.kind == kindLeaf, timeout: timeout}
	if server {
		t.conn = tls.Server(p, cfg)
	} else {
		t.conn = tls.Client(p, cfg)
	}
	c.push(t)
	if phase == tlsHandshaking {
		t.handshake(c, nil)
	}
	return t
}

// handshake runs the handshake on a goroutine of its own: public-key
// crypto takes milliseconds, which no loop can spare. early is what the
// peer sent already.
func (t *tlsTransport) handshake(c *client, early []byte) {
	t.phase = tlsHandshaking
	if len(early) > 0 {
		t.pipe.feed(early)
	}
	c.srv.log.Debugf("%s - Starting TLS %s handshake", c, t.role())
	timer := time.AfterFunc(t.timeout, func() { t.pipe.fail(errTLSTimeout) })
	go func() {
		err := t.conn.Handshake()
		timer.Stop()
		c.onLoop(func() { t.handshaken(c, err) })
	}()
}

func (t *tlsTransport) role() string {
	switch {
	case !t.leaf && t.server:
		return "client connection"
	case t.server:
		return "leafnode server"
	}
	return "leafnode client"
}

// handshaken runs on the loop when the handshake has ended.
func (t *tlsTransport) handshaken(c *client, err error) {
	s := c.srv
	if err != nil {
		what := "TLS handshake error"
		if t.leaf {
			what = "TLS leafnode handshake error"
		}
		var ve *tls.CertificateVerificationError
		detail := ""
		if errors.As(err, &ve) {
			for i, cert := range ve.UnverifiedCertificates {
				if i > 0 {
					detail += "; "
				}
				detail += cert.Subject.String()
			}
			if detail != "" {
				detail = " (" + detail + ")"
			}
		}
		logf := s.log.Errorf
		if probe(err) {
			logf = s.log.Debugf
		}
		logf("%s - %s: %v%s", c, what, err, detail)
		c.closeWith(reasonTLSHandshake, "")
		return
	}
	s.noteOpened(c.w.now)
	st := t.conn.ConnectionState()
	t.version, t.cipher, t.peer = st.Version, st.CipherSuite, st.PeerCertificates
	s.log.Debugf("%s - TLS handshake complete", c)
	s.log.Debugf("%s - TLS version %s, cipher suite %s", c, tlsVersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	t.pipe.goLive()
	t.phase = tlsLive
	if t.after != nil {
		t.after()
		t.after = nil
	}
	t.pump(c)
}

// probe tells a handshake that failed because the peer was not speaking
// TLS at all, or said nothing, from a real failure: nats-server logs the
// former only at debug level (load balancers' health checks).
func probe(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) && rh.Conn != nil
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "1.3"
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS11:
		return "1.1"
	case tls.VersionTLS10:
		return "1.0"
	}
	return "unknown"
}

func (t *tlsTransport) holding() bool { return t.phase != tlsLive }

func (t *tlsTransport) link() *xlink { return &t.xl }

func (t *tlsTransport) input(c *client, raw []byte) {
	switch t.phase {
	case tlsLive:
		t.pipe.in = raw
		t.pump(c)
	case tlsHandshaking:
		t.pipe.feed(raw)
	case tlsWaitFirst:
		// Whatever the peer sends first is taken for its ClientHello.
		t.handshake(c, raw)
	case tlsMaybe:
		if len(raw) > 0 && raw[0] == tlsHandshakeRecord {
			t.handshake(c, raw)
			return
		}
		// A plaintext client, which allow_non_tls lets in.
		up := t.xl.up
		c.remove(t)
		if up != nil {
			up.input(c, raw)
		} else {
			c.consume(raw)
		}
	}
}

// pump decrypts what the pipe holds and parses it, until a record is
// incomplete: then every byte of pipe.in is in the tls.Conn's own buffer.
func (t *tlsTransport) pump(c *client) {
	buf := c.w.tlsIn
	if buf == nil {
		buf = make([]byte, tlsRecord+1024)
		c.w.tlsIn = buf
	}
	for !c.closed.Load() {
		n, err := t.conn.Read(buf)
		if n > 0 {
			t.xl.pass(c, buf[:n])
		}
		if err != nil {
			switch {
			case err == errWouldBlock || c.closed.Load():
			case errors.Is(err, io.EOF):
				// The peer's close_notify.
				c.closeWith(reasonClientClosed, "")
			default:
				c.srv.log.Debugf("%s - TLS read error: %v", c, err)
				c.closeWith(reasonReadError, "")
			}
			break
		}
	}
	t.pipe.in = nil
}

func (t *tlsTransport) output(c *client, pieces [][]byte) (int, error) {
	w := c.w
	plain := w.tlsPlain[:0]
	cipher := w.tlsOut[:0]
	t.pipe.collect = &cipher
	handed := 0
	var err error
	send := func() {
		if len(plain) > 0 && err == nil {
			_, err = t.conn.Write(plain)
			plain = plain[:0]
		}
		if len(cipher) >= tlsFlushAt && err == nil {
			var n int
			n, err = t.xl.emit(c, cipher)
			handed += n
			cipher = cipher[:0]
		}
	}
	for _, p := range pieces {
		for len(p) > 0 && err == nil {
			if len(plain) == 0 && (len(pieces) == 1 || len(p) >= tlsChunk) {
				// Straight from the piece, without gathering it first: a
				// lone piece (the connection's own output), or whole
				// records of a large one. At most tlsFlushAt at a time,
				// so the records gathered stay bounded.
				k := min(len(p), tlsFlushAt)
				if k < len(p) || len(pieces) > 1 {
					k -= k % tlsRecord
				}
				_, err = t.conn.Write(p[:k])
				p = p[k:]
				send()
				continue
			}
			k := min(len(p), tlsChunk-len(plain))
			plain = append(plain, p[:k]...)
			p = p[k:]
			if len(plain) == tlsChunk {
				send()
			}
		}
	}
	send()
	t.pipe.collect = nil
	if len(cipher) > 0 && err == nil {
		var n int
		n, err = t.xl.emit(c, cipher)
		handed += n
	}
	if cap(plain) <= maxKeptBatch {
		w.tlsPlain = plain[:0]
	}
	if cap(cipher) <= maxKeptBatch {
		w.tlsOut = cipher[:0]
	}
	return handed, err
}

func (t *tlsTransport) release() {
	t.pipe.fail(net.ErrClosed)
	t.pipe.in = nil
}

// tlsConfigs are the server's TLS configurations, rebuilt from the
// certificate files at start and at every reload (so a rotated
// certificate serves new connections).
type tlsConfigs struct {
	client atomic.Pointer[tls.Config] // the client port's; nil: plaintext
	leaf   atomic.Pointer[tls.Config] // the leafnode port's
	ws     atomic.Pointer[tls.Config] // the websocket port's
}

// buildTLS reads opts' certificate files into configurations.
func buildTLS(opts *conf.Options) (client, leafCfg *tls.Config, err error) {
	if t := opts.TLS; t != nil {
		if client, err = t.ServerConfig(); err != nil {
			return nil, nil, fmt.Errorf("tls: %w", err)
		}
	}
	if t := opts.LeafNode.TLS; t != nil && opts.LeafNode.Port != 0 {
		if leafCfg, err = t.ServerConfig(); err != nil {
			return nil, nil, fmt.Errorf("leafnodes tls: %w", err)
		}
	}
	return client, leafCfg, nil
}

func (s *Server) storeTLS(client, leafCfg *tls.Config) {
	s.tls.client.Store(client)
	s.tls.leaf.Store(leafCfg)
	var ws *tls.Config
	if t := s.opts.Websocket.TLS; t != nil && s.opts.Websocket.Port != 0 {
		// Checked when the options were read.
		ws, _ = t.ServerConfig()
	}
	s.tls.ws.Store(ws)
}

// openTLS sets up TLS on an accepted connection (client or leaf port)
// whose listener has cfg. It returns whether INFO goes out now, in
// plaintext; when it does not, info is queued once TLS is up (or the
// fallback delay has passed).
func (c *client) openTLS(cfg *tls.Config, o *conf.TLS, info func() []byte) (infoNow bool) {
	timeout := o.HandshakeTimeout()
	queueInfo := func() {
		c.out = append(c.out, info()...)
		c.w.markDirty(c)
	}
	switch {
	case o.HandshakeFirst && o.FallbackDelay > 0:
		t := c.newTLS(cfg, true, timeout, tlsWaitFirst)
		t.first = true
		// A ClientHello first: INFO follows the handshake.
		t.after = queueInfo
		time.AfterFunc(o.FallbackDelay, func() {
			c.onLoop(func() {
				if t.phase != tlsWaitFirst {
					return
				}
				// The peer said nothing: it waits for INFO, as a client
				// without handshake_first does.
				out := info()
				_, _ = c.conn.Write(out)
				t.first = false
				t.after = nil
				t.handshake(c, nil)
			})
		})
		return false
	case o.HandshakeFirst:
		t := c.newTLS(cfg, true, timeout, tlsHandshaking)
		t.after = queueInfo
		t.first = true
		return false
	case c.kind == kindClient && c.srv.opts.AllowNonTLS:
		c.newTLS(cfg, true, timeout, tlsMaybe)
		return true
	}
	c.newTLS(cfg, true, timeout, tlsHandshaking)
	return true
}

// hasTLS reports whether c runs TLS.
func (c *client) hasTLS() bool {
	for t := c.tr; t != nil; t = t.link().up {
		if _, ok := t.(*tlsTransport); ok {
			return true
		}
	}
	return false
}

// peerCert is the certificate the peer presented over TLS, for
// verify_and_map; nil without one.
func (c *client) peerCert() *x509.Certificate {
	for t := c.tr; t != nil; t = t.link().up {
		if t, ok := t.(*tlsTransport); ok && len(t.peer) > 0 {
			return t.peer[0]
		}
	}
	return nil
}

// tlsName is the name a leaf remote verifies the hub's certificate for:
// the host of the URL dialled, unless that is a bare IP (a discovered
// URL) and a configured URL names a host, as nats-server keeps it.
func tlsName(u *url.URL, configured []*url.URL) string {
	host := u.Hostname()
	if net.ParseIP(host) == nil {
		return host
	}
	for _, c := range configured {
		if h := c.Hostname(); net.ParseIP(h) == nil && h != "" {
			return h
		}
	}
	return host
}
