package loop

import (
	"context"
	"math/bits"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// The write path: everything a connection's output passes on its way to
// the socket, and the back-pressure that output applies. Protocol code
// appends to c.out (or, for messages framed on another loop, queues slices
// with queueSlice); worker.flush ends each event by writing every dirty
// client once (flushOut), through the client's transform when it has one.
//
// # Transforms
//
// A transform sits between a connection's protocol bytes and its socket:
// TLS (tls.go), leaf compression (s2.go), websocket framing. A connection
// without one is plaintext. Transforms stack: c.tr is the one next to the
// socket, and each knows the ones above and below it (xlink), so leaf
// compression runs inside TLS. Input passes them bottom up before the
// parser (OnTraffic hands the socket's bytes to c.tr.input; the top one
// hands what it decodes to client.consume), output top down after the
// framing (flushOut hands the pieces to write, in order, to the top one;
// the bottom one writes to gnet). Back-pressure counts what gnet holds for the
// socket, which for a transform is what it produced (for TLS, records:
// within a fraction of a percent of the protocol bytes for batches of any
// size).
type transform interface {
	// input takes bytes read from the socket, in order, and hands what
	// they decode to to c.consume. It owns none of raw after it returns.
	input(c *client, raw []byte)
	// output writes pieces, in order, to the socket through the
	// transform, and returns how many bytes it handed to gnet. pieces may
	// be reused once it returns.
	output(c *client, pieces [][]byte) (int, error)
	// holding reports that output must wait: a handshake is under way.
	holding() bool
	// release drops what the transform holds; the connection has closed.
	release()
	// link is the transform's place in its connection's stack.
	link() *xlink
}

// xlink places a transform in its connection's stack.
type xlink struct {
	up, down transform
}

// pass hands what a transform decoded to the one above it, or to the
// parser.
func (l *xlink) pass(c *client, b []byte) {
	if l.up != nil {
		l.up.input(c, b)
		return
	}
	c.consume(b)
}

// emit hands what a transform encoded to the one below it, or to gnet.
// The bottom transform writes to gnet directly, so only a transform with
// one below lends the one-piece scratch, and each reads what it was lent
// before it lends it on.
func (l *xlink) emit(c *client, b []byte) (int, error) {
	if l.down == nil {
		return c.write(b)
	}
	c.w.one[0] = b
	n, err := l.down.output(c, c.w.one[:])
	c.w.one[0] = nil
	return n, err
}

// emitv hands several pieces down at once: to the transform below, or to
// gnet in one vectored write.
func (l *xlink) emitv(c *client, pieces [][]byte) (int, error) {
	if l.down != nil {
		return l.down.output(c, pieces)
	}
	return c.writev(pieces)
}

// write hands b to gnet. While gnet holds output for c it keeps a copy of
// b in a buffer from a pool of powers of two: a length just past one would
// take twice its size, and what max_pending counts would be half of what
// is held. So b goes in pieces whose lengths are powers of two, but for
// the last, under minPiece.
func (c *client) write(b []byte) (int, error) {
	if c.conn.OutboundBuffered() == 0 {
		return c.conn.Write(b)
	}
	n := 0
	for len(b) > 0 {
		k := len(b)
		if k > minPiece {
			k = 1 << (bits.Len(uint(k)) - 1)
		}
		m, err := c.conn.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}

// minPiece bounds what one write to a buffering connection wastes to its
// pool's rounding; smaller pieces would cost more in gnet's list nodes.
const minPiece = 1 << 10

// writev is write for several pieces: one vectored write when gnet holds
// nothing for c, else each piece as write queues it.
func (c *client) writev(pieces [][]byte) (int, error) {
	if len(pieces) == 1 {
		return c.write(pieces[0])
	}
	if c.conn.OutboundBuffered() == 0 {
		return c.conn.Writev(pieces)
	}
	n := 0
	for _, p := range pieces {
		m, err := c.write(p)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// push puts t on top of c's transforms.
func (c *client) push(t transform) {
	if c.tr == nil {
		c.tr = t
		return
	}
	top := c.topTransform()
	top.link().up = t
	t.link().down = top
}

// remove takes t out of c's transforms (allow_non_tls: a client that
// turned out to speak plaintext).
func (c *client) remove(t transform) {
	l := t.link()
	if l.down != nil {
		l.down.link().up = l.up
	} else {
		c.tr = l.up
	}
	if l.up != nil {
		l.up.link().down = l.down
	}
	l.up, l.down = nil, nil
}

func (c *client) topTransform() transform {
	t := c.tr
	for t != nil && t.link().up != nil {
		t = t.link().up
	}
	return t
}

// holding reports that one of c's transforms holds output back.
func (c *client) holding() bool {
	for t := c.tr; t != nil; t = t.link().up {
		if t.holding() {
			return true
		}
	}
	return false
}

// queueSlice queues bytes another loop framed for c, without copying
// them: consecutive pieces of one batch merge into one iovec, and flushOut
// writes them all with one writev. The publisher has already counted them
// in c's out figures.
func (c *client) queueSlice(b []byte) {
	if n := len(c.iov); n > 0 {
		last := c.iov[n-1]
		if l := len(last); cap(last) > l && &last[:l+1][l] == &b[0] {
			c.iov[n-1] = last[:l+len(b)]
			return
		}
	}
	if len(c.iov) >= maxIOV {
		// The kernel takes at most 1,024 iovecs at once: write what is
		// queued and go on.
		c.flushOut()
	}
	c.iov = append(c.iov, b)
	c.w.markDirty(c)
}

// maxIOV bounds the iovecs of one writev (Linux accepts 1,024).
const maxIOV = 512

// maxKeptWrite bounds the loop's scratch for assembled writes. A receiver
// whose output backs up gets what other loops sent in one piece, up to
// what a sender may have in flight (inboxStall, and an event's worth more):
// dropping a scratch that large would make every such write allocate it.
const maxKeptWrite = 2 * inboxStall

// maxStackIOV is the most pieces x/sys/unix's Writev converts to iovecs
// without allocating.
const maxStackIOV = 8

// largePiece is the average size of the pieces of a write above which
// they go to writev in groups of maxStackIOV.
const largePiece = 4 << 10

// queuedIOV is the size of what other loops queued for c.
func (c *client) queuedIOV() int {
	n := 0
	for _, s := range c.iov {
		n += len(s)
	}
	return n
}

// fitsRing reports whether what c has queued fits in gnet's outbound ring
// beside what it already holds, so that handing it over copies it there
// instead of starting linked-list nodes (see writeBufferCap).
func (c *client) fitsRing() bool {
	return c.conn.OutboundBuffered()+len(c.out)+c.queuedIOV() <= writeBufferCap
}

// flushOut writes c's pending output with one Write and applies
// back-pressure: a receiver that stays far behind makes this loop wait for
// it briefly when this loop framed some of that output (waitDrains), and
// one past max_pending is closed as a slow consumer.
func (c *client) flushOut() {
	if c.closed.Load() || (len(c.out) == 0 && len(c.iov) == 0) {
		clear(c.iov)
		c.iov = c.iov[:0]
		c.releaseOut()
		return
	}
	// Output framed on this loop (its publishers' messages, replies)
	// makes this loop wait for c; what other loops framed makes them wait
	// (waitCongested), not this one.
	local := len(c.out) > 0
	var err error
	switch {
	case c.tr != nil:
		if c.holding() {
			// A handshake is under way: what was queued waits for it.
			// Slices of other loops' batches are copied, since the
			// batches are recycled after this event.
			for _, s := range c.iov {
				c.out = append(c.out, s...)
			}
			clear(c.iov)
			c.iov = c.iov[:0]
			return
		}
		// What other loops handed over goes first, as below.
		if len(c.out) > 0 {
			c.iov = append(c.iov, c.out)
		}
		var n int
		n, err = c.topTransform().output(c, c.iov)
		c.handed += int64(n)
		clear(c.iov)
		c.iov = c.iov[:0]
	case len(c.iov) > 0 && c.conn.OutboundBuffered() > 0 && c.fitsRing():
		// gnet queues all of it without a syscall, copied into its ring,
		// which has room: no allocation.
		if len(c.out) > 0 {
			c.iov = append(c.iov, c.out)
		}
		var n int
		n, err = c.conn.Writev(c.iov)
		c.handed += int64(n)
		clear(c.iov)
		c.iov = c.iov[:0]
	case len(c.iov) > 0 && c.conn.OutboundBuffered() > 0:
		// Past its ring gnet queues one linked-list node per slice, and
		// walks every node on each later write: give it one slice,
		// assembled in the loop's scratch (gnet copies it).
		b := c.w.wbuf[:0]
		c.w.lastScratch = c.w.now
		for _, s := range c.iov {
			b = append(b, s...)
		}
		b = append(b, c.out...)
		clear(c.iov)
		c.iov = c.iov[:0]
		var n int
		n, err = c.write(b)
		c.handed += int64(n)
		if cap(b) <= maxKeptWrite {
			c.w.wbuf = b[:0]
		}
	case len(c.iov) == 0:
		var n int
		n, err = c.write(c.out)
		c.handed += int64(n)
	default:
		// What other loops handed over was queued before anything this
		// loop added to out since the last write (takeInbox runs first in
		// every event), so it goes first.
		if len(c.out) > 0 {
			c.iov = append(c.iov, c.out)
		}
		// Writev may shorten the slices it is given: they are dropped
		// right after. Past maxStackIOV pieces x/sys/unix allocates the
		// iovec array. Many small pieces (a fan-out's interleaved
		// messages) still go in one writev: that allocation costs far less
		// than a syscall per eight pieces. Large ones go in groups of
		// eight, each a syscall that moves at least largePiece*8 bytes
		// (once the socket is full, gnet queues the rest without one).
		step := len(c.iov)
		if step > maxStackIOV && c.queuedIOV() >= largePiece*step {
			step = maxStackIOV
		}
		for i := 0; i < len(c.iov) && err == nil; i += step {
			var n int
			n, err = c.conn.Writev(c.iov[i:min(i+step, len(c.iov))])
			c.handed += int64(n)
		}
		clear(c.iov)
		c.iov = c.iov[:0]
	}
	c.releaseOut()
	if err != nil {
		return
	}
	pending := c.conn.OutboundBuffered()
	c.setPending(pending)
	if pending == 0 {
		c.stalledSince = 0
		return
	}
	if c.stalledSince == 0 {
		c.stalledSince = c.w.now
	}
	if int64(pending) > c.srv.opts.MaxPending {
		c.w.stats.slowConsumers.Add(1)
		c.countSlow()
		c.srv.log.Noticef("%s - Slow Consumer Detected: MaxPending of %d Exceeded", c, c.srv.opts.MaxPending)
		c.reason = reasonSlowPending
		c.markClosed()
		_ = c.conn.Close()
		return
	}
	if local && int64(pending) > c.w.stallAt {
		c.w.stall(c)
	}
}

// setPending publishes how much output gnet still holds for c, which
// publishers on other loops read to decide whether to wait (see
// worker.waitCongested). The store is skipped when nothing changed from
// zero, the common case.
func (c *client) setPending(n int) {
	if n != 0 || c.pendingOut.Load() != 0 {
		c.pendingOut.Store(int64(n))
	}
}

// refreshPending runs on c's loop when a publisher elsewhere is waiting
// for c: gnet drains its buffer without telling us, so the figure the
// publisher reads may be stale. It does not wait for c itself: the
// publisher's loop is the one to slow down, and this loop, serving the
// others on it, would wait once for each of the receivers a publisher
// found behind, one task after the other. gnet writes to c as its socket
// takes more.
func (c *client) refreshPending() {
	c.refreshing.Store(false)
	if !c.closed.Load() {
		c.setPending(c.conn.OutboundBuffered())
	}
}

// askRefresh has c's loop refresh c's pending figure (refreshPending),
// unless a refresh is already on its way. It may be called from any loop.
func (c *client) askRefresh() {
	if !c.refreshing.CompareAndSwap(false, true) {
		return
	}
	if c.refreshTask == nil {
		c.refreshTask = gnet.RunnableFunc(func(context.Context) error {
			c.refreshPending()
			return nil
		})
	}
	if err := c.w.el.Execute(context.Background(), c.refreshTask); err != nil {
		c.refreshing.Store(false)
	}
}

// releaseOut drops the out buffer when it grew large, so an idle connection
// holds little memory.
func (c *client) releaseOut() {
	if cap(c.out) > maxKeptOut {
		c.out = nil
		return
	}
	c.out = c.out[:0]
	c.lastOut = c.w.now
}

// maxKeptOut is the largest out buffer a busy connection keeps between
// writes: regrowing it for every burst cost more than the copies it holds.
// An idle connection gives it back (see idleOut).
const maxKeptOut = 1 << 20

// idleOut drops the out buffer of a connection that has written nothing
// for a while, so idle connections hold no output memory.
func (c *client) idleOut(now int64) {
	if c.out != nil && len(c.out) == 0 && now-c.lastOut > int64(time.Second) {
		c.out = nil
		c.iov = nil
	}
}

// stall notes that c, on this loop, is far behind: the event waits for it
// before it ends (waitDrains).
func (w *worker) stall(c *client) {
	if !c.stalling {
		c.stalling = true
		w.stalled = append(w.stalled, c)
	}
}

// stallLeft is how much longer the current event may wait for receivers:
// the first wait of an event starts its budget, the others share it.
func (w *worker) stallLeft() time.Duration {
	now := time.Now().UnixNano()
	if w.stallUntil == 0 {
		w.stallUntil = now + int64(stallBudget)
	}
	return time.Duration(w.stallUntil - now)
}

// waitDrains blocks this loop, within the event's budget, while the
// receivers on it found far behind take what gnet holds for them: all of
// them at once, each written to as soon as its socket has room, until
// every one is down to half the threshold. It is how a fast publisher on
// the same loop as slow receivers is slowed down instead of growing their
// buffers without bound.
func (w *worker) waitDrains() {
	for {
		keep := w.stalled[:0]
		w.pfds = w.pfds[:0]
		for _, c := range w.stalled {
			if c.closed.Load() || int64(c.conn.OutboundBuffered()) <= w.stallAt/2 {
				c.stalling = false
				continue
			}
			keep = append(keep, c)
			w.pfds = append(w.pfds, unix.PollFd{Fd: int32(c.conn.Fd()), Events: unix.POLLOUT})
		}
		clear(w.stalled[len(keep):])
		w.stalled = keep
		left := w.stallLeft()
		if len(keep) == 0 || left <= 0 {
			break
		}
		ts := unix.NsecToTimespec(int64(left))
		if _, err := unix.Ppoll(w.pfds, &ts, nil); err != nil && err != unix.EINTR {
			break
		}
		for i, c := range keep {
			if w.pfds[i].Revents == 0 || c.closed.Load() {
				continue
			}
			// On an error gnet closes c, and the next round drops it.
			if err := c.conn.Flush(); err == nil && !c.closed.Load() {
				c.setPending(c.conn.OutboundBuffered())
			}
		}
	}
	for i, c := range w.stalled {
		c.stalling = false
		w.stalled[i] = nil
	}
	w.stalled = w.stalled[:0]
}

// flush ends a traffic event: batches for other loops are handed over
// first, then every local client with output is written once.
//
// Then it waits for receivers far behind, here and on other loops, and for
// other loops' inboxes: one budget for all of it (stallBudget), so one
// event holds the loop up no longer however many receivers are slow. A
// message decoded from a large compressed block is written a read's worth
// at a time, each as an event of its own (s2.go, ws.go): each flush gets a
// budget.
func (w *worker) flush() {
	stall := false
	for _, id := range w.outIDs {
		b := w.out[id]
		w.out[id] = nil
		d := w.srv.workers[id]
		d.push(b)
		stall = stall || d.backlog.Load() > d.inboxStallAt
	}
	// The figures go out before the bytes: a client that has its PONG
	// finds them up to date in the monitoring endpoints.
	w.syncStats()
	if len(w.accDirty) > 0 {
		w.syncAccStats()
	}
	for i, c := range w.dirty {
		w.dirty[i] = nil
		c.dirty = false
		c.syncStats()
		c.flushOut()
	}
	w.dirty = w.dirty[:0]
	if len(w.stalled) > 0 {
		w.waitDrains()
	}
	if stall {
		w.waitInboxes(w.outIDs)
	}
	w.outIDs = w.outIDs[:0]
	if len(w.congested) > 0 {
		w.waitCongested()
	}
	w.stallUntil = 0
}

// waitInboxes pauses the publishing loop, within the event's budget, while
// a destination loop is far behind, so a fast publisher cannot grow another loop's inbox without bound.
func (w *worker) waitInboxes(dsts []int) {
	for _, id := range dsts {
		d := w.srv.workers[id]
		for d.backlog.Load() > d.inboxStallAt && w.stallLeft() > 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// congest notes that a receiver on another loop is far behind: this loop
// will wait for it before reading more (waitCongested).
func (w *worker) congest(c *client) {
	if n := len(w.congested); n == 0 || w.congested[n-1] != c {
		w.congested = append(w.congested, c)
	}
}

// waitCongested pauses the publishing loop, within the event's budget,
// while receivers on other loops work through what gnet holds for them.
// This is the cross-loop half of back-pressure: without it a publisher
// fills another loop's sockets' buffers until the receiver is dropped as a
// slow consumer, where nats-server would have slowed the publisher.
func (w *worker) waitCongested() {
	for i, c := range w.congested {
		w.congested[i] = nil
		for !c.closed.Load() && c.pendingOut.Load() > w.stallAt/2 && w.stallLeft() > 0 {
			c.askRefresh()
			time.Sleep(100 * time.Microsecond)
		}
	}
	w.congested = w.congested[:0]
}
