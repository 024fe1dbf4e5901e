package sublist

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Errors returned by Insert and Remove.
var (
	ErrInvalidSubject = errors.New("sublist: invalid subject")
	ErrNotFound       = errors.New("sublist: subscription not found")
)

// Sublist is the subject interest index of one account: subscriptions of
// type T by subject and optional queue group, and a shared match cache in
// front of them. All methods are safe for concurrent use; see the package
// documentation for what each one locks.
type Sublist[T comparable] struct {
	// Read by every Cache hit on every loop, so kept off the lines that
	// readers write (the locks): only Insert and Remove write here.
	gen   atomic.Uint64 // bumped after every change, last, under mu
	empty Result[T]     // returned, shared, whenever nothing matches
	none  entry[T]      // dead entry for an empty result left out of the cache
	_     [cacheLine]byte

	mu      sync.RWMutex // the tree lock: guards root, inserts, removes
	root    level[T]
	inserts uint64
	removes uint64
	count   atomic.Int64 // subscriptions held, readable without the lock
	_       [cacheLine]byte

	cache shared[T]
}

// New returns an empty Sublist.
func New[T comparable]() *Sublist[T] {
	s := &Sublist[T]{}
	s.cache.init()
	s.none.r = &s.empty
	s.none.dead.Store(true)
	// A Cache checks a dead entry's epochs only after the dead flag, but
	// give it real ones anyway rather than nil pointers.
	s.none.stamp = s.cache.stamp(nil)
	return s
}

// Insert adds the subscription v on subject, in queue group queue, or as a
// plain subscription if queue is "". It returns ErrInvalidSubject if subject
// is not a valid SUB subject. The queue name is not checked (use ValidQueue);
// the Sublist keeps both strings.
//
// A value is held at most once per subject and queue: inserting it again is
// a no-op that leaves Count and Gen unchanged.
func (s *Sublist[T]) Insert(subject, queue string, v T) error {
	if !ValidSubject(subject) {
		return ErrInvalidSubject
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.root.makePath(subject)
	var added bool
	if queue == "" {
		added = n.plain.add(v)
	} else {
		added = n.addQueue(queue, v)
	}
	if !added {
		return nil
	}
	s.inserts++
	s.count.Add(1)
	s.changed(subject)
	return nil
}

// Remove deletes the subscription v on subject in queue group queue ("" for
// plain). It returns ErrNotFound if there is no such subscription, which
// includes every invalid subject.
func (s *Sublist[T]) Remove(subject, queue string, v T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pathBuf [maxStack]step[T]
	path := s.root.findPath(subject, pathBuf[:0])
	if path == nil {
		return ErrNotFound
	}
	n := path[len(path)-1].n
	var removed bool
	if queue == "" {
		removed = n.plain.remove(v)
	} else {
		removed = n.removeQueue(queue, v)
	}
	if !removed {
		return ErrNotFound
	}
	s.removes++
	s.count.Add(-1)
	prune(path)
	s.changed(subject)
	return nil
}

// changed invalidates the cached results that a change of subject can
// affect, then bumps the generation. It runs under the write lock, and the
// generation must move last: Cache trusts an entry without looking at it as
// long as the generation has not moved, so every invalidation has to be
// visible by the time the new generation is.
func (s *Sublist[T]) changed(subject string) {
	if isLiteral(subject) {
		s.cache.forget(subject)
	} else {
		s.cache.bump(literalPrefix(subject))
	}
	s.gen.Add(1)
}

// Match returns the subscriptions that a message published to subject
// reaches. Every token of subject is taken literally, so "foo.*" reaches
// SUB foo.* and SUB foo.> but not SUB foo.bar; a subject with an empty token
// reaches nothing.
//
// The Result is shared with other callers and later matches; it must not
// be modified. It stays valid (it is ordinary garbage-collected memory),
// but reflects the index as it was during the call. Match never returns
// nil: when nothing matches it returns an empty Result. It does not
// allocate when the subject's result is cached.
func (s *Sublist[T]) Match(subject []byte) *Result[T] {
	e, _ := s.lookup(subject)
	return e.r
}

// Count returns the number of subscriptions held.
func (s *Sublist[T]) Count() int {
	return int(s.count.Load())
}

// Gen returns the generation, which changes whenever an Insert or Remove
// changes the index (not on a duplicate Insert or a failed Remove).
func (s *Sublist[T]) Gen() uint64 {
	return s.gen.Load()
}

// Range calls fn for every subscription, with its subject and queue name
// ("" for plain), until fn returns false. The order is unspecified.
//
// Range holds the tree's read lock throughout, so fn must not call any
// method of the same Sublist: Insert and Remove would deadlock, and so could
// a Match that misses the cache while a writer waits. Insert and Remove
// wait for Range to finish.
func (s *Sublist[T]) Range(fn func(subject, queue string, v T) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.root.walk(fn)
}

// Stats reports the figures of nats-server's /subsz for this Sublist, with
// the same meanings as its SublistStats fields.
type Stats struct {
	NumSubs      uint32  `json:"num_subscriptions"` // subscriptions held
	NumCache     uint32  `json:"num_cache"`         // valid entries in the shared match cache
	NumInserts   uint64  `json:"num_inserts"`       // successful inserts ever
	NumRemoves   uint64  `json:"num_removes"`       // successful removes ever
	NumMatches   uint64  `json:"num_matches"`       // calls that reached the shared cache
	CacheHitRate float64 `json:"cache_hit_rate"`    // fraction of those answered from it
	MaxFanout    uint32  `json:"max_fanout"`        // largest plain count + group count among cached results
	AvgFanout    float64 `json:"avg_fanout"`        // mean of that over cached results
}

// Stats returns current statistics. Matches answered by a Cache (the
// per-loop L1) are not counted, as nats-server does not count hits in its
// per-connection caches either. It visits every cache entry, so it is meant
// for monitoring, not for hot paths.
func (s *Sublist[T]) Stats() Stats {
	s.mu.RLock()
	st := Stats{
		NumSubs:    uint32(s.count.Load()),
		NumInserts: s.inserts,
		NumRemoves: s.removes,
	}
	s.mu.RUnlock()

	var hits uint64
	var entries, fanout int
	for i := range s.cache.shards {
		sh := &s.cache.shards[i]
		// Misses first: a Match counts itself before its miss, so the
		// matches read afterwards cover every miss read here.
		misses := sh.misses.Load()
		matches := sh.matches.Load()
		st.NumMatches += matches
		hits += matches - misses

		sh.mu.RLock()
		for _, e := range sh.m {
			if !e.live() {
				continue
			}
			f := len(e.r.Plain) + len(e.r.Groups)
			entries++
			fanout += f
			st.MaxFanout = max(st.MaxFanout, uint32(f))
		}
		sh.mu.RUnlock()
	}
	st.NumCache = uint32(entries)
	if st.NumMatches > 0 {
		st.CacheHitRate = float64(hits) / float64(st.NumMatches)
	}
	if entries > 0 {
		st.AvgFanout = float64(fanout) / float64(entries)
	}
	return st
}

// match appends the nodes that a published subject reaches. It holds no
// lock itself: the caller holds the tree lock.
func (s *Sublist[T]) match(subject []byte, out []*node[T]) []*node[T] {
	var tokBuf [maxStack][]byte
	toks := tokBuf[:0]
	start := 0
	for i := 0; i <= len(subject); i++ {
		if i < len(subject) && subject[i] != sep {
			continue
		}
		if i == start {
			return out // An empty token matches nothing.
		}
		toks = append(toks, subject[start:i])
		start = i + 1
	}
	return s.root.collect(toks, out)
}
