package loop

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Back-pressure thresholds. A receiver whose unsent output passes stallBytes
// makes the loop that feeds it wait, briefly, for it to drain; past
// max_pending it is a slow consumer and is closed. All the waiting one
// event does, for however many receivers, fits in stallBudget: half what
// nats-server allows a read loop (stallTotalAllowed), since a loop serves
// every other connection on it too, and what one slow receiver was given
// before the budget was shared.
const (
	stallBytes    = 2 << 20
	stallBudget   = 5 * time.Millisecond
	inboxStall    = 8 << 20
	tickInterval  = 100 * time.Millisecond
	batchInitSize = 32 << 10
	maxKeptBatch  = 4 << 20
)

// worker is the per-event-loop state.
type worker struct {
	id  int
	srv *Server
	el  gnet.EventLoop // set when the loop is first seen

	// Owned by the loop.
	clients []*client // every connection on this loop, for timers
	dirty   []*client // clients whose out buffer holds bytes to write
	out     []*batch  // batches being filled, indexed by destination worker id
	outIDs  []int     // ids with a non-nil out entry
	leafs   []leafTarget
	// congested lists receivers on other loops found far behind during
	// this event.
	congested []*client
	// stalled lists receivers on this loop found far behind during this
	// event (waitDrains), pfds the poll set made of them.
	stalled []*client
	pfds    []unix.PollFd
	// stallUntil is when this event's waiting must end, unix nanos: taken
	// by its first wait, shared by the others, cleared when flush ends
	// the event (see stallDeadline).
	stallUntil int64
	wbuf       []byte // scratch to assemble one write, see client.flushOut
	// Scratch of TLS connections (tls.go): decrypted input, plaintext
	// gathered into records, records gathered into one write.
	tlsIn, tlsPlain, tlsOut []byte
	one                     [1][]byte // one piece handed down a stack of transforms
	// Scratch of compressed leaf links (s2.go).
	s2in, s2out []byte
	s2iov       [][]byte
	// Scratch of websocket connections (ws.go): frames assembled for a
	// write, a deflated flush, an inflater and its output.
	wsVec    [][]byte
	wsOut    []byte
	wsZ      *flate.Writer
	wsZbuf   appendBuf
	wsReader io.ReadCloser
	wsSrc    *bytes.Reader
	wsIn     []byte

	depth int                    // accounts crossed by the message being delivered
	subj  [maxImportDepth][]byte // scratch for mapped subjects, one per depth
	reqi  [maxImportDepth][]byte // scratch for requests given Nats-Request-Info, one per depth
	reqj  []byte                 // scratch for Nats-Request-Info's value
	proto []byte                 // scratch for protocol lines to other connections
	stats workerStats
	now   int64 // unix nanos at the start of the current event
	// Message counters, counted plainly by the loop and published to
	// stats at the end of each event (flush).
	nIn, nInBytes, nOut, nOutBytes int64
	// accDirty lists the accounts' counters with deliveries counted
	// during the event (accstats.go).
	accDirty []*accLoopStats
	// statAcc, when set, is the account the next deliverFrom counts its
	// deliveries in instead of its own (a stream import's, imports.go).
	statAcc *account

	// Drained batches this loop filled, back for reuse (recycle).
	freeMu      sync.Mutex
	free        []*batch
	freeBytes   int   // capacity of the batches in free
	lastScratch int64 // w.now when this loop last took a batch or assembled a write

	// Shared with other loops: guarded by mu.
	mu        sync.Mutex
	inbox     []*batch
	spare     []*batch
	scheduled bool
	backlog   atomic.Int64 // bytes handed to this worker, not yet drained

	// stallAt and inboxStallAt are stallBytes and inboxStall, or a quarter
	// of max_pending when that is less: a receiver that reads must be
	// slowed down well before its output could pass max_pending and get
	// it closed as a slow consumer. Fixed at creation.
	stallAt, inboxStallAt int64

	// The send end of the loop's wake-up pair (wake.go), nil until it is
	// registered and after shutdown; guarded by wakeMu.
	wakeMu     sync.RWMutex
	wake       *os.File
	wakeClosed bool

	tickPending atomic.Bool
	drainTask   gnet.Runnable
	tickTask    gnet.Runnable
}

// workerStats are the loop's message counters; written by the loop only,
// read by monitoring.
type workerStats struct {
	inMsgs, inBytes, outMsgs, outBytes atomic.Int64
	slowConsumers                      atomic.Int64
}

// batch carries framed messages from one loop to another: buf holds them
// back to back, segs says whose each one is. A batch goes back to the loop
// that filled it once drained (releaseBatches), so each loop reuses the
// batches it has grown, at their high-water mark, instead of taking them
// from a sync.Pool that every garbage collection empties.
type batch struct {
	buf   []byte
	segs  []segment
	owner *worker
}

// segment is one message of a batch, or, when unsub is set, the news that
// an auto-unsubscribing subscription has had its last message.
type segment struct {
	c       *client
	n       int32
	payload int32         // the message's payload bytes, for the receiver's figures
	proto   bool          // protocol lines (LS+, LS-), not a message
	sub     *subscription // the subscription a message is for, counted on arrival
	unsub   *subscription
}

// maxFreeBatchBytes bounds the capacity of the drained batches a loop
// keeps for reuse. A sender may have up to inboxStall bytes in flight to
// one destination before it waits, all of which come back at once when the
// destination catches up; keeping fewer would make the next burst allocate.
const maxFreeBatchBytes = 2 * inboxStall

func newWorker(s *Server, id int) *worker {
	w := &worker{id: id, srv: s, out: make([]*batch, s.opts.Loops)}
	w.stallAt = min(stallBytes, s.opts.MaxPending/4)
	w.inboxStallAt = min(inboxStall, s.opts.MaxPending/4)
	w.drainTask = gnet.RunnableFunc(func(context.Context) error { w.drain(); return nil })
	w.tickTask = gnet.RunnableFunc(func(context.Context) error { w.tick(); return nil })
	return w
}

// appendTo returns the batch for destination d, taking one from the pool
// when d has none yet in this event.
func (w *worker) batchFor(d *worker) *batch {
	b := w.out[d.id]
	if b == nil {
		w.freeMu.Lock()
		if n := len(w.free); n > 0 {
			b = w.free[n-1]
			w.free[n-1] = nil
			w.free = w.free[:n-1]
			w.freeBytes -= cap(b.buf)
		}
		w.freeMu.Unlock()
		if b == nil {
			b = &batch{buf: make([]byte, 0, batchInitSize), segs: make([]segment, 0, 64), owner: w}
		}
		w.lastScratch = w.now
		w.out[d.id] = b
		w.outIDs = append(w.outIDs, d.id)
	}
	return b
}

// sendProto queues protocol lines for c, on whichever loop it lives.
func (w *worker) sendProto(c *client, p []byte) {
	if c.w == w {
		c.out = append(c.out, p...)
		w.markDirty(c)
		return
	}
	b := w.batchFor(c.w)
	b.buf = append(b.buf, p...)
	b.segs = append(b.segs, segment{c: c, n: int32(len(p)), proto: true})
}

// markDirty records that c has output to write at the end of the event.
func (w *worker) markDirty(c *client) {
	if !c.dirty {
		c.dirty = true
		w.dirty = append(w.dirty, c)
	}
}

// syncStats publishes the loop's counters for monitoring.
func (w *worker) syncStats() {
	if w.nIn != w.stats.inMsgs.Load() {
		w.stats.inMsgs.Store(w.nIn)
		w.stats.inBytes.Store(w.nInBytes)
	}
	if w.nOut != w.stats.outMsgs.Load() {
		w.stats.outMsgs.Store(w.nOut)
		w.stats.outBytes.Store(w.nOutBytes)
	}
}

// push hands a batch to w from another loop.
func (w *worker) push(b *batch) {
	w.backlog.Add(int64(len(b.buf)))
	w.mu.Lock()
	w.inbox = append(w.inbox, b)
	wake := !w.scheduled
	w.scheduled = true
	w.mu.Unlock()
	if wake && !w.signal() {
		if err := w.el.Execute(context.Background(), w.drainTask); err != nil {
			// The engine is shutting down: nothing will be delivered anyway.
			w.mu.Lock()
			w.scheduled = false
			w.mu.Unlock()
		}
	}
}

// drain runs on w's loop: it moves every batch handed to it into the
// receivers' out buffers and writes them.
func (w *worker) drain() {
	in := w.takeInbox()
	w.flush()
	w.releaseBatches(in)
}

// takeInbox takes every batch handed to w and queues its segments on the
// receivers: not copied, but as slices of the batches, which stay alive
// until the receivers have been written (releaseBatches).
func (w *worker) takeInbox() []*batch {
	w.mu.Lock()
	in := w.inbox
	w.inbox = w.spare[:0]
	w.spare = nil
	w.scheduled = false
	w.mu.Unlock()
	w.now = time.Now().UnixNano()
	for _, b := range in {
		off := 0
		for _, sg := range b.segs {
			end := off + int(sg.n)
			if c := sg.c; !c.closed.Load() {
				switch {
				case sg.unsub != nil:
					c.removeSub(sg.unsub)
				case sg.proto:
					c.queueSlice(b.buf[off:end])
				default:
					c.queueSlice(b.buf[off:end])
					c.nOut++
					c.nOutBytes += int64(sg.payload)
					if sg.sub != nil {
						sg.sub.seen.Add(1)
					}
				}
			}
			off = end
		}
	}
	return in
}

// releaseBatches recycles drained batches once their bytes are written
// (gnet has copied whatever the sockets did not take).
func (w *worker) releaseBatches(in []*batch) {
	var n int64
	for i, b := range in {
		n += int64(len(b.buf))
		b.buf = b.buf[:0]
		clear(b.segs)
		b.segs = b.segs[:0]
		if cap(b.buf) <= maxKeptBatch {
			b.owner.recycle(b)
		}
		in[i] = nil
	}
	w.mu.Lock()
	if w.spare == nil {
		w.spare = in[:0]
	}
	w.mu.Unlock()
	w.backlog.Add(-n)
}

// recycle takes back a drained batch w filled, unless w keeps enough.
func (w *worker) recycle(b *batch) {
	w.freeMu.Lock()
	if w.freeBytes+cap(b.buf) <= maxFreeBatchBytes {
		w.free = append(w.free, b)
		w.freeBytes += cap(b.buf)
	}
	w.freeMu.Unlock()
}

// add and remove keep the list of the loop's clients for the timers.
func (w *worker) add(c *client) {
	c.widx = len(w.clients)
	w.clients = append(w.clients, c)
}

func (w *worker) remove(c *client) {
	i := c.widx
	if i < 0 || i >= len(w.clients) || w.clients[i] != c {
		return
	}
	last := len(w.clients) - 1
	w.clients[i] = w.clients[last]
	w.clients[i].widx = i
	w.clients[last] = nil
	w.clients = w.clients[:last]
	c.widx = -1
}

// scheduleTick asks the loop to check its timers, unless a check is already
// pending. It runs on gnet's ticker goroutine.
func (w *worker) scheduleTick() {
	if w.el == nil || !w.tickPending.CompareAndSwap(false, true) {
		return
	}
	if w.signal() {
		return
	}
	if err := w.el.Execute(context.Background(), w.tickTask); err != nil {
		w.tickPending.Store(false)
	}
}

// tick checks every client's deadlines: auth timeout, pings, write stalls.
func (w *worker) tick() {
	w.tickPending.Store(false)
	w.now = time.Now().UnixNano()
	// Iterate over a snapshot of the length: a timer may close a client,
	// which swaps the last one into its slot.
	for i := len(w.clients) - 1; i >= 0; i-- {
		if i < len(w.clients) {
			w.clients[i].checkTimers(w.now)
		}
	}
	w.idleScratch()
	w.flush()
}

// idleScratch gives back what a burst of traffic grew, once the loop has
// used neither for a while: the batches kept for reuse and the scratch of
// assembled writes. A busy loop keeps them at their
// high-water mark, so that its messages allocate nothing.
func (w *worker) idleScratch() {
	if w.now-w.lastScratch <= int64(time.Second) {
		return
	}
	w.freeMu.Lock()
	if len(w.free) > 0 {
		clear(w.free)
		w.free, w.freeBytes = w.free[:0], 0
	}
	w.freeMu.Unlock()
	if cap(w.wbuf) > batchInitSize {
		w.wbuf = nil
	}
}
