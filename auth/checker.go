package auth

import (
	"sync"
	"time"
)

// Cache and reply-tracking bounds, as nats-server has them (client.go
// maxPermCacheSize, pruneSize, replyPermLimit, replyPruneTime).
const (
	maxVerdicts     = 128
	verdictPrune    = 32
	replyPruneCount = 4096
	replyPruneAfter = time.Second
)

// Checker is one connection's permission checker: Permissions plus a small
// bounded cache of publish verdicts, so that the hot path costs one map
// lookup, and the replies this connection may answer under allow_responses.
//
// Threading: a Checker belongs to the event loop that owns its connection.
// Publish, Subscribe and LeafSend may only be called from that loop.
// AddReply is the exception: other loops call it when they deliver a
// request to this connection, so it is safe for concurrent use; it takes a
// mutex, which exists only when the permissions have allow_responses.
//
// A Checker is small (nine words) and allocates its caches on first use.
// Permissions are immutable, so a permission change means a new Checker.
type Checker struct {
	perms *Permissions
	// last and lastOK memoize the most recent cached publish verdict:
	// publishers tend to repeat a subject, and a byte comparison is cheaper
	// than hashing it for the map.
	last    []byte
	lastOK  bool
	pub     map[string]bool // publish verdicts
	leaf    map[string]bool // LeafSend verdicts
	replies *replies        // nil unless perms have allow_responses
}

// replies tracks reply subjects of requests delivered to the connection.
type replies struct {
	mu        sync.Mutex
	max       int
	ttl       time.Duration
	m         map[string]*reply
	since     int // additions since the last prune
	lastPrune time.Time
	now       func() time.Time
}

type reply struct {
	at time.Time
	n  int // responses sent so far
}

// NewChecker returns a Checker for p (nil p allows everything).
func NewChecker(p *Permissions) *Checker {
	c := &Checker{perms: p}
	if r := p.Response(); r != nil {
		c.replies = &replies{max: r.MaxMsgs, ttl: r.Expires, now: time.Now}
	}
	return c
}

// Permissions returns the permissions the Checker applies.
func (c *Checker) Permissions() *Permissions { return c.perms }

// Publish reports whether the connection may publish to subject: the
// permission verdict, cached, or else a tracked reply (allow_responses),
// which is consumed by the call. The last subject's verdict costs a byte
// comparison, inlined into the caller, any other cached one a map lookup;
// neither allocates. subject is not retained. Owner loop only.
func (c *Checker) Publish(subject []byte) bool {
	// A publisher repeating its last subject is the common case: a byte
	// comparison, kept small enough to be inlined into the caller. The
	// memo is only ever set when publishing is restricted.
	if string(subject) == string(c.last) && len(subject) != 0 {
		return c.lastOK
	}
	return c.publish(subject)
}

// publish is Publish past the memo.
func (c *Checker) publish(subject []byte) bool {
	if !c.perms.publishRestricted() {
		return true
	}
	v, ok := c.pub[string(subject)]
	if !ok {
		v = c.perms.pub.publish(bytesToString(subject))
		if !v && c.replies != nil {
			// Denials are not cached when replies are tracked: the same
			// subject may become a reply the connection may answer.
			return c.replies.use(bytesToString(subject))
		}
		c.pub = remember(c.pub, subject, v)
	}
	// The memo keeps its buffer unless a long subject would pin memory.
	if len(subject) <= 256 {
		c.last, c.lastOK = append(c.last[:0], subject...), v
	}
	return v
}

// LeafSend reports whether a hub accepts a message from the leaf on this
// connection on subject: exemptions, then the configured publish (export)
// lists (Permissions.LeafSendAllowed), then tracked replies. Cached like
// Publish. Owner loop only.
func (c *Checker) LeafSend(subject []byte) bool {
	if c.perms == nil || LeafMsgExempt(subject) {
		return true
	}
	if v, ok := c.leaf[string(subject)]; ok {
		return v
	}
	allowed := c.perms.export.publish(bytesToString(subject))
	if !allowed && c.replies != nil {
		return c.replies.use(bytesToString(subject))
	}
	c.leaf = remember(c.leaf, subject, allowed)
	return allowed
}

// Subscribe reports whether the connection may subscribe (see
// Permissions.CanSubscribe). Subscriptions are rare enough not to cache.
func (c *Checker) Subscribe(subject, queue string) bool {
	return c.perms.CanSubscribe(subject, queue)
}

// remember stores a verdict, allocating the map on first use and dropping
// a batch of arbitrary entries when it grows past its bound.
func remember(m map[string]bool, subject []byte, v bool) map[string]bool {
	if m == nil {
		m = make(map[string]bool)
	} else if len(m) >= maxVerdicts {
		n := 0
		for k := range m {
			delete(m, k)
			if n++; n >= verdictPrune {
				break
			}
		}
	}
	m[string(subject)] = v
	return m
}

// AddReply records that a message with reply subject subject was delivered to
// this connection, so that Publish lets the connection answer on it (up to
// the configured number of times, until it expires) even without publish
// permission. It does nothing without allow_responses or when the subject
// is publishable anyway. Safe for concurrent use; subject is copied.
func (c *Checker) AddReply(subject []byte) {
	r := c.replies
	if r == nil || len(subject) == 0 || c.perms.pub.publish(bytesToString(subject)) {
		return
	}
	r.mu.Lock()
	now := r.now()
	if r.m == nil {
		r.m = make(map[string]*reply)
		r.lastPrune = now
	}
	r.m[string(subject)] = &reply{at: now}
	r.since++
	if r.since > replyPruneCount || now.Sub(r.lastPrune) > replyPruneAfter {
		r.prune(now)
	}
	r.mu.Unlock()
}

// use consumes one response on subject if it is a live tracked reply. The
// entry is updated in place: subject may alias the caller's buffer and must
// never become a map key.
func (r *replies) use(subject string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[subject]
	if !ok {
		return false
	}
	e.n++
	switch {
	case r.max > 0 && e.n > r.max:
		delete(r.m, subject)
		return false
	case r.ttl > 0 && r.now().Sub(e.at) > r.ttl:
		delete(r.m, subject)
		return false
	}
	return true
}

// prune drops used-up and expired replies. Lock held.
func (r *replies) prune(now time.Time) {
	for k, e := range r.m {
		if (r.max > 0 && e.n >= r.max) || (r.ttl > 0 && now.Sub(e.at) > r.ttl) {
			delete(r.m, k)
		}
	}
	r.since = 0
	r.lastPrune = now
}

// trackedReplies returns how many replies are tracked (tests).
func (c *Checker) trackedReplies() int {
	if c.replies == nil {
		return 0
	}
	c.replies.mu.Lock()
	defer c.replies.mu.Unlock()
	return len(c.replies.m)
}
