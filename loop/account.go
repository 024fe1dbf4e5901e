package loop

import (
	"sync"
	"sync/atomic"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/leaf"
	"github.com/canopy-nats/canopy/sublist"
)

// account is one subject space: its own sublist, and the per-loop caches in
// front of it.
type account struct {
	name   string
	info   *auth.AccountInfo // nil for accounts the authorization layer does not know
	sl     *sublist.Sublist[*subscription]
	caches []*sublist.Cache[*subscription] // indexed by worker id; each used by its loop only
	stats  []*accLoopStats                 // indexed by worker id; each written by its loop only (accstats.go)
	slow   atomic.Int64                    // connections of the account closed as slow consumers

	nconns       atomic.Int32
	internalSids atomic.Int64 // the last sid of an internal subscription

	mu       sync.Mutex // guards what follows
	leafs    []*client  // leaf links bound to the account, after their handshake
	internal *client    // owner of the account's internal subscriptions (internal.go)
	lds      string     // this server's loop-detection subject in the account
}

// subscription is one interest: a client's SUB, or what a leaf link
// advertised with LS+.
type subscription struct {
	c       *client
	subject string
	queue   string
	sid     string

	// icb is set on an internal subscription: the message goes to this
	// function instead of a connection (internal.go).
	icb icb

	// filter is set when a subscribe deny entry overlaps this wildcard or
	// queue subscription: each delivery is then checked against it.
	filter *auth.Permissions

	// Shared: read by publishers on any loop.
	max atomic.Int64 // deliver at most this many in total; 0 means no limit
	nm  atomic.Int64 // publishers' count towards max, kept only while max is set
	// seen counts deliveries as the owner's loop writes them: the figure
	// for UNSUB's max and for /subsz. Only that loop adds to it, so the
	// count costs no cache line shared between cores.
	seen   atomic.Int64
	weight atomic.Int32 // leaf queue interest: members behind the link
	// sysReq marks the system account's request handlers: internal, and
	// not listeners to its events (sysState.listened). Set before the
	// subscription is inserted, never after.
	sysReq bool
}

const l1CacheSize = 1024

// addSub inserts a subscription and tells the account's leaf links. Both
// happen under the account lock, so a link that registers concurrently
// sees the subscription exactly once: in its snapshot or as an update.
func (a *account) addSub(w *worker, sub *subscription) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.sl.Insert(sub.subject, sub.queue, sub); err != nil {
		return err
	}
	if len(a.leafs) > 0 {
		a.propagate(w, sub, sub.interest())
	}
	return nil
}

// removeSub removes a subscription and withdraws it from the leaf links.
func (a *account) removeSub(w *worker, sub *subscription) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sl.Remove(sub.subject, sub.queue, sub) == nil && len(a.leafs) > 0 {
		a.propagate(w, sub, -sub.interest())
	}
}

// interest is how much a subscription counts in an LS+ weight: one, or for
// a queue interest learned from a link, the weight the link announced.
func (s *subscription) interest() int32 {
	if w := s.weight.Load(); w > 0 {
		return w
	}
	return 1
}

func (s *Server) registerAccount(name string) *account {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[name]; ok {
		return a
	}
	a := &account{name: name, sl: sublist.New[*subscription](), lds: leaf.NewLDS()}
	a.caches = make([]*sublist.Cache[*subscription], len(s.workers))
	for i := range a.caches {
		a.caches[i] = sublist.NewCache(a.sl, l1CacheSize)
	}
	a.stats = make([]*accLoopStats, len(s.workers))
	for i := range a.stats {
		a.stats[i] = &accLoopStats{}
	}
	s.accounts[name] = a
	if s.sys != nil {
		s.sys.addAccount(a)
	}
	return a
}

// lookupAccount finds a registered account.
func (s *Server) lookupAccount(name string) *account {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[name]
}
