package loop

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/leaf"
)

// This file holds the state behind the operator's surface of the server
// (monitoring snapshots, configuration reload, lame-duck mode) and the one
// mechanism they share: running a task on every event loop and waiting for
// the answers. None of it is on the message path.

// DefaultMaxClosed is how many recently closed connections /connz can
// show, as nats-server keeps by default.
const DefaultMaxClosed = 10000

// loopTimeout bounds how long an operator request waits for the event
// loops to answer. A loop that does not answer in that time is stuck in a
// long callback; the request fails rather than hang.
const loopTimeout = 5 * time.Second

// ErrLoopsBusy is returned when an event loop did not run a task in time.
var ErrLoopsBusy = errors.New("loop: event loops did not answer in time")

// opsState is the server's operator state. Its zero value is ready to use.
type opsState struct {
	// reloadMu serialises Reload, LameDuck, the remote bookkeeping and a
	// directory resolver's updates (applyResolver).
	reloadMu sync.Mutex

	mu         sync.Mutex // guards what follows
	closed     closedRing
	configTime time.Time
	remotes    map[*leaf.Remote]*remoteRun
	remotesCtx context.Context
	// Connections closed as slow consumers or stale, by kind, counted
	// as they close (the loops' own counter does not know the kind).
	slowClients, slowLeafs, staleClients, staleLeafs uint64

	ldm atomic.Bool // lame-duck mode: new connections are refused

	// leafsOpened counts leaf connections ever opened, so /varz's
	// total_connections can leave them out as nats-server does.
	leafsOpened atomic.Uint64
}

// setRemotesContext records the context every remote runs under, which
// Shutdown cancels; remotes a reload adds run under it too.
func (o *opsState) setRemotesContext(ctx context.Context) {
	o.mu.Lock()
	o.remotesCtx = ctx
	o.mu.Unlock()
}

// remoteRun is one running leaf remote: cancel stops its dialling loop,
// done is closed when Run has returned.
type remoteRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// runRemote starts a remote's dialling loop under its own context, so a
// reload can stop it alone.
func (s *Server) runRemote(parent context.Context, r *leaf.Remote) {
	ctx, cancel := context.WithCancel(parent)
	rr := &remoteRun{cancel: cancel, done: make(chan struct{})}
	s.ops.mu.Lock()
	if s.ops.remotes == nil {
		s.ops.remotes = make(map[*leaf.Remote]*remoteRun)
	}
	s.ops.remotes[r] = rr
	s.ops.mu.Unlock()
	go func() {
		defer close(rr.done)
		r.Run(ctx, s)
	}()
}

// knownWorkers returns the workers whose event loop has been seen. A loop
// that has never opened a connection has no clients and nothing to report.
func (s *Server) knownWorkers() []*worker {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	ws := make([]*worker, 0, len(s.wmap))
	for _, w := range s.workers {
		if w.el != nil {
			ws = append(ws, w)
		}
	}
	return ws
}

// onLoops runs fn on each worker's own loop, where the worker's clients may
// be read, and returns fn's results in worker order once all have answered.
// It fails with ErrLoopsBusy after loopTimeout; a task that runs later
// still runs, but its result is dropped. It must not be called from a loop.
func onLoops[T any](ws []*worker, fn func(w *worker) T) ([]T, error) {
	type answer struct {
		i int
		v T
	}
	ch := make(chan answer, len(ws))
	n := 0
	for i, w := range ws {
		task := gnet.RunnableFunc(func(context.Context) error {
			ch <- answer{i, fn(w)}
			return nil
		})
		if err := w.el.Execute(context.Background(), task); err != nil {
			// The engine is stopping; that loop has nothing left to say.
			continue
		}
		n++
	}
	out := make([]T, len(ws))
	timer := time.NewTimer(loopTimeout)
	defer timer.Stop()
	for ; n > 0; n-- {
		select {
		case a := <-ch:
			out[a.i] = a.v
		case <-timer.C:
			return nil, ErrLoopsBusy
		}
	}
	return out, nil
}

// A closed connection's record keeps its subscriptions, which nats-server
// shows in /connz?state=closed&subs=1, but within a budget in bytes: a
// record keeps at most maxClosedSubBytes of them, and all records together
// at most maxClosedRingSubBytes, the oldest records giving theirs up first.
// A list cut short keeps its first subscriptions by sid; NumSubs still
// counts them all and SubsOmitted says how many are missing. Without the
// budget, 10,000 records of connections with many subscriptions could pin
// gigabytes (one closed 100,000-subscription connection held 51.6 MB).
const (
	maxClosedSubBytes     = 1 << 20
	maxClosedRingSubBytes = 16 << 20
)

// subInfoBytes is what one kept SubInfo costs.
func subInfoBytes(si *SubInfo) int {
	return int(unsafe.Sizeof(*si)) + len(si.Subject) + len(si.Queue) + len(si.SID)
}

// trimClosedSubs cuts ci.Subs to maxClosedSubBytes, into a slice of its
// own size, and returns the bytes it keeps.
func trimClosedSubs(ci *ConnInfo) int {
	n, kept := 0, 0
	for i := range ci.Subs {
		b := subInfoBytes(&ci.Subs[i])
		if n+b > maxClosedSubBytes {
			break
		}
		n += b
		kept++
	}
	if kept < len(ci.Subs) {
		ci.SubsOmitted += len(ci.Subs) - kept
		ci.Subs = append([]SubInfo(nil), ci.Subs[:kept]...)
	}
	if len(ci.Subs) == 0 {
		ci.Subs = nil
	}
	return n
}

// closedRing keeps the most recently closed connections, oldest first.
type closedRing struct {
	max   int
	buf   []*ConnInfo
	sizes []int // bytes of subscriptions each record of buf keeps
	start int   // index of the oldest entry once the ring is full
	bytes int   // sum of sizes
}

func (r *closedRing) add(ci *ConnInfo) {
	if r.max == 0 {
		r.max = DefaultMaxClosed
	}
	n := trimClosedSubs(ci)
	if len(r.buf) < r.max {
		r.buf = append(r.buf, ci)
		r.sizes = append(r.sizes, n)
	} else {
		r.bytes -= r.sizes[r.start]
		r.buf[r.start], r.sizes[r.start] = ci, n
		r.start = (r.start + 1) % r.max
	}
	r.bytes += n
	// Over budget: the oldest records give up their lists. Records are
	// shared with callers of list, so a trimmed one is replaced, not
	// changed.
	for i := 0; r.bytes > maxClosedRingSubBytes && i < len(r.buf); i++ {
		j := (r.start + i) % len(r.buf)
		if r.sizes[j] == 0 {
			continue
		}
		c := *r.buf[j]
		c.SubsOmitted += len(c.Subs)
		c.Subs = nil
		r.buf[j] = &c
		r.bytes -= r.sizes[j]
		r.sizes[j] = 0
	}
}

// list returns the entries oldest first; the ConnInfos are shared and must
// not be modified.
func (r *closedRing) list() []*ConnInfo {
	out := make([]*ConnInfo, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// noteClosed records a connection that is closing, for /connz?state=closed,
// and settles why it closed. It runs on the connection's loop from
// OnClose, before its subscriptions are dropped, so the record still lists
// them. It returns the record (nil when none is kept) for the close event,
// which OnClose sends once the account has let go of c.
func (s *Server) noteClosed(c *client, err error) *ConnInfo {
	if c.reason == "" {
		// The peer went away. gnet reports an orderly close as a read of
		// EOF, which nats-server calls "Client Closed", not a read error.
		c.reason = reasonClientClosed
		switch {
		case s.shutdown.Load():
			c.reason = reasonServerShutdown
		case err != nil && !errors.Is(err, io.EOF):
			c.reason = reasonReadError
		}
	}
	if c.kind != kindClient && c.kind != kindLeaf {
		return nil
	}
	if c.kind == kindLeaf && !c.leaf.established {
		// nats-server lists leaf connections only once they are registered.
		return nil
	}
	ci := c.connInfo(true)
	ci.Stop = time.Now()
	ci.Reason = string(c.reason)
	slow := ci.Reason == string(reasonSlowPending) || ci.Reason == string(reasonSlowDeadline)
	stale := ci.Reason == string(reasonStale)
	s.ops.mu.Lock()
	s.ops.closed.add(ci)
	switch {
	case slow && c.kind == kindLeaf:
		s.ops.slowLeafs++
	case slow:
		s.ops.slowClients++
	case stale && c.kind == kindLeaf:
		s.ops.staleLeafs++
	case stale:
		s.ops.staleClients++
	}
	s.ops.mu.Unlock()
	return ci
}

// keepCreds returns what a connection keeps of the credentials it
// presented, so a reload can check them again: nil when there were none,
// which costs an idle connection nothing.
func keepCreds(c *auth.ConnectCreds) *auth.ConnectCreds {
	if c.User == "" && c.Pass == "" && c.Token == "" && c.Nkey == "" && c.JWT == "" {
		return nil
	}
	return c
}
