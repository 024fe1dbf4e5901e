package loop

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
)

// Websocket (RFC 6455, with RFC 7692's permessage-deflate) is one more
// transform on the transport seam (write.go), above TLS for wss. A
// connection accepted on the websocket port starts with the layer reading
// an HTTP/1.1 upgrade request; once it has answered 101, every byte read
// is a frame, whose payload goes up to the parser, and every flush is one
// binary frame (or a few, for browsers). A leaf remote with a ws:// or
// wss:// URL runs the same layer as the client side: it sends the upgrade
// request and waits for the hub's 101 before the leaf protocol starts.
//
// The HTTP exchange happens once per connection and is parsed with
// net/http, as nats-server's own server does; frames are decoded on the
// loop as they arrive, in place (unmasking rewrites the read buffer, which
// the connection owns until the event ends), so a frame split over reads
// costs nothing more than its header.

// Frame opcodes, bits and limits.
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xa

	wsFin  = 0x80
	wsRsv1 = 0x40
	wsRsv2 = 0x20
	wsRsv3 = 0x10
	wsMask = 0x80

	wsMaxControl = 125
	// wsBrowserFrame is the largest frame written to a browser: they
	// handle small frames better (nats-server's figure).
	wsBrowserFrame = 4096
	// wsCompressMin: smaller flushes go out uncompressed.
	wsCompressMin = 64
	// wsMaxRequest bounds the upgrade request, headers included.
	wsMaxRequest = 64 << 10
	// wsLeafPath ends the request path of a leaf link's upgrade.
	wsLeafPath = "/leafnode"
)

// Close status codes (RFC 6455 7.4.1).
const (
	wsStatusNormal        = 1000
	wsStatusGoingAway     = 1001
	wsStatusProtocol      = 1002
	wsStatusNoStatus      = 1005
	wsStatusInvalidData   = 1007
	wsStatusPolicy        = 1008
	wsStatusTooBig        = 1009
	wsStatusInternal      = 1011
	wsStatusTLSHandshake  = 1015
	wsGUID                = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	wsDeflateExt          = "permessage-deflate"
	wsDeflateResponse     = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
	wsDeflateRequest      = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	wsNoMaskingHeader     = "Nats-No-Masking"
	wsNoMaskingResponse   = "Nats-No-Masking: true\r\n"
	wsXForwardedForHeader = "X-Forwarded-For"
)

// wsTrailer is what a deflate stream flushed with a sync block ends with,
// which permessage-deflate leaves out of each message, followed by an
// empty final block so that the reader reports the end.
var wsTrailer = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

type wsPhase uint8

const (
	wsUpgrading wsPhase = iota // server: reading the request; client: awaiting 101
	wsLive
	wsDone // a close frame went out, or the upgrade failed: input is ignored
)

// wsLayer is one connection's websocket.
type wsLayer struct {
	xl    xlink
	phase wsPhase
	// server is the accepting side: it reads masked frames (unless the
	// leaf peer negotiated no_masking) and writes unmasked ones.
	server    bool
	maskRead  bool
	maskWrite bool
	compress  bool
	browser   bool
	// noCompFrag: Safari takes compressed messages in one frame only.
	noCompFrag bool
	leaf       bool // the upgrade was for a leaf link
	closeSent  bool

	// The upgrade.
	req      []byte // server: the request so far; client: the response
	key      string // client: the Sec-WebSocket-Key sent
	clientIP string // X-Forwarded-For, when it is an IP
	cookies  wsCookies
	// up runs on the loop once the upgrade has succeeded.
	up func()

	// Reading frames.
	hdr     [14]byte
	nhdr    int
	inFrame bool
	op      byte
	rem     uint64
	masked  bool
	mkey    [4]byte
	mpos    int
	inMsg   bool // a data message is under way (its final frame not seen)
	msgFin  bool // the current data frame is the message's last
	msgComp bool // the current message is compressed
	ctl     []byte
	cbuf    []byte // a compressed message being gathered

	ohdr [14]byte // the header of an unmasked frame being written
}

// wsCookies are the credentials the upgrade's cookies carried.
type wsCookies struct {
	jwt, user, pass, token string
}

func (l *wsLayer) link() *xlink  { return &l.xl }
func (l *wsLayer) holding() bool { return l.phase == wsUpgrading }
func (l *wsLayer) release()      { l.req, l.ctl, l.cbuf = nil, nil, nil }

// wsAccept is the Sec-WebSocket-Accept value for a key.
func wsAccept(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(wsGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func (l *wsLayer) input(c *client, raw []byte) {
	switch l.phase {
	case wsUpgrading:
		if l.server {
			l.serverUpgrade(c, raw)
		} else {
			l.clientUpgrade(c, raw)
		}
	case wsLive:
		if err := l.frames(c, raw); err != nil && !c.closed.Load() {
			c.srv.log.Debugf("%s - Websocket error: %v", c, err)
		}
	}
}

// serverUpgrade gathers the upgrade request and answers it.
func (l *wsLayer) serverUpgrade(c *client, raw []byte) {
	l.req = append(l.req, raw...)
	end := bytes.Index(l.req, []byte("\r\n\r\n"))
	if end < 0 {
		if len(l.req) > wsMaxRequest {
			l.httpError(c, http.StatusRequestHeaderFieldsTooLarge, "request too large")
		}
		return
	}
	end += 4
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(l.req[:end])))
	if err != nil {
		l.httpError(c, http.StatusBadRequest, "malformed request: "+err.Error())
		return
	}
	extra := len(l.req) > end
	l.req = nil
	if status, why := l.checkRequest(c, r); status != 0 {
		l.httpError(c, status, why)
		return
	}
	if extra {
		l.httpError(c, http.StatusBadRequest, "client sent data before handshake is complete")
		return
	}
	o := &c.srv.opts.Websocket
	resp := make([]byte, 0, 256)
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = append(resp, wsAccept(r.Header.Get("Sec-Websocket-Key"))...)
	resp = append(resp, "\r\n"...)
	if o.Compression && wsWantsDeflate(r.Header) {
		l.compress = true
		resp = append(resp, wsDeflateResponse...)
	}
	if r.Header.Get(wsNoMaskingHeader) == "true" {
		l.maskRead = false
		resp = append(resp, wsNoMaskingResponse...)
	}
	for k, v := range o.Headers {
		resp = append(resp, k...)
		resp = append(resp, ": "...)
		resp = append(resp, v...)
		resp = append(resp, "\r\n"...)
	}
	resp = append(resp, "\r\n"...)
	if ips := r.Header.Values(wsXForwardedForHeader); len(ips) > 0 && net.ParseIP(ips[0]) != nil {
		l.clientIP = ips[0]
	}
	if !l.leaf {
		if ua := r.Header.Get("User-Agent"); strings.HasPrefix(ua, "Mozilla/") {
			l.browser = true
			l.noCompFrag = l.compress && strings.Contains(ua, "Version/") && strings.Contains(ua, "Safari/")
		}
		for _, ck := range r.Cookies() {
			switch ck.Name {
			case "":
			case o.JWTCookie:
				l.cookies.jwt = ck.Value
			case o.UsernameCookie:
				l.cookies.user = ck.Value
			case o.PasswordCookie:
				l.cookies.pass = ck.Value
			case o.TokenCookie:
				l.cookies.token = ck.Value
			}
		}
	}
	if _, err := l.xl.emit(c, resp); err != nil {
		return
	}
	l.phase = wsLive
	if l.up != nil {
		l.up()
		l.up = nil
	}
}

// checkRequest applies RFC 6455 4.2.1 and the origin rules, in
// nats-server's order, and says which HTTP status refuses the request (0:
// none).
func (l *wsLayer) checkRequest(c *client, r *http.Request) (int, string) {
	l.leaf = strings.HasSuffix(r.URL.EscapedPath(), wsLeafPath)
	switch {
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, "request method must be GET"
	case r.Host == "":
		return http.StatusBadRequest, "'Host' missing in request"
	case !wsHeaderHas(r.Header, "Upgrade", "websocket"):
		return http.StatusBadRequest, "invalid value for header 'Upgrade'"
	case !wsHeaderHas(r.Header, "Connection", "Upgrade"):
		return http.StatusBadRequest, "invalid value for header 'Connection'"
	}
	key := r.Header.Get("Sec-Websocket-Key")
	if key == "" {
		return http.StatusBadRequest, "key missing"
	}
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return http.StatusBadRequest, "invalid websocket key"
	}
	if !wsHeaderHas(r.Header, "Sec-Websocket-Version", "13") {
		return http.StatusBadRequest, "invalid version"
	}
	if err := c.srv.wsCheckOrigin(r, c.hasTLS()); err != nil {
		return http.StatusForbidden, "origin not allowed: " + err.Error()
	}
	if l.leaf && c.srv.opts.LeafNode.Port == 0 {
		// nats-server answers 101 and closes: the leaf would not
		// understand an HTTP error better.
		return -1, "not configured to accept leaf node connections"
	}
	return 0, ""
}

// httpError answers a failed upgrade the way Go's HTTP server answers
// http.Error, which is what nats-server sends, and closes.
func (l *wsLayer) httpError(c *client, status int, why string) {
	l.phase = wsDone
	l.req = nil
	c.srv.log.Errorf("%s - websocket handshake error: %s", c, why)
	if status > 0 {
		text := http.StatusText(status)
		b := make([]byte, 0, 256)
		b = append(b, "HTTP/1.1 "...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, ' ')
		b = append(b, text...)
		b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: "...)
		b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(text)+1), 10)
		b = append(b, "\r\nConnection: close\r\n\r\n"...)
		b = append(b, text...)
		b = append(b, '\n')
		_, _ = l.xl.emit(c, b)
	}
	c.reason = reasonProtocol
	c.markClosed()
	_ = c.conn.Close()
}

// wsHeaderHas reports whether a header's comma-separated tokens include
// value, ignoring case.
func wsHeaderHas(h http.Header, name, value string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), value) {
				return true
			}
		}
	}
	return false
}

// wsWantsDeflate reports whether the peer offered permessage-deflate, and
// whether with both no_context_takeover parameters.
func wsDeflateOffer(h http.Header) (offered, noContext bool) {
	for _, v := range h.Values("Sec-Websocket-Extensions") {
		for _, ext := range strings.Split(v, ",") {
			params := strings.Split(ext, ";")
			if !strings.EqualFold(strings.TrimSpace(params[0]), wsDeflateExt) {
				continue
			}
			var srv, cli bool
			for _, p := range params[1:] {
				switch strings.ToLower(strings.TrimSpace(p)) {
				case "server_no_context_takeover":
					srv = true
				case "client_no_context_takeover":
					cli = true
				}
			}
			return true, srv && cli
		}
	}
	return false, false
}

func wsWantsDeflate(h http.Header) bool {
	ok, _ := wsDeflateOffer(h)
	return ok
}

// wsCheckOrigin applies same_origin and allowed_origins. A request
// without an Origin header passes: only browsers send one.
func (s *Server) wsCheckOrigin(r *http.Request, secure bool) error {
	o := &s.opts.Websocket
	if !o.SameOrigin && len(o.AllowedOrigins) == 0 {
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Sec-Websocket-Origin")
	}
	if origin == "" {
		return nil
	}
	u, err := url.ParseRequestURI(origin)
	if err != nil {
		return err
	}
	oh, op, err := wsHostPort(u.Scheme == "https", u.Host)
	if err != nil {
		return err
	}
	if o.SameOrigin {
		rh, rp, err := wsHostPort(secure, r.Host)
		if err != nil {
			return err
		}
		scheme := "http"
		if secure {
			scheme = "https"
		}
		if oh != rh || op != rp || !strings.EqualFold(u.Scheme, scheme) {
			return errors.New("not same origin")
		}
	}
	if len(o.AllowedOrigins) > 0 {
		for _, ao := range o.AllowedOrigins {
			a, err := url.ParseRequestURI(ao)
			if err != nil {
				continue
			}
			ah, ap, err := wsHostPort(a.Scheme == "https", a.Host)
			if err == nil && ah == oh && ap == op && a.Scheme == u.Scheme {
				return nil
			}
		}
		return errors.New("not in the allowed list")
	}
	return nil
}

// wsHostPort splits host:port, giving the scheme's default port when
// there is none.
func wsHostPort(secure bool, hostport string) (string, string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		var ae *net.AddrError
		if !errors.As(err, &ae) || !strings.Contains(ae.Err, "missing port") {
			return "", "", err
		}
		host, port = hostport, "80"
		if secure {
			port = "443"
		}
	}
	return strings.ToLower(host), port, nil
}

// frames decodes what raw holds of the frame stream.
func (l *wsLayer) frames(c *client, raw []byte) error {
	for len(raw) > 0 && l.phase == wsLive && !c.closed.Load() {
		if !l.inFrame {
			if l.nhdr < 2 {
				k := copy(l.hdr[l.nhdr:2], raw)
				l.nhdr += k
				raw = raw[k:]
				if l.nhdr < 2 {
					return nil
				}
			}
			need := 2 + 4*int(l.hdr[1]>>7)
			switch l.hdr[1] & 0x7f {
			case 126:
				need += 2
			case 127:
				need += 8
			}
			k := copy(l.hdr[l.nhdr:need], raw)
			l.nhdr += k
			raw = raw[k:]
			if l.nhdr < need {
				return nil
			}
			l.nhdr = 0
			if err := l.header(c); err != nil {
				return err
			}
		}
		n := uint64(len(raw))
		if n > l.rem {
			n = l.rem
		}
		p := raw[:n]
		raw = raw[n:]
		l.rem -= n
		if l.masked {
			l.unmask(p)
		}
		switch {
		case l.op >= wsClose:
			l.ctl = append(l.ctl, p...)
		case l.msgComp:
			limit := wsMaxMessage(c)
			if uint64(len(l.cbuf))+n > limit {
				return l.fail(c, reasonMaxPayload, errMaxPayload, wsStatusTooBig, "message too big")
			}
			l.cbuf = append(l.cbuf, p...)
		case n > 0:
			l.xl.pass(c, p)
		}
		if l.rem > 0 {
			return nil
		}
		l.inFrame = false
		if l.op >= wsClose {
			if err := l.control(c); err != nil {
				return err
			}
			continue
		}
		if l.msgFin {
			l.inMsg = false
			if l.msgComp {
				l.msgComp = false
				if err := l.inflate(c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// header checks a complete frame header (in l.hdr) and starts its frame.
func (l *wsLayer) header(c *client) error {
	b0, b1 := l.hdr[0], l.hdr[1]
	op := b0 & 0x0f
	fin := b0&wsFin != 0
	comp := b0&wsRsv1 != 0
	if b0&(wsRsv2|wsRsv3) != 0 {
		return l.protocolError(c, "RSV2 and RSV3 must be clear")
	}
	if comp && !l.compress {
		return l.protocolError(c, "compressed frame received without negotiated permessage-deflate")
	}
	if l.maskRead && b1&wsMask == 0 {
		return l.protocolError(c, "mask bit missing")
	}
	size := uint64(b1 & 0x7f)
	i := 2
	switch size {
	case 126:
		size = uint64(binary.BigEndian.Uint16(l.hdr[2:4]))
		i = 4
	case 127:
		size = binary.BigEndian.Uint64(l.hdr[2:10])
		i = 10
		if size&(1<<63) != 0 {
			return l.protocolError(c, "invalid 64-bit payload length")
		}
	}
	switch op {
	case wsPing, wsPong, wsClose:
		if size > wsMaxControl {
			return l.protocolError(c, "control frame length bigger than maximum allowed of 125 bytes")
		}
		if !fin {
			return l.protocolError(c, "control frame does not have final bit set")
		}
		if comp {
			return l.protocolError(c, "control frame must not be compressed")
		}
		l.ctl = l.ctl[:0]
	case wsText, wsBinary:
		if l.inMsg {
			return l.protocolError(c, "new message started before final frame for previous message was received")
		}
		l.inMsg, l.msgFin, l.msgComp = true, fin, comp
	case wsContinuation:
		if !l.inMsg || comp {
			return l.protocolError(c, "invalid continuation frame")
		}
		l.msgFin = fin
	default:
		return l.protocolError(c, "unknown opcode "+strconv.Itoa(int(op)))
	}
	l.op = op
	l.rem = size
	l.masked = b1&wsMask != 0
	if l.masked {
		copy(l.mkey[:], l.hdr[i:i+4])
		l.mpos = 0
	}
	l.inFrame = true
	return nil
}

// unmask undoes the masking of a piece of payload in place.
func (l *wsLayer) unmask(p []byte) {
	k := l.mkey
	pos := l.mpos
	if len(p) >= 16 {
		// Eight bytes at a time, with the key rotated to where this
		// piece starts.
		var kb [8]byte
		for i := range kb {
			kb[i] = k[(pos+i)&3]
		}
		km := binary.LittleEndian.Uint64(kb[:])
		n := len(p) &^ 7
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^km)
		}
		pos += n
		p = p[n:]
	}
	for i := range p {
		p[i] ^= k[pos&3]
		pos++
	}
	l.mpos = pos & 3
}

// control acts on a complete ping, pong or close frame.
func (l *wsLayer) control(c *client) error {
	switch l.op {
	case wsPing:
		l.sendControl(c, wsPong, l.ctl)
	case wsClose:
		status := wsStatusNoStatus
		body := ""
		switch n := len(l.ctl); {
		case n == 1:
			return l.protocolError(c, "close frame payload cannot be 1 byte")
		case n >= 2:
			status = int(binary.BigEndian.Uint16(l.ctl))
			if !wsValidStatus(status) {
				return l.protocolError(c, "invalid close status code "+strconv.Itoa(status))
			}
			body = string(l.ctl[2:])
			if !utf8.ValidString(body) {
				status, body = wsStatusInvalidData, "invalid utf8 body in close frame"
			}
		}
		if status != wsStatusNoStatus {
			l.sendControl(c, wsClose, wsCloseBody(status, body))
		} else {
			l.sendControl(c, wsClose, nil)
		}
		l.closeSent = true
		l.phase = wsDone
		c.closeWith(reasonClientClosed, "")
		return errClose
	}
	return nil
}

func wsValidStatus(code int) bool {
	switch {
	case code == wsStatusNoStatus, code == 1004, code == 1006, code == wsStatusTLSHandshake:
		return false
	case code < 1000, code >= 5000, code >= 1016 && code <= 2999:
		return false
	}
	return true
}

// wsCloseBody is a close frame's payload: the status and as much of the
// reason as fits, marked "..." when cut.
func wsCloseBody(status int, reason string) []byte {
	if len(reason) > wsMaxControl-2 {
		reason = reason[:wsMaxControl-5] + "..."
	}
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(status))
	return append(b, reason...)
}

// protocolError answers a broken frame stream with a close frame (1002,
// and what was wrong) and closes.
func (l *wsLayer) protocolError(c *client, why string) error {
	return l.fail(c, reasonProtocol, "", wsStatusProtocol, why)
}

// fail closes with a close frame of the given status; text, if any, goes
// first as -ERR.
func (l *wsLayer) fail(c *client, reason closeReason, text string, status int, why string) error {
	if text != "" {
		c.sendErr(text)
		c.flushOut()
	}
	if !l.closeSent {
		l.closeSent = true
		l.sendControl(c, wsClose, wsCloseBody(status, why))
	}
	l.phase = wsDone
	c.closeWith(reason, "")
	return errors.New(why)
}

// closing sends the close frame for a connection the server ends, with
// the status nats-server maps the reason to; what was pending went first.
func (l *wsLayer) closing(c *client, reason closeReason) {
	if l.closeSent || l.phase != wsLive {
		return
	}
	l.closeSent = true
	l.phase = wsDone
	l.sendControl(c, wsClose, wsCloseBody(wsStatusFor(reason), string(reason)))
}

func wsStatusFor(r closeReason) int {
	switch r {
	case reasonClientClosed:
		return wsStatusNormal
	case reasonAuthTimeout, reasonAuthFailure, reasonSlowPending, reasonSlowDeadline, reasonMaxConns,
		reasonMaxSubs, reasonAuthExpired:
		return wsStatusPolicy
	case reasonTLSHandshake:
		return wsStatusTLSHandshake
	case reasonParse, reasonProtocol, reasonBadProtocol:
		return wsStatusProtocol
	case reasonMaxPayload:
		return wsStatusTooBig
	case reasonWriteError, reasonReadError, reasonStale, reasonServerShutdown:
		return wsStatusGoingAway
	}
	return wsStatusInternal
}

// sendControl writes a control frame at once: it is its own frame, so it
// may go ahead of output not flushed yet.
func (l *wsLayer) sendControl(c *client, op byte, payload []byte) {
	var b [2 + 4 + wsMaxControl]byte
	n := l.frameHeader(b[:], op, true, false, len(payload))
	copy(b[n:], payload)
	if l.maskWrite {
		wsMaskWith(b[n-4:n], b[n:n+len(payload)])
	}
	_, _ = l.xl.emit(c, b[:n+len(payload)])
}

// frameHeader writes a frame header into b and returns its length; with
// masking, the key (random) is its last four bytes.
func (l *wsLayer) frameHeader(b []byte, op byte, fin, comp bool, size int) int {
	b[0] = op
	if fin {
		b[0] |= wsFin
	}
	if comp {
		b[0] |= wsRsv1
	}
	var m byte
	if l.maskWrite {
		m = wsMask
	}
	n := 2
	switch {
	case size <= wsMaxControl:
		b[1] = m | byte(size)
	case size < 1<<16:
		b[1] = m | 126
		binary.BigEndian.PutUint16(b[2:], uint16(size))
		n = 4
	default:
		b[1] = m | 127
		binary.BigEndian.PutUint64(b[2:], uint64(size))
		n = 10
	}
	if l.maskWrite {
		_, _ = rand.Read(b[n : n+4])
		n += 4
	}
	return n
}

func wsMaskWith(key, p []byte) {
	for i := range p {
		p[i] ^= key[i&3]
	}
}

// wsMaxMessage bounds a compressed message, as nats-server: eight times
// the connection's max payload, at most 64 MiB.
func wsMaxMessage(c *client) uint64 {
	mp := uint64(c.p.MaxPayload)
	if mp == 0 {
		mp = uint64(c.srv.opts.MaxPayload)
	}
	return min(mp*8, 64<<20)
}

// inflate decompresses a whole compressed message and hands it up in
// pieces.
func (l *wsLayer) inflate(c *client) error {
	w := c.w
	l.cbuf = append(l.cbuf, wsTrailer...)
	if w.wsReader == nil {
		w.wsSrc = bytes.NewReader(l.cbuf)
		w.wsReader = flate.NewReader(w.wsSrc)
	} else {
		w.wsSrc.Reset(l.cbuf)
		_ = w.wsReader.(flate.Resetter).Reset(w.wsSrc, nil)
	}
	if w.wsIn == nil {
		w.wsIn = make([]byte, 32<<10)
	}
	// nats-server refuses a message that inflates past the max payload,
	// but its own writer does not keep to that (it compresses whatever is
	// pending): the bound here is the one on the compressed size, and an
	// op too large is the parser's to refuse.
	limit := int(wsMaxMessage(c))
	total, sinceFlush := 0, 0
	var err error
	for !c.closed.Load() {
		var n int
		n, err = w.wsReader.Read(w.wsIn)
		if n > 0 {
			total += n
			if total > limit {
				err = errWSTooBig
				break
			}
			l.xl.pass(c, w.wsIn[:n])
			// A message may inflate to megabytes of messages: write what
			// each read's worth caused before going on, as if it had come
			// in reads of its own (as s2.go does), so receivers' buffers
			// stay the size the plaintext path gives them.
			if sinceFlush += n; sinceFlush >= readBufferCap {
				sinceFlush = 0
				w.flush()
			}
		}
		if err != nil {
			break
		}
	}
	if cap(l.cbuf) > maxKeptOut {
		l.cbuf = nil
	} else {
		l.cbuf = l.cbuf[:0]
	}
	switch {
	case err == io.EOF || err == nil:
		return nil
	case err == errWSTooBig:
		return l.fail(c, reasonMaxPayload, errMaxPayload, wsStatusTooBig, "message too big")
	}
	return l.fail(c, reasonProtocol, "", wsStatusInvalidData, "invalid compressed data")
}

var errWSTooBig = errors.New("websocket: message too big")

// output frames a flush: one binary frame, compressed when that was
// negotiated and the flush is not tiny; browsers get frames of 4 KiB.
func (l *wsLayer) output(c *client, pieces [][]byte) (int, error) {
	total := 0
	for _, p := range pieces {
		total += len(p)
	}
	if total == 0 || l.phase != wsLive {
		return 0, nil
	}
	w := c.w
	if l.compress && total > wsCompressMin {
		return l.outputDeflated(c, pieces)
	}
	if !l.maskWrite && !l.browser {
		// The common case: a header, then the pieces as they are.
		n := l.frameHeader(l.ohdr[:], wsBinary, true, false, total)
		vec := append(w.wsVec[:0], l.ohdr[:n])
		vec = append(vec, pieces...)
		k, err := l.xl.emitv(c, vec)
		clear(vec)
		w.wsVec = vec[:0]
		return k, err
	}
	// Masked or split frames: assemble them in the loop's scratch (a
	// piece may be another loop's batch, shared by every receiver, so it
	// is never masked in place).
	out := w.wsOut[:0]
	frame := total
	if l.browser {
		frame = wsBrowserFrame
	}
	pi, off := 0, 0
	for left := total; left > 0; {
		size := min(left, frame)
		start := len(out)
		out = append(out, make([]byte, 14)...)
		n := l.frameHeader(out[start:], wsBinary, true, false, size)
		out = out[:start+n]
		body := len(out)
		for need := size; need > 0; {
			p := pieces[pi][off:]
			k := min(len(p), need)
			out = append(out, p[:k]...)
			need -= k
			off += k
			if off == len(pieces[pi]) {
				pi, off = pi+1, 0
			}
		}
		if l.maskWrite {
			wsMaskWith(out[body-4:body], out[body:])
		}
		left -= size
	}
	k, err := l.xl.emit(c, out)
	if cap(out) <= maxKeptBatch {
		w.wsOut = out[:0]
	}
	return k, err
}

// outputDeflated compresses a flush into messages (no context kept
// between them, as both sides agreed) of at most wsDeflateChunk bytes of
// plaintext each: a reader bounds what one message may inflate to
// (nats-server: the max payload). Each message is one frame or, for most
// browsers, frames of 4 KiB of which the first carries RSV1.
func (l *wsLayer) outputDeflated(c *client, pieces [][]byte) (int, error) {
	w := c.w
	out := w.wsOut[:0]
	chunk := w.wsVec[:0]
	size := 0
	for _, p := range pieces {
		for len(p) > 0 {
			k := min(len(p), wsDeflateChunk-size)
			chunk = append(chunk, p[:k])
			size += k
			p = p[k:]
			if size == wsDeflateChunk {
				out = l.deflate(c, out, chunk)
				chunk, size = chunk[:0], 0
			}
		}
	}
	if size > 0 {
		out = l.deflate(c, out, chunk)
	}
	clear(chunk)
	w.wsVec = chunk[:0]
	k, err := l.xl.emit(c, out)
	if cap(out) <= maxKeptBatch {
		w.wsOut = out[:0]
	}
	if cap(w.wsZbuf.b) > maxKeptBatch {
		w.wsZbuf.b = nil
	}
	return k, err
}

// wsDeflateChunk is the most plaintext one compressed message carries.
const wsDeflateChunk = 512 << 10

// deflate appends one compressed message holding pieces to out.
func (l *wsLayer) deflate(c *client, out []byte, pieces [][]byte) []byte {
	w := c.w
	buf := &w.wsZbuf
	buf.b = buf.b[:0]
	if w.wsZ == nil {
		w.wsZ, _ = flate.NewWriter(buf, flate.BestSpeed)
	} else {
		w.wsZ.Reset(buf)
	}
	for _, p := range pieces {
		_, _ = w.wsZ.Write(p)
	}
	_ = w.wsZ.Flush()
	z := buf.b[:len(buf.b)-4]
	frame := len(z)
	if l.browser && !l.noCompFrag {
		frame = wsBrowserFrame
	}
	first := true
	for len(z) > 0 {
		size := min(len(z), frame)
		start := len(out)
		out = append(out, make([]byte, 14)...)
		op := byte(wsContinuation)
		if first {
			op = wsBinary
		}
		n := l.frameHeader(out[start:], op, size == len(z), first, size)
		out = out[:start+n]
		body := len(out)
		out = append(out, z[:size]...)
		if l.maskWrite {
			wsMaskWith(out[body-4:body], out[body:])
		}
		z = z[size:]
		first = false
	}
	return out
}

// appendBuf is an io.Writer that appends to b.
type appendBuf struct{ b []byte }

func (a *appendBuf) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}
