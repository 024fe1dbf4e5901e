package sublist

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

const (
	numShards   = 16  // shared cache stripes; a power of two
	shardCap    = 256 // entries per stripe, so 4,096 per Sublist
	numBuckets  = 128 // epoch counters per prefix depth; a power of two
	defaultSize = 512 // Cache entries when NewCache is given no size
	cacheLine   = 64
)

// entry is one cached match. Its result never changes; the entry is live
// while it has not been marked dead and none of the three epochs it was
// computed under has moved. An entry that leaves its stripe's map for any
// reason is marked dead first, so an entry held elsewhere (by a Cache) can
// never outlive an invalidation that could not find it.
type entry[T comparable] struct {
	r    *Result[T] // &own, or the Sublist's shared empty result
	own  Result[T]
	dead atomic.Bool
	stamp
}

// stamp records the epochs that govern a subject and their values when its
// result was computed.
type stamp struct {
	epoch [3]*atomic.Uint64 // root, first-token and first-two-token epochs
	seen  [3]uint64
}

func (e *entry[T]) live() bool {
	return !e.dead.Load() &&
		e.epoch[0].Load() == e.seen[0] &&
		e.epoch[1].Load() == e.seen[1] &&
		e.epoch[2].Load() == e.seen[2]
}

// shard is one stripe of the shared cache. Its counters sit beside its lock
// because a hit already writes that cache line; the padding keeps stripes
// off each other's lines.
type shard[T comparable] struct {
	mu      sync.RWMutex
	m       map[string]*entry[T]
	door    atomic.Pointer[[shardCap]atomic.Uint32] // made when the stripe first fills
	matches atomic.Uint64
	misses  atomic.Uint64
	_       [cacheLine]byte
}

// admit reports whether a subject with hash h that missed may take a place
// in the full stripe, which it may on its second sighting: the first leaves
// its fingerprint in a direct-mapped table, the second finds it there.
// Without this, every subject published once (every reply subject, say)
// would allocate an entry and evict another, quite likely one in use. A
// fingerprint is overwritten by the next subject that hashes to its slot,
// so "recently" means within about shardCap misses of this stripe. Racing
// misses may both admit or both decline; either is harmless.
func (sh *shard[T]) admit(h uint64) bool {
	door := sh.door.Load()
	if door == nil {
		return true
	}
	// The low bits chose the stripe; use others for the slot and the
	// fingerprint, which is never 0 so that an empty slot matches nothing.
	slot := &door[(h>>16)&(shardCap-1)]
	fp := uint32(h>>32) | 1
	if slot.Load() == fp {
		slot.Store(0)
		return true
	}
	slot.Store(fp)
	return false
}

// shared is the lock-striped match cache of a Sublist, with the epochs that
// invalidate it when wildcard subscriptions change.
type shared[T comparable] struct {
	seed   maphash.Seed // read by every lookup; padded away from shard 0's lock
	_      [cacheLine]byte
	shards [numShards]shard[T]
	root   atomic.Uint64             // moved by wildcards with no literal first token
	first  [numBuckets]atomic.Uint64 // by hash of the literal first token
	second [numBuckets]atomic.Uint64 // by hash of the two literal first tokens
}

func (c *shared[T]) init() {
	c.seed = maphash.MakeSeed()
}

// stamp returns the epochs that govern subject and their values. The
// caller holds the tree lock, so the values agree with the tree the result
// is about to be computed from.
func (c *shared[T]) stamp(subject []byte) stamp {
	st := stamp{epoch: [3]*atomic.Uint64{&c.root, &c.root, &c.root}}
	if i := bytes.IndexByte(subject, sep); i >= 0 {
		st.epoch[1] = &c.first[maphash.Bytes(c.seed, subject[:i])&(numBuckets-1)]
		if j := bytes.IndexByte(subject[i+1:], sep); j >= 0 {
			st.epoch[2] = &c.second[maphash.Bytes(c.seed, subject[:i+1+j])&(numBuckets-1)]
		}
	}
	for k, p := range st.epoch {
		st.seen[k] = p.Load()
	}
	return st
}

// forget drops the cached result of a literal subject. A literal
// subscription is reached by exactly one published subject, itself, so
// nothing else is touched. The caller holds the tree's write lock.
func (c *shared[T]) forget(subject string) {
	sh := &c.shards[maphash.String(c.seed, subject)&(numShards-1)]
	sh.mu.Lock()
	if e := sh.m[subject]; e != nil {
		e.dead.Store(true)
		delete(sh.m, subject)
	}
	sh.mu.Unlock()
}

// bump invalidates every cached result that a wildcard subscription with k
// leading literal tokens, spelled prefix, can reach. The caller holds the
// tree's write lock.
func (c *shared[T]) bump(k int, prefix string) {
	switch k {
	case 0:
		c.root.Add(1)
	case 1:
		c.first[maphash.String(c.seed, prefix)&(numBuckets-1)].Add(1)
	default:
		c.second[maphash.String(c.seed, prefix)&(numBuckets-1)].Add(1)
	}
}

// lookup returns the live cache entry for subject, computing and storing it
// on a miss, and whether it was a hit. It allocates nothing on a hit.
func (s *Sublist[T]) lookup(subject []byte) (*entry[T], bool) {
	h := maphash.Bytes(s.cache.seed, subject)
	sh := &s.cache.shards[h&(numShards-1)]
	sh.matches.Add(1)
	sh.mu.RLock()
	e := sh.m[string(subject)]
	full := len(sh.m) >= shardCap
	sh.mu.RUnlock()
	if e != nil && e.live() {
		return e, true
	}
	sh.misses.Add(1)
	if e == nil && full && !sh.admit(h) {
		return s.compute(subject), false
	}
	return s.fill(sh, subject), false
}

// compute returns a dead entry for subject, for a result that is not to be
// stored: dead because nothing could find it to invalidate it, which makes
// it good only until the generation moves.
func (s *Sublist[T]) compute(subject []byte) *entry[T] {
	var r Result[T]
	var nodeBuf [maxStack / 2]*node[T]
	s.mu.RLock()
	found := build(s.match(subject, nodeBuf[:0]), &r)
	s.mu.RUnlock()
	if !found {
		return &s.none
	}
	e := &entry[T]{own: r, stamp: s.none.stamp}
	e.r = &e.own
	e.dead.Store(true)
	return e
}

// fill computes the entry for subject and stores it in sh. It holds the
// tree's read lock from before the epochs are read until the entry is in
// the map, so no Insert or Remove can fall between computing and storing:
// a change either comes before (and is in the result) or after (and finds
// the entry to invalidate).
func (s *Sublist[T]) fill(sh *shard[T], subject []byte) *entry[T] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := &entry[T]{r: &s.empty, stamp: s.cache.stamp(subject)}
	var nodeBuf [maxStack / 2]*node[T]
	if build(s.match(subject, nodeBuf[:0]), &e.own) {
		e.r = &e.own
	}

	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old := sh.m[string(subject)]; old != nil {
		if old.live() {
			// Another goroutine filled it meanwhile; its result equals ours.
			return old
		}
		// It is not live, and never will be again (dead is sticky, epochs
		// only grow); marking it anyway keeps the rule without exception:
		// whatever leaves the map is dead.
		old.dead.Store(true)
	} else if len(sh.m) >= shardCap {
		// Evict whichever entry the map yields first. Go starts map
		// iteration at a random position, so this is a cheap random
		// eviction, which is what nats-server's sweep amounts to as well.
		for k, victim := range sh.m {
			victim.dead.Store(true)
			delete(sh.m, k)
			break
		}
	} else if len(sh.m) == shardCap-1 && sh.door.Load() == nil {
		// This entry fills the stripe: from now on it admits by sighting.
		sh.door.Store(new([shardCap]atomic.Uint32))
	}
	if sh.m == nil {
		sh.m = make(map[string]*entry[T])
	}
	sh.m[string(subject)] = e
	return e
}

// Cache is a small match cache for one goroutine, typically one event loop,
// in front of a Sublist's shared cache. It takes no locks and is not safe
// for concurrent use. A hit costs a map lookup and one atomic load of the
// Sublist's generation; when the generation has moved since the entry was
// last checked, a few more atomic loads tell whether the change concerned
// this subject. A Match that starts after an Insert or Remove returned
// always reflects it.
//
// A subject takes a place in the Cache only once the shared cache already
// held it, that is from its second publication on. Subjects published once
// (reply subjects, mostly) would otherwise cost every Cache a key copy and
// an eviction for nothing.
type Cache[T comparable] struct {
	s    *Sublist[T]
	m    map[string]*slot[T]
	size int
	// last is the slot the previous Match used. A publisher nearly always
	// sends runs of one subject, and comparing it with the last one's key
	// is cheaper than hashing it for the map.
	last *slot[T]
}

// slot is a cached entry, the generation at which it was last known to be
// live, and its key in the map.
type slot[T comparable] struct {
	e   *entry[T]
	gen uint64
	key string
}

// NewCache returns a Cache of up to size subjects (512 if size <= 0) in
// front of s.
func NewCache[T comparable](s *Sublist[T], size int) *Cache[T] {
	if size <= 0 {
		size = defaultSize
	}
	return &Cache[T]{s: s, m: make(map[string]*slot[T]), size: size}
}

// Match is Sublist.Match through the cache: same result, same rules for
// using it. It does not allocate on a hit.
func (c *Cache[T]) Match(subject []byte) *Result[T] {
	// The generation is read before anything else. Changes bump it after
	// invalidating, so if an entry is live now, every change up to g has
	// left it alone, and g can be recorded as a generation it is good for.
	g := c.s.gen.Load()
	sl := c.last
	if sl == nil || sl.key != string(subject) {
		sl = c.m[string(subject)]
	}
	if sl != nil {
		c.last = sl
		if sl.gen != g {
			if !sl.e.live() {
				sl.e, _ = c.s.lookup(subject)
			}
			sl.gen = g
		}
		return sl.e.r
	}
	e, hit := c.s.lookup(subject)
	if !hit {
		return e.r
	}
	if len(c.m) >= c.size {
		for k, victim := range c.m {
			delete(c.m, k)
			sl = victim
			break
		}
	} else {
		sl = new(slot[T])
	}
	sl.e, sl.gen, sl.key = e, g, string(subject)
	c.m[sl.key] = sl
	c.last = sl
	return sl.e.r
}
