package loop

import (
	"math/rand/v2"
	"strconv"

	"github.com/canopy-nats/canopy/leaf"
)

// deliverFrom sends a message published by src in acc to every matching
// subscription and returns how many connections received it. It runs on
// src's loop and only appends: the output is written when the traffic
// event ends. queues is the list an LMSG names: a message from a leaf link
// is delivered only to the queue groups it lists.
func (w *worker) deliverFrom(src *client, acc *account, subject, reply []byte, hdr int, msg []byte, queues [][]byte) int {
	r := acc.caches[w.id].Match(subject)
	var origin string
	fromLeaf := src.kind == kindLeaf
	// Clients see a JetStream delivery from a link under the subject
	// encoded in its reply; links get the message as it came.
	csubj, creply := subject, reply
	if fromLeaf {
		origin = src.leaf.cluster
		if leaf.IsJSAck(reply) {
			if ds, dr, ok := leaf.SplitJSAck(reply); ok {
				csubj, creply = ds, dr
			}
		}
	}
	// A delivery across an import nests: it keeps the outer message's leaf
	// targets below base.
	base := len(w.leafs)
	n := 0
	for _, sub := range r.Plain {
		dc := sub.c
		if sub.icb != nil {
			n += sub.icb(w, src, sub, subject, reply, hdr, msg)
			continue
		}
		if dc.kind == kindLeaf {
			// Never back down the link it came by, nor to a link of the
			// cluster it came from.
			if dc != src && (origin == "" || dc.leaf.cluster != origin) {
				w.addLeafTarget(base, dc, "")
			}
			continue
		}
		if dc == src && !src.echo {
			continue
		}
		if w.deliverTo(sub, csubj, creply, hdr, msg) {
			n++
		}
	}
	for i := range r.Groups {
		g := &r.Groups[i]
		if fromLeaf && !listed(queues, g.Name) {
			continue
		}
		sub := pickQueue(src, origin, csubj, g.Members)
		if sub == nil {
			continue
		}
		if sub.c.kind == kindLeaf {
			w.addLeafTarget(base, sub.c, g.Name)
			continue
		}
		if w.deliverTo(sub, csubj, creply, hdr, msg) {
			n++
		}
	}
	for i := base; i < len(w.leafs); i++ {
		if w.deliverLeaf(&w.leafs[i], subject, reply, hdr, msg) {
			n++
		}
	}
	w.leafs = w.leafs[:base]
	return n
}

// listed reports whether an LMSG's queue list names group g.
func listed(queues [][]byte, g string) bool {
	for _, q := range queues {
		if string(q) == g {
			return true
		}
	}
	return false
}

// addLeafTarget adds a link to the message's leaf destinations, merging
// plain interest and queue groups into one LMSG per link.
func (w *worker) addLeafTarget(base int, c *client, queue string) {
	for i := base; i < len(w.leafs); i++ {
		if t := &w.leafs[i]; t.c == c {
			if queue != "" {
				t.qs = append(t.qs, queue)
			}
			return
		}
	}
	k := len(w.leafs)
	if k < cap(w.leafs) {
		w.leafs = w.leafs[:k+1]
	} else {
		w.leafs = append(w.leafs, leafTarget{})
	}
	t := &w.leafs[k]
	t.c, t.qs = c, t.qs[:0]
	if queue != "" {
		t.qs = append(t.qs, queue)
	}
}

// pickQueue chooses the member of a queue group that gets a message: a
// local member, uniformly at random among those that can take it, and only
// when there is none a leaf link, chosen at random weighted by the number
// of members it announced. A link of the cluster the message came from is
// never chosen.
func pickQueue(src *client, origin string, subject []byte, members []*subscription) *subscription {
	n := len(members)
	if n == 0 {
		return nil
	}
	start := 0
	if n > 1 {
		start = rand.IntN(n)
	}
	var remote *subscription
	var total int32
	for i := 0; i < n; i++ {
		j := start + i
		if j >= n {
			j -= n
		}
		sub := members[j]
		dc := sub.c
		if dc.closed.Load() || dc == src && !src.echo {
			continue
		}
		if dc.kind == kindLeaf {
			if dc == src || (origin != "" && dc.leaf.cluster == origin) {
				continue
			}
			wt := sub.interest()
			total += wt
			if rand.Int32N(total) < wt {
				remote = sub
			}
			continue
		}
		if m := sub.max.Load(); m > 0 && sub.nm.Load() >= m {
			continue
		}
		if sub.filter != nil && sub.filter.DeniedForDelivery(subject, sub.queue) {
			continue
		}
		return sub
	}
	return remote
}

// deliverTo frames one message for sub's connection and queues it there:
// directly when it lives on this loop, in the batch for its loop otherwise.
func (w *worker) deliverTo(sub *subscription, subject, reply []byte, hdr int, msg []byte) bool {
	c := sub.c
	if c.closed.Load() {
		return false
	}
	if sub.filter != nil && sub.filter.DeniedForDelivery(subject, sub.queue) {
		return false
	}
	// Only a subscription with a max (an UNSUB with a count) is counted
	// here, by every publisher; plain deliveries are counted by the
	// receiver's own loop (seen), so no counter is shared between cores.
	last := false
	if m := sub.max.Load(); m > 0 {
		k := sub.nm.Add(1)
		if k > m {
			return false
		}
		last = k == m
	}
	if len(reply) > 0 {
		if pc := c.perms.Load(); pc != nil {
			pc.AddReply(reply)
		}
	}
	headers := c.headers.Load()
	if c.w == w {
		sub.seen.Add(1)
		c.nOut++
		c.nOutBytes += payloadLen(hdr, msg, headers)
		start := len(c.out)
		c.out = appendMsg(c.out, sub, subject, reply, hdr, msg, headers)
		if w.srv.tracing.Load() {
			c.traceOut(c.out[start:])
		}
		w.markDirty(c)
		if last {
			c.removeSub(sub)
		}
	} else {
		if c.pendingOut.Load() > w.stallAt {
			w.congest(c)
		}
		b := w.batchFor(c.w)
		start := len(b.buf)
		b.buf = appendMsg(b.buf, sub, subject, reply, hdr, msg, headers)
		if w.srv.tracing.Load() {
			c.traceOut(b.buf[start:])
		}
		b.segs = append(b.segs, segment{c: c, n: int32(len(b.buf) - start), sub: sub,
			payload: int32(payloadLen(hdr, msg, headers))})
		if last {
			b.segs = append(b.segs, segment{c: c, unsub: sub})
		}
	}
	w.nOut++
	w.nOutBytes += int64(len(msg))
	return true
}

// deliverLeaf sends one LMSG (or HMSG) down a leaf link, if the link may
// carry the subject.
func (w *worker) deliverLeaf(t *leafTarget, subject, reply []byte, hdr int, msg []byte) bool {
	c := t.c
	if c.closed.Load() || !c.leaf.perms.Load().CanPublish(subject) {
		return false
	}
	headers := c.headers.Load()
	if c.w == w {
		c.nOut++
		c.nOutBytes += payloadLen(hdr, msg, headers)
		start := len(c.out)
		c.out = leaf.AppendMsg(c.out, subject, reply, t.qs, hdr, msg, headers)
		if w.srv.tracing.Load() {
			c.traceOut(c.out[start:])
		}
		w.markDirty(c)
	} else {
		if c.pendingOut.Load() > w.stallAt {
			w.congest(c)
		}
		b := w.batchFor(c.w)
		start := len(b.buf)
		b.buf = leaf.AppendMsg(b.buf, subject, reply, t.qs, hdr, msg, headers)
		if w.srv.tracing.Load() {
			c.traceOut(b.buf[start:])
		}
		b.segs = append(b.segs, segment{c: c, n: int32(len(b.buf) - start),
			payload: int32(payloadLen(hdr, msg, headers))})
	}
	w.nOut++
	w.nOutBytes += int64(len(msg))
	return true
}

// appendMsg appends MSG or HMSG framing and the message for sub. A
// connection that did not negotiate headers gets the body only.
func appendMsg(b []byte, sub *subscription, subject, reply []byte, hdr int, msg []byte, headers bool) []byte {
	if hdr > 0 && !headers {
		msg = msg[hdr:]
		hdr = 0
	}
	if hdr > 0 {
		b = append(b, "HMSG "...)
	} else {
		b = append(b, "MSG "...)
	}
	b = append(b, subject...)
	b = append(b, ' ')
	b = append(b, sub.sid...)
	b = append(b, ' ')
	if len(reply) > 0 {
		b = append(b, reply...)
		b = append(b, ' ')
	}
	if hdr > 0 {
		b = strconv.AppendInt(b, int64(hdr), 10)
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, '\r', '\n')
	b = append(b, msg...)
	return append(b, '\r', '\n')
}
