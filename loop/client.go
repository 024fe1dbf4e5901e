package loop

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/parser"
	"github.com/canopy-nats/canopy/sublist"
)

type clientKind uint8

const (
	kindClient clientKind = iota
	kindLeaf
	kindInternal // an account's internal client: no connection (internal.go)
)

// closeReason says why a connection ended, in nats-server's words (they
// appear in the log and in /connz).
type closeReason string

const (
	reasonClientClosed   closeReason = "Client Closed"
	reasonAuthFailure    closeReason = "Authentication Failure"
	reasonAuthTimeout    closeReason = "Authentication Timeout"
	reasonStale          closeReason = "Stale Connection"
	reasonParse          closeReason = "Parse Error"
	reasonProtocol       closeReason = "Protocol Violation"
	reasonMaxPayload     closeReason = "Maximum Payload Exceeded"
	reasonSlowPending    closeReason = "Slow Consumer (Pending Bytes)"
	reasonSlowDeadline   closeReason = "Slow Consumer (Write Deadline)"
	reasonMaxConns       closeReason = "Maximum Connections Exceeded"
	reasonBadProtocol    closeReason = "Bad Client Protocol Version"
	reasonNoRespHeaders  closeReason = "No Responders Requires Headers"
	reasonServerShutdown closeReason = "Server Shutdown"
	reasonWriteError     closeReason = "Write Error"
	reasonReadError      closeReason = "Read Error"
	reasonAuthExpired    closeReason = "Authentication Expired"
	reasonMaxSubs        closeReason = "Maximum Subscriptions Exceeded"
	reasonRevocation     closeReason = "Credentials Revoked"
	reasonWrongPort      closeReason = "Incorrect Port"
)

// The -ERR texts of nats-server v2.15.2 (PROTOCOL.md 2.8).
const (
	errAuthViolation   = "Authorization Violation"
	errAuthTimeout     = "Authentication Timeout"
	errUnknownOp       = "Unknown Protocol Operation"
	errControlLine     = "maximum control line exceeded"
	errMaxPayload      = "Maximum Payload Violation"
	errBadProtocol     = "invalid client protocol"
	errNoRespHeaders   = "no responders requires headers support"
	errMaxConns        = "maximum connections exceeded"
	errStale           = "Stale Connection"
	errInvalidSubject  = "Invalid Subject"
	errInvalidPubSubj  = "Invalid Publish Subject"
	errMaxSubs         = "maximum subscriptions exceeded"
	errPermPubPrefix   = "Permissions Violation for Publish to "
	errPermSubPrefix   = "Permissions Violation for Subscription to "
	errPermReplyPrefix = "Permissions Violation for Publish with Reply of "
)

// errClose makes the parser stop: the connection has been closed.
var errClose = errors.New("loop: connection closed")

// client is one connection: a NATS client or a leaf link.
type client struct {
	srv  *Server
	w    *worker
	conn gnet.Conn
	cid  uint64
	p    parser.Parser
	widx int

	// Owned by the loop.
	out          []byte
	dirty        bool
	stalling     bool // listed in w.stalled
	connected    bool // a CONNECT was accepted
	verbose      bool
	pedantic     bool
	echo         bool
	noResponders bool
	infoSent     bool // the connect_info INFO followed the first PONG
	// authenticating is set while a CONNECT's credentials are checked off
	// the loop; what arrives meanwhile waits in deferred.
	authenticating bool
	kind           clientKind
	// protocol is CONNECT's; 32 bits keep it beside the flags above, so
	// the struct stays in a smaller size class.
	protocol     int32
	acc          *account
	subs         subSet
	pingsOut     int
	authDeadline int64 // unix nanos; 0 when not waiting for CONNECT
	nextPing     int64
	lastIn       int64
	stalledSince int64
	lastOut      int64 // unix nanos of the last write, for idleOut
	// handed counts the bytes given to gnet to write; with the pending
	// figure seen at the last tick it tells whether the socket is taking
	// any (see checkTimers).
	handed, tickHanded, tickPending int64
	iov                             [][]byte // pieces of other loops' batches to write, see queueSlice
	start                           time.Time
	nonce                           string
	meta                            *clientMeta
	deferred                        []byte
	leaf                            *leafLink // set for leaf links only
	tr                              transform // nil: plaintext (see write.go)
	ws                              *wsLayer  // websocket connections only (ws.go)
	// reroute is set by an op that switched the transforms: what
	// follows it in the same read goes to this one (leafcompress.go).
	reroute  transform
	maxSubs  int   // -1: unlimited; 0 (a JWT's subs: 0): none at all
	expires  int64 // unix nanos when the credentials lapse; 0 never
	reason   closeReason
	raddr    net.Addr
	creds    *auth.ConnectCreds // what CONNECT presented, re-checked on reload; nil: nothing
	rttStart int64              // unix nanos of the PING whose PONG measures rtt; 0: none out
	rtt      int64              // the last round trip measured, nanos (see gotPong); negative: estimated (rttOf)

	// Shared: read from other loops.
	perms  atomic.Pointer[auth.Checker] // nil: everything allowed
	closed atomic.Bool
	// refreshing says a refreshPending task is on its way.
	refreshing atomic.Bool
	// pendingOut is the output gnet held for c after its last write.
	pendingOut atomic.Int64
	// refreshTask is the refreshPending task, made by the first publisher
	// to ask for one; only the asker that set refreshing touches it.
	refreshTask gnet.Runnable
	headers     atomic.Bool
	// authStarted is set by the auth worker that begins c's check
	// (checkOffLoop); from then on the check, not the auth timeout, ends
	// the wait.
	authStarted atomic.Bool
	inMsgs      atomic.Int64
	inBytes     atomic.Int64
	outMsgs     atomic.Int64
	outBytes    atomic.Int64

	// The loop counts in these plain fields and publishes them to the
	// atomics above once per event (syncStats), not once per message.
	nIn, nInBytes, nOut, nOutBytes int64

	// label is what the log adds to the connection's name once CONNECT is
	// accepted (client.String), nil before; read from any goroutine that
	// logs about the connection. Last, away from the hot fields.
	label atomic.Pointer[string]
}

// countIn counts a message c published (or brought over its link).
func (c *client) countIn(n int) {
	c.nIn++
	c.nInBytes += int64(n)
	c.w.nIn++
	c.w.nInBytes += int64(n)
}

// syncStats publishes c's counters for monitoring, which reads them from
// other goroutines.
func (c *client) syncStats() {
	if old := c.inMsgs.Load(); c.nIn != old {
		c.accountIn(c.nIn-old, c.nInBytes-c.inBytes.Load())
		c.inMsgs.Store(c.nIn)
		c.inBytes.Store(c.nInBytes)
	}
	if c.nOut != c.outMsgs.Load() {
		c.outMsgs.Store(c.nOut)
		c.outBytes.Store(c.nOutBytes)
	}
}

// clientMeta is what CONNECT told about the client; allocated only when it
// says something.
type clientMeta struct {
	name, lang, version, user string
}

// connectOpts is the CONNECT JSON. Fields nats-server defaults to true are
// preset before decoding.
type connectOpts struct {
	Verbose      bool   `json:"verbose"`
	Pedantic     bool   `json:"pedantic"`
	TLSRequired  bool   `json:"tls_required"`
	Echo         bool   `json:"echo"`
	Headers      bool   `json:"headers"`
	NoResponders bool   `json:"no_responders"`
	Protocol     int    `json:"protocol"`
	Name         string `json:"name"`
	Lang         string `json:"lang"`
	Version      string `json:"version"`
	User         string `json:"user"`
	Pass         string `json:"pass"`
	Token        string `json:"auth_token"`
	Nkey         string `json:"nkey"`
	Sig          string `json:"sig"`
	JWT          string `json:"jwt"`
	Account      string `json:"account"`
	NewAccount   bool   `json:"new_account"`
}

func (c *client) ip() string {
	if a, ok := c.raddr.(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return ""
}

// Op dispatches one parsed op. It implements parser.Handler.
func (c *client) Op(op *parser.Op) error {
	if c.srv.tracing.Load() {
		c.traceIn(op)
	}
	if c.kind == kindLeaf {
		return c.leafOp(op)
	}
	switch op.Kind {
	case parser.Pub:
		return c.processPub(op.Subject, op.Reply, 0, op.Msg)
	case parser.HPub:
		if !c.headers.Load() {
			// nats-server closes without a word when headers were not
			// negotiated.
			return c.closeWith(reasonProtocol, "")
		}
		return c.processPub(op.Subject, op.Reply, op.HdrLen, op.Msg)
	case parser.Sub:
		return c.processSub(op.Subject, op.Queue, op.SID)
	case parser.Unsub:
		return c.processUnsub(op.SID, op.Max)
	case parser.Ping:
		c.processPing()
	case parser.Pong:
		c.pingsOut = 0
		c.gotPong()
	case parser.Connect:
		return c.processConnect(op.Arg)
	case parser.Info:
		// nats-server decodes a client's INFO, and closes without a word
		// when it is not a JSON object.
		if json.Unmarshal(op.Arg, &struct{}{}) != nil {
			return c.closeWith(reasonParse, "")
		}
	case parser.OK:
	case parser.Err:
		return c.closeWith(reasonClientClosed, "")
	default:
		return c.closeWith(reasonProtocol, errUnknownOp)
	}
	return nil
}

// parseError closes the connection with what nats-server says for err.
func (c *client) parseError(err error) {
	if errors.Is(err, errClose) || c.closed.Load() {
		return
	}
	switch {
	case errors.Is(err, parser.ErrUnknownOp), errors.Is(err, parser.ErrTerminator):
		c.closeWith(reasonProtocol, errUnknownOp)
	case errors.Is(err, parser.ErrControlLine):
		c.closeWith(reasonProtocol, errControlLine)
	case errors.Is(err, parser.ErrPayload):
		c.closeWith(reasonMaxPayload, errMaxPayload)
	case errors.Is(err, parser.ErrNotConnected):
		c.closeWith(reasonAuthFailure, errAuthViolation)
	default:
		c.closeWith(reasonParse, "")
	}
}

func (c *client) processConnect(arg []byte) error {
	// As in nats-server, CONNECT is decoded over the options in force:
	// the first over the defaults set at accept, a second over the first,
	// so what it leaves out does not change.
	o := connectOpts{Verbose: c.verbose, Pedantic: c.pedantic, Echo: c.echo,
		Headers: c.headers.Load(), NoResponders: c.noResponders, Protocol: int(c.protocol)}
	if p := c.creds; p != nil {
		// The credentials too: a second CONNECT that names none keeps
		// the first one's (its signature then covers this connection's
		// nonce all the same).
		o.User, o.Pass, o.Token, o.Nkey, o.Sig, o.JWT = p.User, p.Pass, p.Token, p.Nkey, p.Sig, p.JWT
	}
	if err := json.Unmarshal(arg, &o); err != nil {
		return c.closeWith(reasonParse, "")
	}
	if c.ws != nil {
		c.ws.cookies.fill(&o)
	}
	// The auth deadline stays until the credentials are found good
	// (connectAuthenticated): a check waiting behind a storm of others
	// must still end when the client's time is up.
	now := c.w.now
	c.lastIn = now
	c.nextPing = now + c.srv.firstPingDelay()
	first := !c.connected
	if !first {
		// A second CONNECT may move the client to another account: its
		// subscriptions go.
		c.removeAllSubs()
	}
	c.echo = o.Echo
	c.verbose = o.Verbose
	c.pedantic = o.Pedantic
	c.protocol = int32(min(max(o.Protocol, 0), 1<<30))
	hdr := o.Headers && !c.srv.opts.NoHeaderSupport
	c.headers.Store(hdr)
	c.noResponders = o.NoResponders
	creds := &auth.ConnectCreds{
		User: o.User, Pass: o.Pass, Token: o.Token, Nkey: o.Nkey, Sig: o.Sig, JWT: o.JWT, Host: c.ip(),
		Cert: c.peerCert(), Websocket: c.ws != nil,
	}
	c.creds = keepCreds(creds)
	if c.srv.auth.Costly(creds) {
		// A signature or a bcrypt hash costs this loop's every connection
		// 0.1 to 100 ms: check it on an auth worker and finish the CONNECT
		// back here. What the client sent after it waits (resume).
		c.checkOffLoop(creds, false, func(id *auth.Identity, err error) {
			if c.connectAuthenticated(&o, id, err) == nil {
				c.resume()
			}
		})
		return parser.ErrStop
	}
	id, err := c.srv.auth.Authenticate(creds, c.nonce)
	return c.connectAuthenticated(&o, id, err)
}

// connectAuthenticated finishes a CONNECT once its credentials have been
// checked.
func (c *client) connectAuthenticated(o *connectOpts, id *auth.Identity, err error) error {
	if c.closed.Load() {
		return errClose
	}
	hdr := c.headers.Load()
	if err != nil {
		c.logAuthError(&auth.ConnectCreds{User: o.User, Token: o.Token, Nkey: o.Nkey, JWT: o.JWT}, err)
		// The closed record and the system account's events name the
		// client and the user it tried, as nats-server's do.
		if o.Name != "" || o.Lang != "" || o.Version != "" || o.User != "" {
			c.meta = &clientMeta{name: o.Name, lang: o.Lang, version: o.Version, user: o.User}
		}
		return c.closeWith(reasonAuthFailure, auth.WireText(err))
	}
	if o.Name != "" || o.Lang != "" || o.Version != "" || id.Name != "" {
		c.meta = &clientMeta{name: o.Name, lang: o.Lang, version: o.Version, user: id.Name}
	}
	if o.Account != "" || o.NewAccount {
		return c.closeWith(reasonAuthFailure, errAuthViolation)
	}
	if err := c.bind(id); err != nil {
		return err
	}
	if o.Protocol < 0 || o.Protocol > 1 {
		return c.closeWith(reasonBadProtocol, errBadProtocol)
	}
	if o.NoResponders && !hdr {
		return c.closeWith(reasonNoRespHeaders, errNoRespHeaders)
	}
	if !c.connected {
		c.connected = true
		if c.rtt == 0 && c.kind == kindClient {
			// Until a PING measures it, the round trip is estimated as
			// the time from accept to CONNECT, as nats-server does: /connz
			// and Nats-Request-Info show it. Negative marks an estimate
			// (see rttOf), so the first PING still goes.
			c.rtt = -max(time.Now().UnixNano()-c.start.UnixNano(), 1)
		}
		c.setLabel(o, id)
		c.srv.connectEvent(c)
	}
	c.authDeadline = 0
	c.p.NeedConnect = false
	if c.verbose {
		c.sendOK()
	}
	return nil
}

// onLoop runs f on c's loop, then writes what it queued. f is not run if
// c has closed in the meantime.
func (c *client) onLoop(f func()) {
	_ = c.w.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		if c.closed.Load() {
			return nil
		}
		c.w.now = time.Now().UnixNano()
		f()
		c.syncStats()
		c.w.flush()
		return nil
	}))
}

// defer keeps bytes that arrived while a CONNECT was being authenticated
// off the loop, within a bound: a client that floods before its
// credentials are checked is closed.
func (c *client) deferIn(b []byte) {
	if len(c.deferred)+len(b) > c.srv.maxDeferred() {
		c.closeWith(reasonProtocol, "")
		return
	}
	c.deferred = append(c.deferred, b...)
}

// consume parses protocol bytes that arrived on c (after its transform,
// if any); while a CONNECT is being authenticated they wait in deferred.
func (c *client) consume(buf []byte) {
	if c.closed.Load() {
		return
	}
	if c.authenticating {
		c.deferIn(buf)
		return
	}
	if err := c.p.Parse(buf, c); err == parser.ErrStop {
		if c.reroute != nil {
			c.rerouteRest(c.p.Rest(buf))
			return
		}
		c.deferIn(c.p.Rest(buf))
	} else if err != nil {
		c.parseError(err)
	}
}

// resume parses what arrived while the CONNECT was being authenticated.
func (c *client) resume() {
	for len(c.deferred) > 0 && !c.authenticating && !c.closed.Load() {
		in := c.deferred
		c.deferred = nil
		if err := c.p.Parse(in, c); err != nil {
			if err == parser.ErrStop {
				c.deferred = append(c.deferred, c.p.Rest(in)...)
				continue
			}
			c.parseError(err)
			return
		}
	}
}

// bind attaches an authenticated identity to c: its account (counted
// against the account's connection limit), permissions and limits.
func (c *client) bind(id *auth.Identity) error {
	acc := c.srv.lookupAccount(id.Account)
	if acc == nil {
		acc = c.srv.registerAccount(id.Account)
	}
	if acc != c.acc {
		if acc.info != nil && acc.info.MaxConnections > 0 && int(acc.nconns.Load()) >= acc.info.MaxConnections {
			return c.closeWith(reasonMaxConns, auth.WireAccountConnections)
		}
		if c.acc != nil {
			c.acc.nconns.Add(-1)
		}
		acc.nconns.Add(1)
		c.acc = acc
	}
	c.perms.Store(nil)
	if id.Perms != nil {
		c.perms.Store(auth.NewChecker(id.Perms))
	}
	// The identity's limit already has the server's folded in. Zero is a
	// limit, not its absence: a user whose JWT says subs: 0 may not
	// subscribe at all (and is closed at the next tick, see checkTimers).
	c.maxSubs = id.MaxSubs
	// From the server's limit, not from what an earlier CONNECT left: a
	// second CONNECT as another user takes that user's limit, higher or
	// lower, as nats-server's applyAccountLimits does.
	c.p.MaxPayload = int(c.srv.opts.MaxPayload)
	if id.MaxPayload > 0 && int(id.MaxPayload) < c.p.MaxPayload {
		c.p.MaxPayload = int(id.MaxPayload)
	}
	c.expires = 0
	if !id.Expires.IsZero() {
		c.expires = id.Expires.UnixNano()
	}
	return nil
}

func (s *Server) firstPingDelay() int64 {
	d := s.opts.PingInterval
	if d > 2*time.Second {
		d = 2 * time.Second
	}
	return int64(d) + rand.Int64N(int64(d)/5+1)
}

func (c *client) processPing() {
	if c.srv.tracing.Load() {
		c.traceOut([]byte("PONG"))
	}
	c.out = append(c.out, "PONG\r\n"...)
	if c.connected && !c.infoSent && c.protocol >= 1 && c.kind == kindClient {
		c.infoSent = true
		c.out = c.srv.appendInfo(c.out, c, true)
	}
	c.w.markDirty(c)
}

func (c *client) sendOK() {
	if c.srv.tracing.Load() {
		c.traceOut([]byte("OK"))
	}
	c.out = append(c.out, "+OK\r\n"...)
	c.w.markDirty(c)
}

// sendErr queues "-ERR 'text'"; the connection stays open.
func (c *client) sendErr(text string) {
	if c.srv.tracing.Load() {
		c.traceOut([]byte("-ERR " + text))
	}
	c.out = append(c.out, "-ERR '"...)
	c.out = append(c.out, text...)
	c.out = append(c.out, "'\r\n"...)
	c.w.markDirty(c)
}

// sendPubViolation reports a publish the connection may not make; the
// connection stays open.
func (c *client) sendPubViolation(subject []byte) {
	c.out = append(c.out, "-ERR '"...)
	c.out = auth.AppendPublishViolation(c.out, subject)
	c.out = append(c.out, "'\r\n"...)
	c.w.markDirty(c)
}

// sendSubViolation reports a subscription the connection may not make.
func (c *client) sendSubViolation(subject, queue string) {
	c.out = append(c.out, "-ERR '"...)
	c.out = auth.AppendSubscribeViolation(c.out, subject, queue)
	c.out = append(c.out, "'\r\n"...)
	c.w.markDirty(c)
}

// closeWith sends "-ERR 'text'" (unless text is empty), writes what is
// pending and closes the connection. It returns errClose so a caller in the
// parser can stop.
func (c *client) closeWith(reason closeReason, text string) error {
	if c.closed.Load() {
		return errClose
	}
	if text != "" {
		c.sendErr(text)
	}
	c.reason = reason
	c.flushOut()
	if c.ws != nil {
		c.ws.closing(c, reason)
	}
	c.markClosed()
	_ = c.conn.Close()
	return errClose
}

// markClosed stops every delivery to c at once; OnClose does the cleanup.
func (c *client) markClosed() {
	c.closed.Store(true)
}

func (c *client) processSub(subject, queue, sid []byte) error {
	if !sublist.ValidSubject(string(subject)) {
		c.sendErr(errInvalidSubject)
		return nil
	}
	if queue != nil && !sublist.ValidQueue(string(queue)) {
		c.sendErr(errInvalidSubject)
		return nil
	}
	if c.subs.get(string(sid)) != nil {
		if c.verbose {
			c.sendOK()
		}
		return nil
	}
	subj, q := string(subject), string(queue)
	pc := c.perms.Load()
	if pc != nil && !pc.Subscribe(subj, q) {
		c.sendSubViolation(subj, q)
		return nil
	}
	if c.maxSubs >= 0 && c.subs.len() >= c.maxSubs {
		c.sendErr(errMaxSubs)
		return nil
	}
	sub := &subscription{c: c, subject: subj, queue: q, sid: string(sid)}
	if pc != nil && pc.Permissions().NeedsDeliveryFilter(subj, q) {
		sub.filter = pc.Permissions()
	}
	if err := c.acc.addSub(c.w, sub); err != nil {
		c.sendErr(errInvalidSubject)
		return nil
	}
	c.subs.put(sub)
	if c.verbose {
		c.sendOK()
	}
	return nil
}

func (c *client) processUnsub(sid []byte, max int64) error {
	if sub := c.subs.get(string(sid)); sub != nil {
		if max > 0 && max > sub.seen.Load() {
			// Publishers count towards the max from what this loop has
			// delivered so far; the max is stored last, so a publisher that
			// sees it also sees the count.
			sub.nm.Store(sub.seen.Load())
			sub.max.Store(max)
		} else {
			c.removeSub(sub)
		}
	}
	if c.verbose {
		c.sendOK()
	}
	return nil
}

// removeSub drops one of c's subscriptions; a sub that is no longer c's
// (already removed, or its sid reused) is left alone.
func (c *client) removeSub(sub *subscription) {
	if c.subs.get(sub.sid) != sub {
		return
	}
	c.traceDelSub(sub)
	c.subs.del(sub.sid)
	c.acc.removeSub(c.w, sub)
}

func (c *client) removeAllSubs() {
	for sub := range c.subs.all() {
		c.removeSub(sub)
	}
}

// processPub handles PUB and HPUB: checks, then delivery.
func (c *client) processPub(subject, reply []byte, hdr int, msg []byte) error {
	c.countIn(len(msg))
	if c.pedantic && !sublist.ValidLiteral(string(subject)) {
		c.sendErr(errInvalidPubSubj)
	}
	if hasPrefix(subject, "_GR_.") {
		c.sendPubViolation(subject)
		return nil
	}
	if pc := c.perms.Load(); pc != nil && !pc.Publish(subject) {
		c.sendPubViolation(subject)
		return nil
	}
	if len(reply) > 0 && reservedReply(reply) {
		c.out = append(c.out, "-ERR '"...)
		c.out = auth.AppendReplyViolation(c.out, reply)
		c.out = append(c.out, "'\r\n"...)
		c.w.markDirty(c)
		return nil
	}
	if c.verbose {
		c.sendOK()
	}
	if c.acc == nil {
		c.acc = c.srv.gacc
	}
	n := c.w.deliverFrom(c, c.acc, subject, reply, hdr, msg, nil)
	if n == 0 && len(reply) > 0 && c.noResponders {
		c.sendNoResponders(subject, reply)
	}
	return nil
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// reservedReply is true for reply subjects only the server may create.
func reservedReply(r []byte) bool {
	return hasPrefix(r, "_R_.") || hasPrefix(r, "$JS.ACK.") || hasPrefix(r, "_GR_.") || hasPrefix(r, "$GR.")
}

// sendNoResponders tells a requester that nobody got its request, on its
// own subscription to the reply subject.
func (c *client) sendNoResponders(subject, reply []byte) {
	r := c.acc.sl.Match(reply)
	for _, sub := range r.Plain {
		if sub.c != c {
			continue
		}
		const status = "NATS/1.0 503\r\nNats-Subject: "
		l := len(status) + len(subject) + 4
		b := c.out
		b = append(b, "HMSG "...)
		b = append(b, reply...)
		b = append(b, ' ')
		b = append(b, sub.sid...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(l), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(l), 10)
		b = append(b, "\r\n"...)
		b = append(b, status...)
		b = append(b, subject...)
		b = append(b, "\r\n\r\n\r\n"...)
		c.out = b
		c.w.markDirty(c)
		return
	}
}

func (c *client) String() string {
	host := "pipe"
	if c.raddr != nil {
		host = c.raddr.String()
	}
	// nats-server names a leaf link lid:, so that its lines can be told
	// from a client's; over websocket, lid_ws: and wid:.
	id := " - cid:"
	if c.kind == kindLeaf {
		id = " - lid:"
	}
	if c.ws != nil {
		if c.ws.clientIP != "" {
			host = c.ws.clientIP + "/" + host
		}
		id = " - wid:"
		if c.kind == kindLeaf {
			id = " - lid_ws:"
		}
	}
	s := host + id + strconv.FormatUint(c.cid, 10)
	if l := c.label.Load(); l != nil {
		s += *l
	}
	return s
}

// logAuthError logs a refused login as nats-server does: the line names
// the credentials tried (cr, nil for none), never why they failed, which
// is a debug line.
func (c *client) logAuthError(cr *auth.ConnectCreds, err error) {
	who := ""
	if cr != nil {
		who = cr.LogName()
	}
	if who != "" {
		c.srv.log.Errorf("%s - authentication error - %s", c, who)
	} else {
		c.srv.log.Errorf("%s - authentication error", c)
	}
	c.srv.log.Debugf("%s - Authentication failed: %v", c, err)
}

// authLabel is how nats-server's log names a login: "nkey:<key>",
// "user:<name>", "jwt:<user public key>" or "token", after what the
// connection presented; "" for none.
func authLabel(cr *auth.ConnectCreds, id *auth.Identity) string {
	switch {
	case cr.Nkey != "":
		return "nkey:" + cr.Nkey
	case cr.User != "":
		return "user:" + cr.User
	case cr.JWT != "":
		return "jwt:" + id.PubKey
	case cr.Token != "":
		return "token"
	}
	return ""
}

// accountLabel names an account in the log as nats-server does: by its
// name, followed by its JWT's name after a slash in operator mode.
func (s *Server) accountLabel(name string) string {
	if tag := s.nameTag(name); tag != name {
		return name + "/" + tag
	}
	return name
}

// userLabel is authLabel after " - ", or "".
func userLabel(cr *auth.ConnectCreds, id *auth.Identity) string {
	if l := authLabel(cr, id); l != "" {
		return " - " + l
	}
	return ""
}

// setLabel names a client in the log, from its first accepted CONNECT on,
// as nats-server does: its version, language and name joined by colons
// ("v1.37.0:go"), then the account and how it authenticated
// ("$G/user:bob"), each quoted after " - ". Leaf links keep their plain
// name.
func (c *client) setLabel(o *connectOpts, id *auth.Identity) {
	if c.kind != kindClient {
		return
	}
	var who []string
	if o.Version != "" {
		who = append(who, "v"+o.Version)
	}
	for _, s := range []string{o.Lang, o.Name} {
		if s != "" {
			who = append(who, s)
		}
	}
	user := authLabel(&auth.ConnectCreds{User: o.User, Token: o.Token, Nkey: o.Nkey, JWT: o.JWT}, id)
	var l string
	if len(who) > 0 {
		l += " - " + strconv.Quote(strings.Join(who, ":"))
	}
	if user != "" && c.acc != nil {
		l += " - " + strconv.Quote(c.srv.accountLabel(c.acc.name)+"/"+user)
	}
	if l != "" {
		c.label.Store(&l)
	}
}

// checkTimers runs on the loop from the tick task.
func (c *client) checkTimers(now int64) {
	if c.closed.Load() {
		return
	}
	c.idleOut(now)
	if c.pendingOut.Load() != 0 {
		// gnet drains without telling us: keep the figure publishers on
		// other loops read from going stale.
		c.setPending(c.conn.OutboundBuffered())
	}
	// A check still queued when the time is up ends with the timeout; one
	// a worker has begun is let finish, as nats-server stops the clock once
	// it starts on a CONNECT.
	if c.authDeadline != 0 && now >= c.authDeadline && !(c.authenticating && c.authStarted.Load()) {
		if c.kind == kindLeaf {
			c.leafTimeout()
			return
		}
		c.srv.log.Errorf("%s - Authentication Timeout", c)
		c.closeWith(reasonAuthTimeout, errAuthTimeout)
		return
	}
	if c.expires != 0 && now >= c.expires {
		c.srv.log.Noticef("%s - User Authentication Expired", c)
		c.closeWith(reasonAuthExpired, auth.WireUserExpired)
		return
	}
	// An account JWT's expiry ends every connection of the account, as
	// nats-server's account timer does; new ones are refused by the
	// authenticator from then on.
	if a := c.acc; a != nil && a.info != nil && !a.info.Expires.IsZero() && now >= a.info.Expires.UnixNano() {
		c.srv.log.Noticef("%s - Account Authentication Expired", c)
		c.closeWith(reasonAuthExpired, auth.WireAccountExpired)
		return
	}
	// A zero subscription limit ends the connection soon after its
	// CONNECT, with the error its SUBs get, as nats-server's
	// applyAccountLimits does (it closes 20 ms after).
	if c.maxSubs == 0 && c.connected && c.kind == kindClient {
		c.closeWith(reasonMaxSubs, errMaxSubs)
		return
	}
	if c.stalledSince != 0 {
		// Progress since the last tick (the peer took some of what gnet
		// and the kernel hold for it) restarts the clock: the deadline is
		// for a receiver that takes nothing, as nats-server's is for a
		// write that blocks, not for one that reads slowly behind a steady
		// backlog. The kernel's send queue counts too: it can hold
		// megabytes, and gnet cannot add to it until a third is free.
		pending := int64(c.conn.OutboundBuffered())
		if q, err := unix.IoctlGetInt(c.conn.Fd(), unix.SIOCOUTQ); err == nil {
			pending += int64(q)
		}
		if c.tickPending+(c.handed-c.tickHanded) > pending {
			c.stalledSince = now
		}
		c.tickPending, c.tickHanded = pending, c.handed
	}
	if c.stalledSince != 0 && now-c.stalledSince > int64(c.srv.opts.WriteDeadline) {
		if c.conn.OutboundBuffered() > 0 {
			c.w.stats.slowConsumers.Add(1)
			c.countSlow()
			c.srv.log.Noticef("%s - Slow Consumer Detected: WriteDeadline of %v exceeded", c, c.srv.opts.WriteDeadline)
			c.reason = reasonSlowDeadline
			c.markClosed()
			_ = c.conn.Close()
			return
		}
		c.stalledSince = 0
	}
	if c.nextPing != 0 && now >= c.nextPing {
		interval := int64(c.srv.opts.PingInterval)
		if c.ws != nil && c.kind == kindClient && c.srv.opts.Websocket.PingInterval > 0 {
			// The websocket block's own (nats-server's Websocket.PingInterval).
			interval = int64(c.srv.opts.Websocket.PingInterval)
		}
		c.nextPing = now + interval
		// A client, or a leaf for which we are the hub, that sent something
		// recently is alive; a spoke pings its hub regardless, and so does
		// every connection whose round trip is not measured yet, as
		// nats-server's first PING always goes.
		if c.connected && c.rtt > 0 && now-c.lastIn < interval && (c.kind == kindClient || !c.leaf.spoke) {
			return
		}
		if c.pingsOut+1 > c.srv.opts.MaxPingsOut {
			c.srv.log.Debugf("%s - Stale Client Connection - Closing", c)
			c.closeWith(reasonStale, errStale)
			return
		}
		c.pingsOut++
		c.rttStart = now
		if c.srv.tracing.Load() {
			c.traceOut([]byte("PING"))
		}
		c.out = append(c.out, "PING\r\n"...)
		c.w.markDirty(c)
	}
}
