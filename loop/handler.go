package loop

import (
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/leaf"
	"github.com/canopy-nats/canopy/parser"
)

// handler receives gnet's events. The same value is called from every
// loop at once: it keeps no state of its own.
type handler struct {
	gnet.BuiltinEventEngine
	srv *Server
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.srv.boot(eng)
	return gnet.None
}

func (h *handler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := h.srv
	if _, ok := gc.Context().(*wakeEnd); ok {
		return nil, gnet.None
	}
	if s.ops.ldm.Load() && gc.Context() == nil {
		// Lame duck: accepted connections are turned away at once.
		return nil, gnet.Close
	}
	w := s.workerOf(gc.EventLoop())
	now := time.Now()
	w.now = now.UnixNano()
	c := &client{
		srv:   s,
		w:     w,
		conn:  gc,
		cid:   s.nextCID.Add(1),
		kind:  kindClient,
		start: now,
		// Until a CONNECT says otherwise a client is verbose and
		// pedantic, as nats-server has it: a telnet user gets +OK.
		verbose:  true,
		pedantic: true,
		echo:     true,
		raddr:    gc.RemoteAddr(),
	}
	remote, _ := gc.Context().(*leaf.Remote)
	gc.SetContext(c)
	w.add(c)
	s.total.Add(1)
	s.noteOpened(w.now)
	c.p.Mode = parser.Client
	c.p.MaxControlLine = int(s.opts.MaxControlLine)
	c.p.MaxPayload = int(s.opts.MaxPayload)
	if remote == nil && s.onWebsocketPort(gc) {
		// Client or leaf: the upgrade request's path says (wsconn.go).
		s.nclients.Add(1)
		return s.openWebsocket(c), gnet.None
	}
	if remote != nil || s.onLeafPort(gc) {
		return s.openLeaf(c, remote), gnet.None
	}
	c.nextPing = w.now + s.firstPingDelay()
	n := s.nclients.Add(1)
	if s.authRequired() {
		c.p.NeedConnect = true
		c.authDeadline = w.now + int64(s.opts.Authorization.Timeout)
		if s.auth.NeedNonce() {
			c.nonce = s.auth.NewNonce()
		}
	} else if id, err := s.auth.Authenticate(&auth.ConnectCreds{}, ""); err == nil {
		// Without authorization (or with no_auth_user) a client may
		// publish before, or without, CONNECT: bind it now.
		c.bind(id)
	}
	out := s.appendInfo(nil, c, false)
	if max := s.opts.MaxConn; max > 0 && n > int64(max) {
		out = append(out, "-ERR '"+errMaxConns+"'\r\n"...)
		c.reason = reasonMaxConns
		c.closed.Store(true)
		return out, gnet.Close
	}
	if cfg := s.tls.client.Load(); cfg != nil {
		if !c.openTLS(cfg, s.opts.TLS, func() []byte { return s.appendInfo(nil, c, false) }) {
			return nil, gnet.None
		}
	}
	return out, gnet.None
}

func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*client)
	if c == nil {
		if e, ok := gc.Context().(*wakeEnd); ok {
			e.woken(gc)
			return gnet.None
		}
		return gnet.Close
	}
	buf, _ := gc.Next(-1)
	if c.closed.Load() {
		return gnet.None
	}
	w := c.w
	w.now = time.Now().UnixNano()
	c.lastIn = w.now
	// What other loops handed to this one before these bytes were read
	// goes out first, ahead of anything the bytes cause. A client that
	// flushes after its publisher's flush returned must find the message
	// before its own PONG, as nats-server has it; the drain task alone
	// may run after this event.
	var in []*batch
	if w.backlog.Load() > 0 {
		in = w.takeInbox()
	}
	if c.tr != nil {
		c.tr.input(c, buf)
	} else {
		c.consume(buf)
	}
	c.syncStats()
	w.flush()
	if in != nil {
		w.releaseBatches(in)
	}
	return gnet.None
}

func (h *handler) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*client)
	if c == nil {
		if e, ok := gc.Context().(*wakeEnd); ok {
			e.closed()
		}
		return gnet.None
	}
	c.closed.Store(true)
	ci := h.srv.noteClosed(c, err)
	c.w.remove(c)
	if c.kind == kindLeaf {
		c.closeLeaf()
	}
	if c.acc != nil {
		c.removeAllSubs()
		c.acc.nconns.Add(-1)
	}
	if ci != nil || (c.kind == kindLeaf && c.reason == reasonAuthFailure) {
		// After the account lets go of c: the connection count that
		// follows the event no longer counts it, as nats-server's. A
		// refused leaf has no closed record, but has its event.
		h.srv.closeEvent(c, ci)
	}
	c.p.Release()
	for t := c.tr; t != nil; t = t.link().up {
		t.release()
	}
	c.out, c.iov, c.deferred = nil, nil, nil
	if c.kind == kindClient {
		h.srv.nclients.Add(-1)
	}
	if c.reason == "" {
		c.reason = reasonClientClosed
		if err != nil {
			c.reason = reasonReadError
		}
	}
	if c.kind == kindClient {
		// A leaf link's close was logged by closeLeaf, as a notice.
		h.srv.log.Debugf("%s - Client connection closed: %s", c, c.reason)
	}
	return gnet.None
}

func (h *handler) OnTick() (time.Duration, gnet.Action) {
	s := h.srv
	s.loopsOnce.Do(func() { close(s.loopsUp) })
	s.wmu.Lock()
	for _, w := range s.wmap {
		w.scheduleTick()
	}
	s.wmu.Unlock()
	s.maybeTrim(time.Now().UnixNano())
	return tickInterval, gnet.None
}
