package bench

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// group is one receiving unit: a plain subscriber, or a whole queue group
// whose members share it. Every group must see every data message exactly
// once, and each member must see each publisher's messages in order.
//
// Threading: a member's callback runs on that subscription's nats.go
// delivery goroutine, one message at a time; members of one group run
// concurrently, so everything on group is atomic or under mu. The run's own
// goroutine only calls setExpected, waits on the channels, and reads the
// totals after every subscriber connection has drained.
type group struct {
	id        int
	run       uint32
	pubs      int
	inPayload bool
	epoch     time.Time
	fault     func(sub int, pub uint32, seq uint64) faultAction

	seen []seqSet // one per publisher

	received   atomic.Int64 // data messages, duplicates included
	unique     atomic.Int64
	bytes      atomic.Int64
	duplicated atomic.Int64
	reordered  atomic.Int64
	unexpected atomic.Int64
	lastNanos  atomic.Int64 // latest data arrival, since epoch

	expected atomic.Int64
	done     chan struct{}
	doneOnce sync.Once

	warmExpected atomic.Int64
	warm         atomic.Int64
	warmDone     chan struct{}
	warmOnce     sync.Once

	probed    []atomic.Bool
	nprobed   atomic.Int64
	ready     chan struct{}
	readyOnce sync.Once

	mu    sync.Mutex
	notes []string // first example of each kind of failure
}

func newGroup(id int, o *Options, run uint32, epoch time.Time) *group {
	g := &group{
		id:        id,
		run:       run,
		pubs:      o.Pubs,
		inPayload: o.Size >= tagLen,
		epoch:     epoch,
		fault:     o.fault,
		seen:      make([]seqSet, o.Pubs),
		done:      make(chan struct{}),
		warmDone:  make(chan struct{}),
		probed:    make([]atomic.Bool, o.Pubs),
		ready:     make(chan struct{}),
	}
	g.expected.Store(math.MaxInt64)
	g.warmExpected.Store(math.MaxInt64)
	return g
}

// setExpected tells the group how many data messages to wait for. It may be
// called after messages have started to arrive (runs by duration), so it
// checks the count itself as well.
func (g *group) setExpected(n int64) {
	g.expected.Store(n)
	if g.received.Load() >= n {
		g.doneOnce.Do(func() { close(g.done) })
	}
}

func (g *group) setWarmExpected(n int64) {
	g.warmExpected.Store(n)
	if g.warm.Load() >= n {
		g.warmOnce.Do(func() { close(g.warmDone) })
	}
}

// note keeps the first example of each kind of failure for the error text.
func (g *group) note(kind, format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range g.notes {
		if len(n) >= len(kind) && n[:len(kind)] == kind {
			return
		}
	}
	g.notes = append(g.notes, kind+": "+fmt.Sprintf(format, args...))
}

// member is one subscription of a group.
type member struct {
	g    *group
	sub  int      // subscriber index, global across the run
	last []uint64 // per publisher: highest sequence this member has seen
	held *tag     // a message a faultHold hook is keeping back
}

func newMember(g *group, sub int) *member {
	return &member{g: g, sub: sub, last: make([]uint64, g.pubs)}
}

// onMsg is the nats.go message handler of the member's subscription.
func (m *member) onMsg(msg *nats.Msg) {
	t, ok := tagIn(msg, m.g.inPayload)
	if !ok || t.run != m.g.run {
		m.g.unexpected.Add(1)
		m.g.note("unexpected", "subscriber %d received a message on %q that this run did not send", m.sub, msg.Subject)
		return
	}
	m.deliver(t, len(msg.Data))
}

// deliver passes one tagged message through the fault hook (tests only) and
// into the counters.
func (m *member) deliver(t tag, size int) {
	if m.g.fault != nil && t.kind == kindData {
		switch m.g.fault(m.sub, t.pub, t.seq) {
		case faultDrop:
			return
		case faultDuplicate:
			m.count(t, size)
		case faultHold:
			if m.held == nil {
				h := t
				m.held = &h
				return
			}
		}
		m.count(t, size)
		if m.held != nil && m.held.seq != t.seq {
			h := *m.held
			m.held = nil
			m.count(h, size)
		}
		return
	}
	m.count(t, size)
}

func (m *member) count(t tag, size int) {
	g := m.g
	switch t.kind {
	case kindProbe:
		if int(t.pub) < g.pubs && !g.probed[t.pub].Swap(true) && g.nprobed.Add(1) == int64(g.pubs) {
			g.readyOnce.Do(func() { close(g.ready) })
		}
		return
	case kindWarmup:
		if g.warm.Add(1) == g.warmExpected.Load() {
			g.warmOnce.Do(func() { close(g.warmDone) })
		}
		return
	}
	if int(t.pub) >= g.pubs || t.seq == 0 || t.seq > math.MaxUint32 {
		g.unexpected.Add(1)
		g.note("unexpected", "subscriber %d received publisher %d sequence %d, which was never sent", m.sub, t.pub, t.seq)
		return
	}
	now := int64(time.Since(g.epoch))
	if g.seen[t.pub].add(t.seq) {
		g.duplicated.Add(1)
		g.note("duplicated", "publisher %d sequence %d reached subscriber %d again", t.pub, t.seq, m.sub)
	} else {
		g.unique.Add(1)
		if t.seq < m.last[t.pub] {
			g.reordered.Add(1)
			g.note("reordered", "publisher %d sequence %d reached subscriber %d after sequence %d", t.pub, t.seq, m.sub, m.last[t.pub])
		}
	}
	if t.seq > m.last[t.pub] {
		m.last[t.pub] = t.seq
	}
	g.bytes.Add(int64(size))
	for {
		old := g.lastNanos.Load()
		if now <= old || g.lastNanos.CompareAndSwap(old, now) {
			break
		}
	}
	if g.received.Add(1) == g.expected.Load() {
		g.doneOnce.Do(func() { close(g.done) })
	}
}

// integrity sums what the groups saw against what the publishers sent. It
// must run after every subscriber connection has drained.
type integrity struct {
	lost, duplicated, reordered, unexpected int64
	notes                                   []string
}

func checkGroups(groups []*group, sent []int64) integrity {
	var in integrity
	for _, g := range groups {
		for p, n := range sent {
			missing, first := g.seen[p].missing(uint64(n))
			if missing > 0 {
				in.lost += int64(missing)
				g.note("lost", "publisher %d sequence %d never reached subscriber group %d", p, first, g.id)
			}
		}
		in.duplicated += g.duplicated.Load()
		in.reordered += g.reordered.Load()
		in.unexpected += g.unexpected.Load()
		g.mu.Lock()
		in.notes = append(in.notes, g.notes...)
		g.mu.Unlock()
	}
	return in
}

func (in integrity) ok() bool {
	return in.lost == 0 && in.duplicated == 0 && in.reordered == 0 && in.unexpected == 0
}

func (in integrity) err() error {
	if in.ok() {
		return nil
	}
	msg := fmt.Sprintf("lost %d, duplicated %d, reordered %d, unexpected %d", in.lost, in.duplicated, in.reordered, in.unexpected)
	const maxNotes = 4
	for i, n := range in.notes {
		if i == maxNotes {
			msg += fmt.Sprintf("; and %d more", len(in.notes)-maxNotes)
			break
		}
		msg += "; " + n
	}
	return fmt.Errorf("%w: %s", ErrIntegrity, msg)
}
