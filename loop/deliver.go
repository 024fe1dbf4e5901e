package loop

import (
	"math/rand/v2"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// deliver sends a message published by src in acc to every matching
// subscription, and returns how many received it. It runs on src's loop and
// only appends: the output is written when the traffic event ends.
func (w *worker) deliver(src *client, acc *account, subject, reply []byte, hdr int, msg []byte) int {
	r := acc.caches[w.id].Match(subject)
	n := 0
	for _, sub := range r.Plain {
		if sub.c == src && !src.echo {
			continue
		}
		if w.deliverTo(sub, subject, reply, hdr, msg) {
			n++
		}
	}
	for i := range r.Groups {
		if sub := pickQueue(src, r.Groups[i].Members); sub != nil && w.deliverTo(sub, subject, reply, hdr, msg) {
			n++
		}
	}
	return n
}

// pickQueue chooses the member of a queue group that gets a message:
// uniformly at random among those that can take it.
func pickQueue(src *client, members []*subscription) *subscription {
	n := len(members)
	if n == 0 {
		return nil
	}
	start := 0
	if n > 1 {
		start = rand.IntN(n)
	}
	for i := 0; i < n; i++ {
		j := start + i
		if j >= n {
			j -= n
		}
		sub := members[j]
		if sub.c.closed.Load() || (sub.c == src && !src.echo) {
			continue
		}
		if m := sub.max.Load(); m > 0 && sub.nm.Load() >= m {
			continue
		}
		return sub
	}
	return nil
}

// deliverTo frames one message for sub's connection and queues it there:
// directly when it lives on this loop, in the batch for its loop otherwise.
func (w *worker) deliverTo(sub *subscription, subject, reply []byte, hdr int, msg []byte) bool {
	c := sub.c
	if c.closed.Load() {
		return false
	}
	last := false
	if m := sub.max.Load(); m > 0 {
		k := sub.nm.Add(1)
		if k > m {
			return false
		}
		last = k == m
	}
	headers := c.headers.Load()
	if c.w == w {
		start := len(c.out)
		c.out = appendMsg(c.out, sub, subject, reply, hdr, msg, headers)
		c.outMsgs.Add(1)
		c.outBytes.Add(int64(len(c.out) - start))
		w.markDirty(c)
		if last {
			c.removeSub(sub)
		}
	} else {
		b := w.batchFor(c.w)
		start := len(b.buf)
		b.buf = appendMsg(b.buf, sub, subject, reply, hdr, msg, headers)
		b.segs = append(b.segs, segment{c: c, n: int32(len(b.buf) - start)})
		if last {
			b.segs = append(b.segs, segment{c: c, unsub: sub})
		}
	}
	w.stats.outMsgs.Add(1)
	w.stats.outBytes.Add(int64(len(msg)))
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

// waitDrain blocks this loop for a few milliseconds at most while c's
// socket takes the output gnet holds for it. It is how a fast publisher on
// the same loop as a slow receiver is slowed down instead of growing the
// receiver's buffer without bound.
func (c *client) waitDrain() {
	deadline := time.Now().Add(stallMax)
	pfd := []unix.PollFd{{Fd: int32(c.conn.Fd()), Events: unix.POLLOUT}}
	for !c.closed.Load() && c.conn.OutboundBuffered() > stallBytes/2 {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		ms := int(left / time.Millisecond)
		if ms < 1 {
			ms = 1
		}
		if _, err := unix.Poll(pfd, ms); err != nil && err != unix.EINTR {
			return
		}
		if err := c.conn.Flush(); err != nil || c.closed.Load() {
			return
		}
	}
}
