package loop

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Internal subscriptions and internal publishing: how the server itself
// takes part in an account's traffic.
//
// An internal subscription is an ordinary entry of an account's sublist
// whose delivery is a Go function (icb) instead of a connection. It is
// called on the publisher's loop, inside deliverFrom, with the message's
// bytes borrowed from that event: the callback must copy what it keeps and
// must not block. A callback that has real work to do (building a /connz
// answer) copies the request and hands it to a goroutine of its own.
// Imports (imports.go) and the system account's services (sysacc.go) are
// its users. An internal subscription is never a queue group member.
//
// Internal publishing goes the other way: any goroutine may queue a
// message for an account (Server.publishInternal); one loop takes the
// queue in a task and delivers it as if the account's internal client had
// published it, batching for the other loops as any publisher does. It is
// always the same loop, so the server's messages keep their order.

// icb is an internal subscription's delivery. It returns how many
// connections received the message (what deliverFrom counts).
type icb func(w *worker, src *client, sub *subscription, subject, reply []byte, hdr int, msg []byte) int

// maxInternalQueue bounds the messages waiting to be published by the
// server; beyond it new ones are dropped (and counted), as nats-server
// drops events when its send queue is full rather than grow without bound.
const maxInternalQueue = 1 << 16

// internalMsg is one message the server publishes. msg holds the headers
// (hdr bytes, 0 without) followed by the payload; it is owned by the queue.
type internalMsg struct {
	acc     *account
	subject string
	reply   string
	hdr     int
	msg     []byte
}

// internalState is the queue of messages the server publishes from other
// goroutines, and the one task that drains it.
type internalState struct {
	mu        sync.Mutex
	q         []internalMsg
	spare     []internalMsg
	scheduled bool
	busy      bool // a loop is delivering what it took
	dropped   uint64
}

// internalClient is the account's connectionless client: the owner of its
// internal subscriptions and the publisher of what the server sends in it.
// It is never closed, lives on no loop and never receives output.
func (a *account) internalClient(s *Server) *client {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.internal == nil {
		a.internal = &client{srv: s, kind: kindInternal, acc: a}
	}
	return a.internal
}

// subscribeInternal adds an internal subscription on subject to account a.
// It may be called from any goroutine. Internal subscriptions are not
// announced to leaf links. Their sids count up per account, as /subsz
// shows nats-server's.
func (s *Server) subscribeInternal(a *account, subject string, cb icb) (*subscription, error) {
	return s.subscribeInternalAs(a, subject, cb, false)
}

// subscribeInternalAs is subscribeInternal, marking the system's own
// request handlers (see sysState.listened).
func (s *Server) subscribeInternalAs(a *account, subject string, cb icb, sysReq bool) (*subscription, error) {
	sid := strconv.FormatInt(a.internalSids.Add(1), 10)
	sub := &subscription{c: a.internalClient(s), subject: subject, sid: sid, icb: cb, sysReq: sysReq}
	if err := a.sl.Insert(subject, "", sub); err != nil {
		return nil, err
	}
	return sub, nil
}

// publishInternal queues a message the server publishes in account a. It
// is safe from any goroutine, loops included, and never blocks: the
// message is delivered later by a task on one of the loops. hdr is the
// length of the headers at the start of msg (0 without); msg is taken over
// by the queue and must not be modified afterwards.
func (s *Server) publishInternal(a *account, subject, reply string, hdr int, msg []byte) {
	st := &s.internal
	st.mu.Lock()
	if len(st.q) >= maxInternalQueue {
		st.dropped++
		st.mu.Unlock()
		return
	}
	st.q = append(st.q, internalMsg{acc: a, subject: subject, reply: reply, hdr: hdr, msg: msg})
	wake := !st.scheduled
	st.scheduled = true
	st.mu.Unlock()
	if wake {
		s.scheduleInternal()
	}
}

// scheduleInternal asks a loop to drain the internal queue.
func (s *Server) scheduleInternal() {
	ws := s.knownWorkers()
	st := &s.internal
	if len(ws) > 0 {
		// Always the same loop: the server is one publisher, and its
		// messages keep their order only through one loop's batches
		// (an event's connect before its disconnect).
		w := ws[0]
		task := gnet.RunnableFunc(func(context.Context) error { w.drainInternal(); return nil })
		if w.el.Execute(context.Background(), task) == nil {
			return
		}
	}
	// No loop runs (yet, or any more): what is queued waits for the next
	// publish after the loops are up, or is dropped at shutdown.
	st.mu.Lock()
	st.scheduled = false
	st.mu.Unlock()
}

// drainInternal runs on w's loop: it delivers every queued internal
// message and writes what they produced.
func (w *worker) drainInternal() {
	st := &w.srv.internal
	st.mu.Lock()
	q := st.q
	st.q = st.spare[:0]
	st.spare = nil
	st.scheduled = false
	st.busy = len(q) > 0
	st.mu.Unlock()
	if len(q) == 0 {
		return
	}
	w.now = time.Now().UnixNano()
	for i := range q {
		m := &q[i]
		src := m.acc.internalClient(w.srv)
		var reply []byte
		if m.reply != "" {
			reply = []byte(m.reply)
		}
		w.deliverFrom(src, m.acc, []byte(m.subject), reply, m.hdr, m.msg, nil)
		q[i] = internalMsg{}
	}
	w.flush()
	st.mu.Lock()
	st.busy = false
	if st.spare == nil {
		st.spare = q[:0]
	}
	st.mu.Unlock()
}
