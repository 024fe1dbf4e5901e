package loop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/leaf"
	"github.com/canopy-nats/canopy/parser"
	"github.com/canopy-nats/canopy/sublist"
)

// Leaf link timings, as nats-server has them.
const (
	leafFirstPing      = time.Second
	leafConnectInfoMax = 2 * time.Second
)

// The -ERR texts of leaf links.
const (
	errLeafClient      = "attempted to connect to leaf node port"
	errLeafDuplicate   = "Duplicate Remote LeafNode Connection"
	errLeafStale       = "Stale Leaf Node Connection - Closing"
	errInvalidSub      = "Invalid Subscription"
	errLeafLoopFmt     = "Loop detected for leafnode account=%q. Delaying attempt to reconnect for %v"
	errLeafGatewayFmt  = "Rejecting connection from gateway %q on the leafnode port"
	errLeafSameCluster = "remote leafnode has same cluster name"
)

// leafLink is what a leaf connection holds beyond a client's state.
type leafLink struct {
	remote *leaf.Remote // set on the side that dialled

	// spoke is true when this server is the leaf on the link (it dialled,
	// and the remote is not configured hub: true); false when it is the hub.
	spoke bool

	// Set during the handshake, then read-only; other loops read them
	// after the link is registered with its account.
	name          string // the peer's server name
	cluster       string // the peer's cluster: origin of what it sends
	remoteAccount string
	established   bool
	isolated      bool

	// perms is what may cross the link, in the link's own terms: publish
	// is what this server sends down it (messages) and accepts interest
	// for (LS+); subscribe is what it advertises (LS+) and accepts
	// messages on. Replaced when a hub's INFO changes the lists.
	perms atomic.Pointer[auth.Permissions]
	check *auth.Checker // the hub's cached view of perms; loop only

	// smap is what this server has told the peer; guarded by acc.mu.
	smap leaf.Interest

	hubInfo *leaf.Info // spoke: the hub's first INFO

	// compressionDone is set once compression was negotiated (or not);
	// compression is the outcome, read by /leafz (leafcompress.go).
	compressionDone bool
	compression     atomic.Pointer[string]
	maxSubsLogged   bool // the first LS+ over max_subscriptions was logged

	// closing is set, from any loop, once the link is to be closed (a
	// newer link from the same leaf replaced it): what it still sends is
	// ignored, as nats-server ignores a closed connection's input, so that
	// it cannot act on the account in the meantime (report a loop, add
	// interest).
	closing atomic.Bool
}

// leafTarget is one leaf link a message goes to, with the queue groups it
// was chosen to serve.
type leafTarget struct {
	c  *client
	qs []string
}

// Enroll hands a connection a remote dialled to the event loops. It
// implements leaf.Host and blocks the remote's own goroutine, never a loop.
func (s *Server) Enroll(conn net.Conn, r *leaf.Remote) error {
	// Registering before the event loops run races with gnet filling its
	// load balancer; a remote starts dialling as soon as Start returns.
	select {
	case <-s.loopsUp:
	case <-s.done:
		return ErrNotRunning
	}
	s.mu.Lock()
	eng := s.eng
	s.mu.Unlock()
	ctx := gnet.NewNetConnContext(gnet.NewContext(context.Background(), r), conn)
	ch, err := eng.Register(ctx)
	if err != nil {
		return err
	}
	res := <-ch
	return res.Err
}

// Noticef, Errorf and Debugf let the remotes log through the server.
func (s *Server) Noticef(format string, v ...any) { s.log.Noticef(format, v...) }

// Errorf logs at [ERR].
func (s *Server) Errorf(format string, v ...any) { s.log.Errorf(format, v...) }

// Debugf logs at [DBG].
func (s *Server) Debugf(format string, v ...any) { s.log.Debugf(format, v...) }

// onLeafPort reports whether an accepted connection came in on the
// leafnode listener. gnet gives accepted connections their listener's
// configured address as local address, which says port 0 when the port was
// chosen at random ("listen: host:-1"); the socket itself knows better.
func (s *Server) onLeafPort(gc gnet.Conn) bool {
	la, ok := s.LeafAddr().(*net.TCPAddr)
	if !ok || la == nil {
		return false
	}
	if ta, ok := gc.LocalAddr().(*net.TCPAddr); ok && ta != nil && ta.Port != 0 {
		return ta.Port == la.Port
	}
	sa, err := unix.Getsockname(gc.Fd())
	if err != nil {
		return false
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port == la.Port
	case *unix.SockaddrInet6:
		return a.Port == la.Port
	}
	return false
}

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

// leafInfo is the INFO this server sends on its leafnode port.
func (s *Server) leafInfo(c *client) *leaf.Info {
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
	}
	if t := s.opts.LeafNode.TLS; t != nil {
		inf.TLSRequired = true
		inf.TLSVerify = t.Verify || t.VerifyAndMap
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
	inf := s.leafInfo(c)
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
	b = append(b, "INFO "...)
	b = append(b, js...)
	return append(b, " \r\n"...)
}

// leafOp dispatches an op received on a leaf link.
func (c *client) leafOp(op *parser.Op) error {
	if c.leaf.closing.Load() {
		return nil
	}
	if !c.connected && c.leaf.remote == nil && op.Kind != parser.Connect && op.Kind != parser.Info {
		// What the parser's NeedConnect does, when it is off for the
		// compression INFO.
		return c.closeWith(reasonAuthFailure, errAuthViolation)
	}
	switch op.Kind {
	case parser.LMsg:
		return c.leafMsg(op.Subject, op.Reply, op.Queues, 0, op.Msg)
	case parser.HMsg:
		return c.leafMsg(op.Subject, op.Reply, op.Queues, op.HdrLen, op.Msg)
	case parser.LSub:
		return c.leafSub(op.Subject, op.Queue, op.Weight)
	case parser.LUnsub:
		return c.leafUnsub(op.Subject, op.Queue)
	case parser.Ping:
		c.out = append(c.out, "PONG\r\n"...)
		c.w.markDirty(c)
	case parser.Pong:
		c.pingsOut = 0
		c.gotPong()
	case parser.Connect:
		if c.leaf.remote != nil {
			return c.closeWith(reasonProtocol, errUnknownOp)
		}
		return c.leafConnect(op.Arg)
	case parser.Info:
		return c.leafInfo(op.Arg)
	case parser.Err:
		c.leafErr(op.Arg)
	case parser.OK:
	case parser.Sub, parser.Unsub, parser.Pub, parser.HPub:
		// A leaf peer has no business sending client ops.
		return c.closeWith(reasonProtocol, errUnknownOp)
	default:
		return c.closeWith(reasonProtocol, errUnknownOp)
	}
	return nil
}

// leafConnect processes a leaf's CONNECT on the hub side.
func (c *client) leafConnect(arg []byte) error {
	s := c.srv
	var lc leaf.Connect
	if err := json.Unmarshal(arg, &lc); err != nil {
		return c.closeWith(reasonParse, "")
	}
	if lc.Lang != "" {
		return c.closeWith(reasonProtocol, errLeafClient)
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
		return c.closeWith(reasonAuthFailure, auth.WireText(err))
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

// leafInfo processes an INFO on a leaf link: on the spoke, the hub's first
// INFO starts the handshake and its connect-info INFO ends it.
func (c *client) leafInfo(arg []byte) error {
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
			s.log.Errorf("%s - Leafnode attempted to connect to wrong port %q", c, r.URL().Host)
		} else {
			s.log.Errorf("%s - %v", c, err)
		}
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
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = conf.DefaultTLSTimeout
	}
	return c.newTLS(cfg, false, timeout, tlsHandshaking), nil
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
	c.out = leaf.AppendSub(c.out, acc.lds, "", 0)
	acc.sl.Range(func(_, _ string, sub *subscription) bool {
		if c.wantsInterest(sub, 1) {
			c.out = l.smap.Update(c.out, sub.subject, sub.queue, sub.interest())
		}
		return true
	})
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
	}
}

// wantsInterest decides whether link c is told about a change of sub's
// interest, as nats-server's updateLeafNodes and updateSmap do. Called with
// the account lock held.
func (c *client) wantsInterest(sub *subscription, delta int32) bool {
	src := sub.c
	if src == c {
		return false
	}
	l := c.leaf
	isLDS := strings.HasPrefix(sub.subject, leaf.LDSPrefix)
	fromLeaf := src.kind == kindLeaf
	if fromLeaf && l.isolated {
		return false
	}
	// A spoke passes up what its own clients and its own leafs want, never
	// what it learned from another hub.
	if !isLDS && l.spoke && fromLeaf && src.leaf.spoke {
		return false
	}
	var origin string
	if fromLeaf {
		origin = src.leaf.cluster
	}
	differ := origin != l.cluster
	// A loop-detection subject goes to any link of another cluster, and,
	// when it has no origin (it came from a hub without a cluster name),
	// on like any interest: otherwise a cycle through a server that is a
	// leaf on both of its links would never bring a subject back to its
	// owner (nats-server updateLeafNodes).
	if isLDS && differ {
		return true
	}
	if origin != "" && !differ {
		return false
	}
	if delta <= 0 || (!isLDS && leaf.Exempt(sub.subject)) {
		return true
	}
	return l.perms.Load().CanSubscribe(sub.subject, sub.queue)
}

// propagate tells every leaf link of the account but the subscription's
// own about a change of its interest. Called with the account lock held.
func (a *account) propagate(w *worker, sub *subscription, delta int32) {
	for _, ln := range a.leafs {
		if ln.closed.Load() || !ln.wantsInterest(sub, delta) {
			continue
		}
		b := ln.leaf.smap.Update(w.proto[:0], sub.subject, sub.queue, delta)
		if len(b) > 0 {
			w.sendProto(ln, b)
		}
		w.proto = b[:0]
	}
}

// countLeafs is the number of leaf links bound to the account.
func (a *account) countLeafs() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.leafs)
}

// duplicateLeaf finds an established link from the same remote server and
// account as c, which nats-server replaces by the newcomer. Called with the
// account lock held.
func (a *account) duplicateLeaf(c *client) *client {
	if c.leaf.name == "" || c.leaf.remoteAccount == "" {
		return nil
	}
	for _, o := range a.leafs {
		ol := o.leaf
		if o != c && ol.remote == nil && ol.name == c.leaf.name && ol.cluster == c.leaf.cluster &&
			ol.remoteAccount == c.leaf.remoteAccount {
			return o
		}
	}
	return nil
}

// closeFromAnyLoop closes leaf link c with an -ERR on c's own loop; it may
// be called from any loop, and c ignores its input from then on.
func (c *client) closeFromAnyLoop(reason closeReason, text string) {
	c.leaf.closing.Store(true)
	_ = c.w.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		c.closeWith(reason, text)
		c.w.flush()
		return nil
	}))
}

// leafSub processes LS+.
func (c *client) leafSub(subject, queue []byte, weight int32) error {
	if c.acc == nil || !c.leaf.established {
		return c.closeWith(reasonAuthFailure, errAuthViolation)
	}
	subj := string(subject)
	acc := c.acc
	if subj == acc.lds {
		return c.leafLoop()
	}
	if !leaf.Exempt(subj) && sublist.ValidLiteral(subj) && !c.leaf.perms.Load().CanPublish(subject) {
		if c.leaf.spoke {
			// A spoke ignores interest it may not serve; the hub filters
			// its own side.
			return nil
		}
		return c.leafPermViolation(false, subject)
	}
	if !sublist.ValidSubject(subj) || (queue != nil && !sublist.ValidQueue(string(queue))) {
		c.sendErr(errInvalidSub)
		return nil
	}
	if weight < 1 {
		weight = 1
	}
	q := string(queue)
	key := subj
	if q != "" {
		key = subj + " " + q
	}
	if c.maxSubs >= 0 && len(c.subs) >= c.maxSubs {
		// As nats-server's processLeafSub: refused with an -ERR before
		// looking for an existing entry, the link stays up.
		if !c.leaf.maxSubsLogged {
			c.leaf.maxSubsLogged = true
			c.srv.log.Errorf("%s - %s", c, errMaxSubs)
		}
		c.sendErr(errMaxSubs)
		return nil
	}
	if c.subs == nil {
		c.subs = make(map[string]*subscription)
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	if sub := c.subs[key]; sub != nil {
		if q == "" {
			return nil
		}
		// A repeated queue LS+ replaces the weight.
		if old := sub.weight.Swap(weight); old != weight && len(acc.leafs) > 0 {
			acc.propagate(c.w, sub, weight-old)
		}
		return nil
	}
	sub := &subscription{c: c, subject: subj, queue: q, sid: key}
	if q != "" {
		sub.weight.Store(weight)
	}
	if err := acc.sl.Insert(subj, q, sub); err != nil {
		c.sendErr(errInvalidSub)
		return nil
	}
	c.subs[key] = sub
	if len(acc.leafs) > 0 {
		acc.propagate(c.w, sub, sub.interest())
	}
	return nil
}

// leafPermViolation refuses what the peer sent outside the link's
// permissions: -ERR, a log line and close, as nats-server's
// leafPermViolation. When this server dialled the link, it also waits
// before dialling again, so that a peer that keeps breaking the rules is
// not re-dialled in a tight loop.
func (c *client) leafPermViolation(pub bool, subject []byte) error {
	kind := "Subscription"
	c.out = append(c.out, "-ERR '"...)
	if pub {
		kind = "Publish"
		c.out = auth.AppendPublishViolation(c.out, subject)
	} else {
		c.out = auth.AppendSubscribeViolation(c.out, string(subject), "")
	}
	c.out = append(c.out, "'\r\n"...)
	c.srv.log.Errorf("%s - %s Violation on %q - Check other side configuration", c, kind, subject)
	if r := c.leaf.remote; r != nil {
		r.DelayNext(leaf.PermViolationDelay)
	}
	return c.closeWith(reasonProtocol, "")
}

// leafUnsub processes LS-.
func (c *client) leafUnsub(subject, queue []byte) error {
	if c.acc == nil || !c.leaf.established {
		return c.closeWith(reasonAuthFailure, errAuthViolation)
	}
	key := string(subject)
	if len(queue) > 0 {
		key += " " + string(queue)
	}
	if sub := c.subs[key]; sub != nil {
		c.removeSub(sub)
	}
	return nil
}

// leafLoop closes a link that brought back our own loop-detection subject.
func (c *client) leafLoop() error {
	s := c.srv
	s.log.Errorf("%s - Loop detected for leafnode account=%q. Delaying attempt to reconnect for %v",
		c, c.acc.name, leaf.LoopDelay)
	if r := c.leaf.remote; r != nil {
		r.DelayNext(leaf.LoopDelay)
	}
	return c.closeWith(reasonProtocol, fmt.Sprintf(errLeafLoopFmt, c.acc.name, leaf.LoopDelay))
}

// leafErr handles an -ERR from the peer: logged, and for the errors after
// which nats-server waits before re-dialling, the remote waits too. The
// peer closes the link itself.
func (c *client) leafErr(arg []byte) {
	text := string(bytes.Trim(bytes.TrimSpace(arg), "'"))
	c.srv.log.Errorf("%s - Leafnode Error '%s'", c, text)
	r := c.leaf.remote
	if r == nil {
		return
	}
	switch {
	case strings.Contains(text, "Loop detected"):
		r.DelayNext(leaf.LoopDelay)
	case strings.Contains(text, errLeafSameCluster):
		r.DelayNext(leaf.SameClusterDelay)
	case strings.Contains(text, "minimum version"):
		r.DelayNext(leaf.MinVersionDelay)
	}
}

// leafMsg processes LMSG and HMSG from the peer.
func (c *client) leafMsg(subject, reply []byte, queues [][]byte, hdr int, msg []byte) error {
	if c.acc == nil || !c.leaf.established {
		return c.closeWith(reasonAuthFailure, errAuthViolation)
	}
	c.countIn(len(msg))
	l := c.leaf
	switch {
	case l.spoke:
		// A spoke drops what it may not import, silently.
		if !auth.LeafMsgExempt(subject) && !l.perms.Load().CanSubscribe(string(subject), "") {
			return nil
		}
	case l.check != nil:
		// The accepting side holds the user's export list.
		if !l.check.LeafSend(subject) {
			return c.leafPermViolation(true, subject)
		}
	default:
		// A link this server dialled as the hub (a remote with hub: true)
		// checks the export list the other side sent, as nats-server
		// does on its soliciting side.
		if !auth.LeafMsgExempt(subject) && !l.perms.Load().CanPublish(subject) {
			return c.leafPermViolation(true, subject)
		}
	}
	c.w.deliverFrom(c, c.acc, subject, reply, hdr, msg, queues)
	return nil
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
		c.srv.log.Errorf("%s - Leafnode did not receive connect info from %q in time", c, l.remote.URL().Host)
		c.closeWith(reasonStale, errLeafStale)
	}
}

// closeLeaf runs from OnClose: the link leaves its account, its interest
// is withdrawn from the other links, and its remote re-dials.
func (c *client) closeLeaf() {
	l := c.leaf
	if acc := c.acc; acc != nil {
		acc.mu.Lock()
		for i, o := range acc.leafs {
			if o == c {
				acc.leafs = append(acc.leafs[:i], acc.leafs[i+1:]...)
				break
			}
		}
		acc.mu.Unlock()
	}
	// Every link's end is a notice, as nats-server has it, naming the
	// peer once it has said who it is.
	if l.name != "" {
		c.srv.log.Noticef("%s - Leafnode connection closed: %s - Remote: %s", c, c.reason, l.name)
	} else {
		c.srv.log.Noticef("%s - Leafnode connection closed: %s", c, c.reason)
	}
	if r := l.remote; r != nil {
		r.Closed()
	}
}

// NumLeafs is the number of established leaf links, both sides counted.
func (s *Server) NumLeafs() int {
	s.mu.Lock()
	accs := make([]*account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accs = append(accs, a)
	}
	s.mu.Unlock()
	n := 0
	for _, a := range accs {
		n += a.countLeafs()
	}
	return n
}

// LeafLink describes one established leaf link, as nats-server's /leafz
// lists it: the counters and the interest the peer announced. It is for
// tests and monitoring; the hot path never builds one.
type LeafLink struct {
	CID     uint64
	Name    string // the peer's server name
	Account string // the local account the link is bound to
	Spoke   bool   // this server is the leaf on the link
	// Compression is the link's negotiated compression: "off", "not
	// supported", or the S2 level this side writes with.
	Compression string
	InMsgs      int64
	OutMsgs     int64
	// Subs is what the peer asked for: "subject" or "subject queue".
	Subs []string
}

// Leafz lists the established leaf links. The interest is read from the
// account's sublist, which is safe from any goroutine, rather than from the
// link's own map, which belongs to its loop.
func (s *Server) Leafz() []LeafLink {
	s.mu.Lock()
	accs := make([]*account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accs = append(accs, a)
	}
	s.mu.Unlock()
	var out []LeafLink
	for _, a := range accs {
		a.mu.Lock()
		links := append([]*client(nil), a.leafs...)
		a.mu.Unlock()
		for _, c := range links {
			ll := LeafLink{
				CID: c.cid, Name: c.leaf.name, Account: a.name, Spoke: c.leaf.spoke, Compression: c.leaf.Compression(),
				InMsgs: c.inMsgs.Load(), OutMsgs: c.outMsgs.Load(),
			}
			a.sl.Range(func(subject, queue string, sub *subscription) bool {
				if sub.c == c {
					ll.Subs = append(ll.Subs, sub.sid)
				}
				return true
			})
			out = append(out, ll)
		}
	}
	return out
}
