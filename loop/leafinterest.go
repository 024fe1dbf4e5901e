// Interest and messages on an established leaf link: LS+/LS- both ways
// (what each link is told, and what a peer may ask for) and LMSG/HMSG in.

package loop

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/leaf"
	"github.com/canopy-nats/canopy/sublist"
)

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
			if w.srv.tracing.Load() {
				ln.traceOut(b)
			}
			w.sendProto(ln, b)
		}
		w.proto = b[:0]
	}
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
	if c.maxSubs >= 0 && c.subs.len() >= c.maxSubs {
		// As nats-server's processLeafSub: refused with an -ERR before
		// looking for an existing entry, the link stays up.
		if !c.leaf.maxSubsLogged {
			c.leaf.maxSubsLogged = true
			c.srv.log.Errorf("%s - %s", c, errMaxSubs)
		}
		c.sendErr(errMaxSubs)
		return nil
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	if sub := c.subs.get(key); sub != nil {
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
	c.subs.put(sub)
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
	if sub := c.subs.get(key); sub != nil {
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
