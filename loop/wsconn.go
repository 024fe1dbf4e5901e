package loop

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"path"
	"strings"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/leaf"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// The websocket listener's connections, and leaf remotes that dial ws://
// and wss:// hubs (ws.go is the framing).

// WebsocketAddr is the address the websocket listener is bound to, or nil.
func (s *Server) WebsocketAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wsAddr == "" {
		return nil
	}
	return s.bound[s.wsAddr]
}

// onWebsocketPort reports whether an accepted connection came in on the
// websocket listener (see onLeafPort).
func (s *Server) onWebsocketPort(gc gnet.Conn) bool {
	wa, ok := s.WebsocketAddr().(*net.TCPAddr)
	if !ok || wa == nil {
		return false
	}
	if ta, ok := gc.LocalAddr().(*net.TCPAddr); ok && ta != nil && ta.Port != 0 {
		return ta.Port == wa.Port
	}
	sa, err := unix.Getsockname(gc.Fd())
	if err != nil {
		return false
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port == wa.Port
	case *unix.SockaddrInet6:
		return a.Port == wa.Port
	}
	return false
}

// wsListenAddr is the gnet address of the websocket listener, spelled
// apart from the others when they coincide (port 0 on one host).
func (s *Server) wsListenAddr() string {
	o := &s.opts.Websocket
	a := "tcp://" + net.JoinHostPort(o.Host, portArg(o.Port))
	for _, other := range []string{s.clientAddr, s.leafAddr} {
		if a == other {
			a = "tcp://" + net.JoinHostPort(o.Host, "000")
		}
	}
	return a
}

// openWebsocket prepares a connection accepted on the websocket port: TLS
// first when the block has it, then the upgrade, within the handshake
// timeout (or the auth timeout when none is set).
func (s *Server) openWebsocket(c *client) []byte {
	o := &s.opts.Websocket
	l := &wsLayer{server: true, maskRead: true}
	c.ws = l
	c.nextPing = 0
	timeout := o.HandshakeTimeout
	if timeout <= 0 {
		timeout = s.opts.Authorization.Timeout
	}
	if cfg := s.tls.ws.Load(); cfg != nil {
		t := conf.DefaultTLSTimeout
		if o.TLS != nil && o.TLS.Timeout > 0 {
			t = o.TLS.Timeout
		}
		// The TLS handshake has its own budget, before the upgrade's.
		timeout += t
		c.newTLS(cfg, true, t, tlsHandshaking)
	}
	c.authDeadline = c.w.now + int64(timeout)
	c.push(l)
	l.up = func() { s.wsUpgraded(c, l) }
	return nil
}

// wsUpgraded starts the NATS protocol on an upgraded connection: a
// client's INFO, as on the client port, or a leaf link's.
func (s *Server) wsUpgraded(c *client, l *wsLayer) {
	now := c.w.now
	c.authDeadline = 0
	if l.leaf {
		s.nclients.Add(-1)
		c.out = append(c.out, s.openLeaf(c, nil)...)
		c.w.markDirty(c)
		return
	}
	c.nextPing = now + s.firstPingDelay()
	if d := s.opts.Websocket.PingInterval; d > 0 {
		c.nextPing = now + min(int64(d), s.firstPingDelay())
	}
	if s.auth.RequiredWebsocket() {
		c.p.NeedConnect = true
		timeout := s.opts.Websocket.AuthTimeout
		if timeout <= 0 {
			timeout = s.opts.Authorization.Timeout
		}
		c.authDeadline = now + int64(timeout)
		if s.auth.NeedNonce() {
			c.nonce = s.auth.NewNonce()
		}
	} else if id, err := s.auth.Authenticate(&auth.ConnectCreds{Websocket: true}, ""); err == nil {
		c.bind(id)
	}
	c.out = s.appendInfo(c.out, c, false)
	c.w.markDirty(c)
	if max := s.opts.MaxConn; max > 0 && s.nclients.Load() > int64(max) {
		c.closeWith(reasonMaxConns, errMaxConns)
	}
}

// wsInfo adjusts a websocket client's INFO as nats-server does: the
// websocket listener's host, port and TLS, and its own auth_required.
func (s *Server) wsInfo(inf *leaf.Info) {
	o := &s.opts.Websocket
	inf.Host = o.Host
	inf.Port = o.Port
	if a, ok := s.WebsocketAddr().(*net.TCPAddr); ok && a != nil {
		inf.Port = a.Port
	}
	secure := s.tls.ws.Load() != nil
	inf.TLSRequired, inf.TLSAvailable, inf.TLSVerify = secure, secure, false
	inf.AuthRequired = s.auth.RequiredWebsocket()
}

// fill takes the credentials CONNECT left out from the cookies.
func (k *wsCookies) fill(o *connectOpts) {
	if o.JWT == "" {
		o.JWT = k.jwt
	}
	if o.User == "" {
		o.User = k.user
	}
	if o.Pass == "" {
		o.Pass = k.pass
	}
	if o.Token == "" {
		o.Token = k.token
	}
}

// isWebsocketURL reports whether a remote URL dials a websocket hub.
func isWebsocketURL(scheme string) bool {
	return strings.EqualFold(scheme, "ws") || strings.EqualFold(scheme, "wss")
}

// dialWebsocket starts the client side of a leaf link to a ws:// or
// wss:// hub: TLS first for wss, then the upgrade request (to the URL's
// path followed by /leafnode, as nats-server asks), whose answer must
// come within the first INFO timeout. It returns what OnOpen writes.
func (c *client) dialWebsocket(r *leaf.Remote) []byte {
	u := r.URL()
	cfg := r.Config()
	l := &wsLayer{maskWrite: !cfg.WSNoMasking, compress: cfg.WSCompression, leaf: true}
	c.ws = l
	var t *tlsTransport
	if strings.EqualFold(u.Scheme, "wss") {
		var err error
		if t, err = c.dialTLS(); t == nil || err != nil {
			return nil
		}
	}
	c.push(l)
	var k [16]byte
	_, _ = rand.Read(k[:])
	l.key = base64.StdEncoding.EncodeToString(k[:])
	p := wsLeafPath
	if cur := u.EscapedPath(); cur != "" {
		p = "/" + path.Join(strings.TrimPrefix(cur, "/"), wsLeafPath)
	}
	req := make([]byte, 0, 256)
	req = append(req, "GET "...)
	req = append(req, p...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, u.Host...)
	req = append(req, "\r\nUser-Agent: Go-http-client/1.1\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	req = append(req, l.key...)
	req = append(req, "\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n"...)
	if l.compress {
		req = append(req, "Sec-WebSocket-Extensions: "+wsDeflateRequest+"\r\n"...)
	}
	if cfg.WSNoMasking {
		req = append(req, wsNoMaskingHeader+": true\r\n"...)
	}
	req = append(req, "\r\n"...)
	if t != nil {
		t.after = func() { _, _ = l.xl.emit(c, req) }
		return nil
	}
	return req
}

// clientUpgrade reads the hub's answer to the upgrade request.
func (l *wsLayer) clientUpgrade(c *client, raw []byte) {
	l.req = append(l.req, raw...)
	end := bytes.Index(l.req, []byte("\r\n\r\n"))
	if end < 0 {
		if len(l.req) > wsMaxRequest {
			l.clientFailed(c, "response too large")
		}
		return
	}
	end += 4
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(l.req[:end])), nil)
	if err != nil {
		l.clientFailed(c, err.Error())
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		!strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		!strings.EqualFold(resp.Header.Get("Connection"), "upgrade") ||
		resp.Header.Get("Sec-Websocket-Accept") != wsAccept(l.key) {
		l.clientFailed(c, "invalid websocket connection")
		return
	}
	if l.compress {
		offered, noContext := wsDeflateOffer(resp.Header)
		switch {
		case !offered:
			l.compress = false
		case !noContext:
			l.clientFailed(c, "compression negotiation error")
			return
		}
	}
	if c.leaf.remote.Config().WSNoMasking && resp.Header.Get(wsNoMaskingHeader) != "true" {
		// The hub wants masked frames, as from any client.
		l.maskWrite = true
	}
	c.srv.log.Debugf("%s - Leafnode compression=%v masking=%v", c, l.compress, l.maskWrite)
	rest := l.req[end:]
	l.req = nil
	l.phase = wsLive
	if len(rest) > 0 {
		_ = l.frames(c, rest)
	}
}

func (l *wsLayer) clientFailed(c *client, why string) {
	l.phase = wsDone
	l.req = nil
	c.srv.log.Errorf("%s - Error soliciting websocket connection: %s", c, why)
	c.closeWith(reasonReadError, "")
}

// pushCompression adds a link's S2 layer: on top, or under the websocket
// framing, where nats-server puts it (it compresses the frames and reads
// them from an S2 reader on the socket).
func (c *client) pushCompression(t transform) {
	u := c.ws
	if u == nil {
		c.push(t)
		return
	}
	ul, tl := u.link(), t.link()
	tl.down, tl.up = ul.down, u
	if ul.down != nil {
		ul.down.link().up = t
	} else {
		c.tr = t
	}
	ul.down = t
}

// wsParseRest is the reroute of a websocket link that turned S2 on: what
// followed the INFO in its frame is still plain, as is the rest of that
// read (ws.frames goes on with it); the S2 layer reads from the next one,
// as nats-server switches its reader only then.
type wsParseRest struct{ xl xlink }

func (r *wsParseRest) input(c *client, raw []byte)               { c.consume(raw) }
func (r *wsParseRest) output(c *client, p [][]byte) (int, error) { return 0, nil }
func (r *wsParseRest) holding() bool                             { return false }
func (r *wsParseRest) release()                                  {}
func (r *wsParseRest) link() *xlink                              { return &r.xl }
