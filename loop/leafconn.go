package loop

import (
	"context"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/leaf"
	"github.com/canopy-nats/canopy/parser"
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

	// afterClose is an error line logged after the link's end (a client
	// that came to the leafnode port); loop-owned.
	afterClose string

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
		return c.processLeafInfo(op.Arg)
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

// closeLeaf runs from OnClose: the link leaves its account, its interest
// is withdrawn from the other links, and its remote re-dials.
func (c *client) closeLeaf() {
	l := c.leaf
	if acc := c.acc; acc != nil {
		acc.mu.Lock()
		for i, o := range acc.leafs {
			if o == c {
				// slices.Delete clears the slot it frees: a plain
				// append would leave the closed link, and all it holds,
				// reachable from the array's spare capacity.
				acc.leafs = slices.Delete(acc.leafs, i, i+1)
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
	if l.afterClose != "" {
		c.srv.log.Errorf("%s - %s", c, l.afterClose)
	}
	if r := l.remote; r != nil {
		r.Closed()
	}
}
