package loop

import (
	"sync"
	"sync/atomic"

	"github.com/canopy-nats/canopy/sublist"
)

// account is one subject space: its own sublist, and the per-loop caches in
// front of it.
type account struct {
	name   string
	sl     *sublist.Sublist[*subscription]
	caches []*sublist.Cache[*subscription] // indexed by worker id; each used by its loop only

	nconns atomic.Int32

	mu sync.Mutex // guards what follows
}

// subscription is one interest: a client's SUB, or what a leaf link
// advertised with LS+.
type subscription struct {
	c       *client
	subject string
	queue   string
	sid     string

	// Shared: read by publishers on any loop.
	max    atomic.Int64 // deliver at most this many in total; 0 means no limit
	nm     atomic.Int64 // delivered so far, counted only while max is set
	weight atomic.Int32 // leaf queue interest: members behind the link
}

const l1CacheSize = 1024

func (s *Server) registerAccount(name string) *account {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[name]; ok {
		return a
	}
	a := &account{name: name, sl: sublist.New[*subscription]()}
	a.caches = make([]*sublist.Cache[*subscription], len(s.workers))
	for i := range a.caches {
		a.caches[i] = sublist.NewCache(a.sl, l1CacheSize)
	}
	s.accounts[name] = a
	return a
}

// lookupAccount finds a registered account.
func (s *Server) lookupAccount(name string) *account {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[name]
}
