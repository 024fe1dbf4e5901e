// The leaf link handshake, on both sides: the hub's INFO and the leaf's
// CONNECT, TLS when either side asks for it, compression, and the moment
// the link joins its account (leafEstablish).

package loop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/leaf"
	"github.com/canopy-nats/canopy/parser"
)

// openLeaf prepares a leaf connection in OnOpen: an accepted one gets the
// hub's INFO at once; a dialled one waits for the hub's.
func (s *Server) openLeaf(c *client, r *leaf.Remote) []byte {
	c.kind = kindLeaf
	c.leaf = &leafLink{remote: r}
	s.ops.leafsOpened.Add(1)
	c.echo = false
	c.p.Mode = parser.Leaf
	c.p.MaxControlLine = 16 * int(s.opts.MaxControlLine)
	c.nextPing = 0
	// The server's subscription limit until the hub side's CONNECT
	// brings the account's (nats-server createLeafNode).
	c.maxSubs = -1
	if s.opts.MaxSubs > 0 {
		c.maxSubs = s.opts.MaxSubs
	}
	if r != nil {
		c.leaf.spoke = !r.Config().Hub
		c.leaf.perms.Store(auth.SpokePermissions(nil, nil, r.Config().DenyImports, r.Config().DenyExports).
			WithDeny(auth.JetStreamDenies(), auth.JetStreamDenies()))
		c.authDeadline = c.w.now + int64(r.Config().FirstInfoTimeout)
		// The trailing space is nats-server's, whose line ends with the
		// peer's name, not known yet.
		s.log.Noticef("%s - Leafnode connection created for account: %s ", c, r.Account())
		if u := r.URL(); u != nil && isWebsocketURL(u.Scheme) {
			return c.dialWebsocket(r)
		}
		if o := r.Config().TLS; o != nil && o.HandshakeFirst {
			// TLS first: the hub's INFO comes over it.
			_, _ = c.dialTLS()
		}
		return nil
	}
	s.log.Noticef("%s - Leafnode connection created ", c)
	c.p.NeedConnect = true
	if needsCompression(c.compressionConfig()) {
		// The leaf may send an INFO to negotiate compression before its
		// CONNECT: leafOp lets only that through.
		c.p.NeedConnect = false
	}
	c.nonce = auth.NewNonce()
	c.authDeadline = c.w.now + int64(s.opts.LeafNode.AuthTimeout)
	if cfg := s.tls.leaf.Load(); cfg != nil && c.ws == nil {
		info := func() []byte { return s.appendLeafInfo(nil, c, false) }
		if !c.openTLS(cfg, s.opts.LeafNode.TLS, info) {
			return nil
		}
	}
	return s.appendLeafInfo(nil, c, false)
}

// hubLeafInfo is the INFO this server sends on its leafnode port.
func (s *Server) hubLeafInfo(c *client) *leaf.Info {
	la, _ := s.LeafAddr().(*net.TCPAddr)
	port := s.opts.LeafNode.Port
	if la != nil {
		port = la.Port
	}
	hostport := net.JoinHostPort(s.opts.LeafNode.Host, strconv.Itoa(port))
	inf := &leaf.Info{
		ServerID:      s.id,
		ServerName:    s.name,
		Version:       CompatVersion,
		Proto:         leaf.Proto,
		Go:            runtime.Version(),
		Host:          s.opts.LeafNode.Host,
		Port:          port,
		Headers:       !s.opts.NoHeaderSupport,
		AuthRequired:  true,
		MaxPayload:    s.opts.MaxPayload,
		IP:            hostport,
		ClientID:      c.cid,
		Nonce:         c.nonce,
		InfoOnConnect: true,
		Compression:   s.compressionInfo(),
		APILevel:      leaf.APILevel,
	}
	if t := s.opts.LeafNode.TLS; t != nil {
		inf.TLSRequired = true
		inf.TLSVerify = t.VerifiesClients()
	}
	if !s.opts.LeafNode.NoAdvertise {
		inf.LeafNodeURLs = s.leafURLs(port)
	}
	return inf
}

// leafURLs are the leafnode URLs this server tells its leafs: the
// advertised address, or the listener's, or when it listens on every
// interface, each non-loopback address it has.
func (s *Server) leafURLs(port int) []string {
	ln := &s.opts.LeafNode
	if ln.Advertise != "" {
		return []string{ln.Advertise}
	}
	ip := net.ParseIP(ln.Host)
	if ip == nil || !ip.IsUnspecified() {
		return []string{net.JoinHostPort(ln.Host, strconv.Itoa(port))}
	}
	var urls []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			urls = append(urls, net.JoinHostPort(n.IP.String(), strconv.Itoa(port)))
		}
	}
	return urls
}

func (s *Server) appendLeafInfo(b []byte, c *client, connectInfo bool) []byte {
	inf := s.hubLeafInfo(c)
	var imp, exp []byte
	if connectInfo {
		inf.Nonce = ""
		inf.ConnectInfo = true
		inf.RemoteAccount = c.acc.name
		inf.AccIsSys = c.acc.info != nil && c.acc.info.System
		if c.leaf.check != nil {
			imp, exp = c.leaf.check.Permissions().ImportExportJSON()
		}
	}
	js, _ := json.Marshal(inf)
	if imp != nil || exp != nil {
		// The lists are the user's as configured, as nats-server sends
		// them; splice them in rather than decode and encode them again.
		js = js[:len(js)-1]
		if imp != nil {
			js = append(js, `,"import":`...)
			js = append(js, imp...)
		}
		if exp != nil {
			js = append(js, `,"export":`...)
			js = append(js, exp...)
		}
		js = append(js, '}')
	}
	return frameInfoJSON(b, js)
}

// leafConnect processes a leaf's CONNECT on the hub side.
func (c *client) leafConnect(arg []byte) error {
	s := c.srv
	var lc leaf.Connect
	if err := json.Unmarshal(arg, &lc); err != nil {
		return c.closeWith(reasonParse, "")
	}
	if lc.Gateway != "" {
		return c.closeWith(reasonProtocol, fmt.Sprintf(errLeafGatewayFmt, lc.Gateway))
	}
	if err := leaf.CheckCluster(lc.Cluster); err != nil {
		return c.closeWith(reasonProtocol, strings.TrimPrefix(err.Error(), "leaf: "))
	}
	creds := &auth.ConnectCreds{
		User: lc.User, Pass: lc.Pass, Token: lc.Token, Nkey: lc.Nkey, Sig: lc.Sig, JWT: lc.JWT, Host: c.ip(),
		Cert: c.peerCert(), Websocket: c.ws != nil,
	}
	if c.connected {
		return c.leafConnectAgain(&lc, creds)
	}
	c.creds = keepCreds(creds)
	if s.auth.CostlyLeaf(creds) {
		// As for a client (processConnect): bcrypt or a signature would
		// stall every connection of this loop, so an auth worker checks
		// them and the CONNECT is finished back here.
		c.checkOffLoop(creds, true, func(id *auth.Identity, err error) {
			if c.leafAuthenticated(&lc, creds, id, err) == nil {
				c.resume()
			}
		})
		return parser.ErrStop
	}
	id, err := s.auth.AuthenticateLeaf(creds, c.nonce)
	return c.leafAuthenticated(&lc, creds, id, err)
}

// leafAuthenticated finishes a leaf's first CONNECT once its credentials
// have been checked: the link joins its account.
func (c *client) leafAuthenticated(lc *leaf.Connect, creds *auth.ConnectCreds, id *auth.Identity, err error) error {
	s := c.srv
	if c.closed.Load() {
		// Closed while its credentials were checked: it must not join.
		return errClose
	}
	if err != nil {
		if who := creds.LogName(); who != "" {
			s.log.Errorf("%s - authentication error - %s", c, who)
		} else {
			s.log.Errorf("%s - authentication error", c)
		}
		s.log.Debugf("%s - Leafnode authentication failed: %v", c, err)
		// What the authorization error event says of the link.
		c.meta = &clientMeta{name: lc.Name, version: lc.Version, user: creds.RawUser()}
		return c.closeWith(reasonAuthFailure, auth.WireText(err))
	}
	if lc.Lang != "" {
		// A client on the leafnode port, told once its credentials have
		// passed, as nats-server tells it: with the account and the user,
		// then again, plainly, after the connection's end.
		s.log.Errorf("%s - %s - Account:%s%s", c, errLeafClient, s.accountLabel(id.Account), userLabel(creds, id))
		c.leaf.afterClose = errLeafClient
		return c.closeWith(reasonWrongPort, errLeafClient)
	}
	acc := s.lookupAccount(id.Account)
	if acc == nil {
		acc = s.registerAccount(id.Account)
	}
	if acc.info != nil && acc.info.MaxLeafNodes > 0 && acc.countLeafs() >= acc.info.MaxLeafNodes {
		return c.closeWith(reasonMaxConns, auth.WireAccountConnections)
	}
	l := c.leaf
	if l.Compression() == "" {
		if lc.Compression == "" {
			l.setCompression(compressNotSupported)
		} else {
			l.setCompression(lc.Compression)
		}
	}
	l.spoke = lc.Hub
	l.name, l.cluster, l.remoteAccount = lc.Name, lc.Cluster, lc.RemoteAccount
	l.isolated = lc.Isolate
	c.headers.Store(lc.Headers && !s.opts.NoHeaderSupport)
	c.meta = &clientMeta{name: lc.Name, version: lc.Version, user: id.Name}
	// The accepting side swaps the user's permissions whichever role it
	// takes: messages flow the other way from the user's point of view. A
	// leaf that asked to be the hub only makes this side the spoke, which
	// ignores rather than refuses what it may not take (nats-server
	// processLeafnodeConnect).
	perms := id.Perms.Swap().WithDeny(append(auth.JetStreamDenies(), lc.DenyPub...), auth.JetStreamDenies())
	l.perms.Store(perms)
	l.check = auth.NewChecker(id.Perms)
	c.authDeadline = 0
	c.p.NeedConnect = false
	c.connected = true
	c.acc = acc
	acc.nconns.Add(1)
	// The identity's limit has the server's folded in (nats-server
	// applies the account's limits to a leaf as to a client).
	c.maxSubs = id.MaxSubs
	c.out = s.appendLeafInfo(c.out, c, true)
	c.w.markDirty(c)
	c.leafEstablish()
	return nil
}

// leafConnectAgain answers a CONNECT on a link that already has one. The
// link is never registered again. nats-server's duplicate check finds the
// link itself when the CONNECT names its server and remote account, and
// closes it as a duplicate: so does this. Otherwise nats-server checks the
// credentials again and sends its connect-info INFO again: so does this,
// keeping the link where it is bound; credentials that no longer pass, or
// that now lead to another account, close it.
func (c *client) leafConnectAgain(lc *leaf.Connect, creds *auth.ConnectCreds) error {
	s := c.srv
	if lc.Name != "" && lc.RemoteAccount != "" {
		s.log.Warnf("%s - Leafnode %q sent CONNECT again: closed as a duplicate of itself", c, lc.Name)
		return c.closeWith(reasonProtocol, errLeafDuplicate)
	}
	again := func(id *auth.Identity, err error) error {
		if c.closed.Load() {
			return errClose
		}
		if err != nil {
			s.log.Errorf("%s - Leafnode Authorization Error - %v", c, err)
			return c.closeWith(reasonAuthFailure, auth.WireText(err))
		}
		if id.Account != c.acc.name {
			s.log.Errorf("%s - Leafnode CONNECT again as account %q, bound to %q", c, id.Account, c.acc.name)
			return c.closeWith(reasonAuthFailure, errAuthViolation)
		}
		c.out = s.appendLeafInfo(c.out, c, true)
		c.w.markDirty(c)
		return nil
	}
	if s.auth.CostlyLeaf(creds) {
		c.checkOffLoop(creds, true, func(id *auth.Identity, err error) {
			if again(id, err) == nil {
				c.resume()
			}
		})
		return parser.ErrStop
	}
	return again(s.auth.AuthenticateLeaf(creds, c.nonce))
}

// processLeafInfo processes an INFO on a leaf link: on the spoke, the hub's first
// INFO starts the handshake and its connect-info INFO ends it.
func (c *client) processLeafInfo(arg []byte) error {
	l := c.leaf
	var inf leaf.Info
	if err := json.Unmarshal(arg, &inf); err != nil {
		return c.closeWith(reasonParse, "")
	}
	if l.remote == nil {
		// A leaf sends INFO only to negotiate compression, before its
		// CONNECT; later ones change nothing.
		if l.compressionDone || c.connected {
			return nil
		}
		return c.compressionStep(inf.Compression)
	}
	r := l.remote
	if l.hubInfo == nil {
		return c.leafHubInfo(&inf)
	}
	if len(inf.LeafNodeURLs) > 0 {
		r.Discovered(inf.LeafNodeURLs)
	}
	if inf.Import != nil || inf.Export != nil {
		l.perms.Store(spokePerms(r.Config(), &inf))
	}
	if inf.ConnectInfo && !l.established {
		if inf.RemoteAccount != "" {
			l.remoteAccount = inf.RemoteAccount
		}
		c.authDeadline = 0
		c.leafEstablish()
	}
	return nil
}

// leafHubInfo answers the hub's first INFO with our CONNECT.
func (c *client) leafHubInfo(inf *leaf.Info) error {
	s, l := c.srv, c.leaf
	r := l.remote
	if err := leaf.CheckHubInfo(inf); err != nil {
		if errors.Is(err, leaf.ErrWrongPort) {
			s.log.Errorf("%s - attempted to connect to wrong port", c)
			return c.closeWith(reasonWrongPort, "")
		}
		s.log.Errorf("%s - %v", c, err)
		return c.closeWith(reasonProtocol, "")
	}
	if !c.hasTLS() && c.ws == nil && (inf.TLSRequired || r.Config().TLS != nil) {
		// TLS before CONNECT: the hub asks for it, or the remote's
		// config does (then whatever the hub says, as nats-server).
		t, err := c.dialTLS()
		if err != nil {
			return err
		}
		t.after = func() {
			_ = c.leafCompressOrConnect(inf)
			c.reroute = nil
		}
		return nil
	}
	return c.leafCompressOrConnect(inf)
}

// leafCompressOrConnect follows the hub's first INFO (and TLS): compression
// is negotiated, after which the hub's next INFO brings us back here, or
// our CONNECT goes.
func (c *client) leafCompressOrConnect(inf *leaf.Info) error {
	if !c.leaf.compressionDone {
		// parser.ErrStop when compression is now on: the hub's next INFO
		// brings us back.
		if err := c.compressionStep(inf.Compression); err != nil {
			return err
		}
	}
	return c.leafConnectHub(inf)
}

// compressionStep negotiates compression at a link's first INFO; it
// returns parser.ErrStop when compression is now on, so that the rest of
// the input goes to the new layer.
func (c *client) compressionStep(theirs string) error {
	on, err := c.negotiateCompression(theirs)
	if err != nil {
		c.srv.log.Errorf("%s - %v", c, err)
		return c.closeWith(reasonProtocol, err.Error())
	}
	if on {
		return parser.ErrStop
	}
	return nil
}

// dialTLS starts the client side of TLS on a link this server dialled.
func (c *client) dialTLS() (*tlsTransport, error) {
	r := c.leaf.remote
	o := r.Config().TLS
	if o == nil {
		// No tls block: the hub asked for TLS; its certificate is
		// checked against the system's roots, as for a managed hub.
		o = &conf.TLS{}
	}
	cfg, err := o.ClientConfig()
	if err != nil {
		c.srv.log.Errorf("%s - Leafnode remote %q TLS configuration: %v", c, r.URL().Host, err)
		return nil, c.closeWith(reasonProtocol, "")
	}
	if cfg.ServerName == "" {
		cfg.ServerName = tlsName(r.URL(), r.Config().URLs)
	}
	return c.newTLS(cfg, false, o.HandshakeTimeout(), tlsHandshaking), nil
}

// leafConnectHub sends our CONNECT once the hub's first INFO is accepted
// (and TLS, if any, is up).
func (c *client) leafConnectHub(inf *leaf.Info) error {
	s, l := c.srv, c.leaf
	r := l.remote
	l.hubInfo = inf
	l.name, l.cluster = inf.ServerName, inf.Cluster
	c.headers.Store(inf.Headers && !s.opts.NoHeaderSupport)
	c.meta = &clientMeta{name: inf.ServerName, version: inf.Version}
	if len(inf.LeafNodeURLs) > 0 {
		r.Discovered(inf.LeafNodeURLs)
	}
	acc := s.lookupAccount(r.Account())
	if acc == nil {
		s.log.Errorf("%s - Leafnode remote binds to unknown account %q", c, r.Account())
		return c.closeWith(reasonProtocol, "")
	}
	c.acc = acc
	acc.nconns.Add(1)
	lc := leaf.Connect{
		Version:  CompatVersion,
		ServerID: s.id,
		Name:     s.name,
		Cluster:  s.name,
		Headers:  c.headers.Load(),
		Proto:    leaf.Proto,
		// Compression: what was negotiated, or "not supported"/"off".
		Compression: l.Compression(),
	}
	if err := r.FillConnect(&lc, inf.Nonce); err != nil {
		s.log.Errorf("%s - %v", c, err)
		return c.closeWith(reasonProtocol, "")
	}
	js, _ := json.Marshal(&lc)
	c.out = append(c.out, "CONNECT "...)
	c.out = append(c.out, js...)
	c.out = append(c.out, "\r\n"...)
	c.w.markDirty(c)
	c.connected = true
	if !inf.InfoOnConnect {
		// A hub that predates info_on_connect considers the link made
		// once it has our CONNECT.
		c.authDeadline = 0
		c.leafEstablish()
		return nil
	}
	c.authDeadline = c.w.now + int64(leafConnectInfoMax)
	return nil
}

// spokePerms are a spoke's link permissions after a hub sent its lists.
func spokePerms(r *conf.Remote, inf *leaf.Info) *auth.Permissions {
	var imp, exp *auth.SubjectPermission
	if inf.Import != nil {
		imp = &auth.SubjectPermission{Allow: inf.Import.Allow, Deny: inf.Import.Deny}
	}
	if inf.Export != nil {
		exp = &auth.SubjectPermission{Allow: inf.Export.Allow, Deny: inf.Export.Deny}
	}
	return auth.SpokePermissions(imp, exp, r.DenyImports, r.DenyExports).
		WithDeny(auth.JetStreamDenies(), auth.JetStreamDenies())
}

// leafEstablish ends a handshake on either side: the link joins its
// account, the peer learns our interest, and pings start.
func (c *client) leafEstablish() {
	s, l, acc := c.srv, c.leaf, c.acc
	if l.established || c.closed.Load() {
		// Registered once at most, and never after close: OnClose
		// removes one entry, and only one that is there.
		return
	}
	l.established = true
	// The first PING comes early, to learn soon that the link works, but
	// never later than the configured interval, as in nats-server.
	first := min(int64(leafFirstPing), int64(s.opts.PingInterval))
	c.nextPing = c.w.now + first + rand.Int64N(first/5+1)
	acc.mu.Lock()
	start := len(c.out)
	c.out = leaf.AppendSub(c.out, acc.lds, "", 0)
	acc.sl.Range(func(_, _ string, sub *subscription) bool {
		if c.wantsInterest(sub, 1) {
			c.out = l.smap.Update(c.out, sub.subject, sub.queue, sub.interest())
		}
		return true
	})
	if s.tracing.Load() {
		for lines := c.out[start:]; len(lines) > 0; {
			var line []byte
			line, lines, _ = bytes.Cut(lines, []byte("\r\n"))
			c.traceOut(line)
		}
	}
	// Looking for a duplicate and joining the account under one lock
	// keeps two links of the same leaf, registering at once on two
	// loops, from missing each other.
	var old *client
	if l.remote == nil {
		old = acc.duplicateLeaf(c)
	}
	acc.leafs = append(acc.leafs, c)
	acc.mu.Unlock()
	if old != nil {
		s.log.Warnf("%s - Replacing connection from same server", c)
		s.log.Debugf("%s - Replacing %s", c, old)
		old.closeFromAnyLoop(reasonProtocol, errLeafDuplicate)
	}
	c.w.markDirty(c)
	if r := l.remote; r != nil {
		r.Established()
		// As nats-server, the side that solicited the link announces it
		// in its account as a connection of kind Leafnode; the
		// accepting side only announces its departure, and the
		// account's new connection count.
		s.connectEvent(c)
	} else {
		s.connsEvent(c)
	}
}

// leafTimers handles a leaf link's handshake deadlines.
func (c *client) leafTimeout() {
	l := c.leaf
	switch {
	case l.remote == nil:
		// A debug line, as nats-server has it: the close that follows
		// is the notice.
		c.srv.log.Debugf("%s - Authentication Timeout", c)
		c.closeWith(reasonAuthTimeout, errAuthTimeout)
	case l.hubInfo == nil:
		c.srv.log.Errorf("%s - Leafnode did not receive INFO from %q in time", c, l.remote.URL().Host)
		c.closeWith(reasonProtocol, "")
	default:
		// The hub took the CONNECT and never sent its connect info:
		// nats-server gives up after the same 2 s, with a debug line.
		c.srv.log.Debugf("%s - %s", c, errLeafStale)
		c.closeWith(reasonStale, errLeafStale)
	}
}
