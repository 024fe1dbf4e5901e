package sublist

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestCacheSeesEveryChange runs each kind of change (literal, wildcard at
// each prefix depth, root wildcard, queue) past both caches.
func TestCacheSeesEveryChange(t *testing.T) {
	s := New[string]()
	c := NewCache(s, 0)
	steps := []struct {
		insert            bool
		subject, queue, v string
		pub               string
		want              []string
	}{
		{true, "a.b.c", "", "lit", "a.b.c", []string{"lit"}},
		{true, "a.b.*", "", "two", "a.b.c", []string{"lit", "two"}},
		{true, "a.>", "", "one", "a.b.c", []string{"lit", "two", "one"}},
		{true, "*.b.c", "", "root", "a.b.c", []string{"lit", "two", "one", "root"}},
		{true, "a.b.c", "q", "qm", "a.b.c", []string{"lit", "two", "one", "root", "q:qm"}},
		{false, "a.b.c", "", "lit", "a.b.c", []string{"two", "one", "root", "q:qm"}},
		{false, "a.b.*", "", "two", "a.b.c", []string{"one", "root", "q:qm"}},
		{false, "a.>", "", "one", "a.b.c", []string{"root", "q:qm"}},
		{false, "*.b.c", "", "root", "a.b.c", []string{"q:qm"}},
		{false, "a.b.c", "q", "qm", "a.b.c", nil},
		{true, "x", "", "short", "x", []string{"short"}},
		{true, "*", "", "star", "x", []string{"short", "star"}},
		{true, ">", "", "all", "x", []string{"short", "star", "all"}},
		{false, "x", "", "short", "x", []string{"star", "all"}},
	}
	for i, st := range steps {
		// Cache the old answer first, so each step really tests invalidation.
		s.Match([]byte(st.pub))
		c.Match([]byte(st.pub))
		if st.insert {
			mustInsert(t, s, st.subject, st.queue, st.v)
		} else {
			mustRemove(t, s, st.subject, st.queue, st.v)
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			expectMatch(t, s, c, st.pub, st.want...)
		})
	}
}

// TestInvalidationIsNarrow checks that changes leave alone the cached
// results they cannot affect, which is the point of the scheme.
func TestInvalidationIsNarrow(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "foo.bar", "", 1)
	mustInsert(t, s, "svc.orders.get", "", 2)
	entryOf := func(subject string) *entry[int] {
		e, _ := s.lookup([]byte(subject))
		return e
	}
	hot := entryOf("foo.bar")
	deep := entryOf("svc.orders.get")
	same := func(subject string, e *entry[int]) bool {
		return entryOf(subject) == e && e.live()
	}

	// Request/reply churn: a literal inbox per request touches nothing else.
	for i := range 100 {
		inbox := fmt.Sprintf("_INBOX.abc.%d", i)
		mustInsert(t, s, inbox, "", i)
		mustRemove(t, s, inbox, "", i)
	}
	if !same("foo.bar", hot) || !same("svc.orders.get", deep) {
		t.Fatal("literal inbox churn invalidated other subjects")
	}
	// A connection's wildcard inbox coming and going only touches subjects
	// of three or more tokens (whose first two hash to its bucket).
	for i := range 100 {
		mustInsert(t, s, "_INBOX.conn.*", "", i)
		mustRemove(t, s, "_INBOX.conn.*", "", i)
	}
	if !same("foo.bar", hot) {
		t.Fatal("wildcard inbox churn invalidated foo.bar")
	}
	// A two-token-prefix wildcard only touches subjects of three or more
	// tokens, so foo.bar is safe whatever the hashes.
	mustInsert(t, s, "foo.bar.*", "", 3)
	if !same("foo.bar", hot) {
		t.Fatal("foo.bar.* invalidated foo.bar")
	}
	// Another first token is a different bucket unless the hashes collide,
	// which the test cannot rule out for one pair; over many prefixes,
	// nearly all must leave foo.bar alone.
	spared := 0
	for i := range 64 {
		mustInsert(t, s, fmt.Sprintf("p%d.>", i), "", 4)
		if same("foo.bar", hot) {
			spared++
		}
		hot = entryOf("foo.bar")
	}
	if spared < 48 {
		t.Fatalf("only %d of 64 unrelated wildcards left foo.bar cached", spared)
	}

	// Changes that can reach the subject do invalidate it.
	hot = entryOf("foo.bar")
	mustInsert(t, s, "foo.*", "", 5)
	if same("foo.bar", hot) {
		t.Fatal("foo.* did not invalidate foo.bar")
	}
	deep = entryOf("svc.orders.get")
	mustInsert(t, s, "svc.orders.*", "", 6)
	if same("svc.orders.get", deep) {
		t.Fatal("svc.orders.* did not invalidate svc.orders.get")
	}
	hot = entryOf("foo.bar")
	deep = entryOf("svc.orders.get")
	mustInsert(t, s, "*.nothing", "", 7)
	if same("foo.bar", hot) || same("svc.orders.get", deep) {
		t.Fatal("a wildcard first token did not invalidate everything")
	}
}

// TestCacheHitsSurviveChurn shows the effect through Stats: under literal
// churn, the shared cache keeps answering and the Cache does not even ask.
func TestCacheHitsSurviveChurn(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "hot", "", 1)
	c := NewCache(s, 0)
	s.Match([]byte("hot"))
	c.Match([]byte("hot")) // admitted: the shared cache had it
	before := s.Stats()
	for i := range 50 {
		inbox := fmt.Sprintf("_INBOX.%d", i)
		mustInsert(t, s, inbox, "", i)
		if r := c.Match([]byte("hot")); len(r.Plain) != 1 {
			t.Fatalf("Cache.Match(hot) = %+v", r)
		}
		s.Match([]byte("hot"))
		mustRemove(t, s, inbox, "", i)
	}
	after := s.Stats()
	if got := after.NumMatches - before.NumMatches; got != 50 {
		t.Fatalf("%d shared matches during churn, want 50 (the Cache should not have asked)", got)
	}
	if after.CacheHitRate <= before.CacheHitRate {
		t.Fatalf("hit rate fell from %v to %v under unrelated churn", before.CacheHitRate, after.CacheHitRate)
	}
}

// TestEvictedEntryIsDead covers the entry that a Cache still holds after the
// shared cache evicted it: a later change cannot find it to invalidate, so
// eviction itself must kill it.
func TestEvictedEntryIsDead(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "foo", "", 1)
	c := NewCache(s, 0)
	for range 2 { // the second time, the Cache keeps it
		if r := c.Match([]byte("foo")); len(r.Plain) != 1 {
			t.Fatalf("Cache.Match(foo) = %+v", r)
		}
	}
	e := c.m["foo"].e
	for i := 0; !e.dead.Load(); i++ {
		// Twice each: a full stripe admits a subject on its second sighting.
		s.Match(fmt.Appendf(nil, "flood.%d", i))
		s.Match(fmt.Appendf(nil, "flood.%d", i))
		if i > 100*numShards*shardCap {
			t.Fatal("the shared cache never evicted foo")
		}
	}
	if n := s.Stats().NumCache; n > numShards*shardCap {
		t.Fatalf("shared cache holds %d entries, bound is %d", n, numShards*shardCap)
	}
	mustInsert(t, s, "foo", "", 2)
	if r := c.Match([]byte("foo")); len(r.Plain) != 2 {
		t.Fatalf("Cache.Match(foo) after eviction and insert = %v, want two values", r.Plain)
	}
}

// TestCacheAdmission checks that a Cache keeps only subjects that the
// shared cache already held.
func TestCacheAdmission(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, ">", "", 1)
	c := NewCache(s, 0)
	for i := range 100 {
		c.Match(fmt.Appendf(nil, "reply.%d", i))
	}
	if len(c.m) != 0 {
		t.Fatalf("Cache kept %d subjects published once", len(c.m))
	}
	c.Match([]byte("reply.7"))
	if _, ok := c.m["reply.7"]; !ok || len(c.m) != 1 {
		t.Fatalf("Cache did not keep a subject published twice: %d kept", len(c.m))
	}
}

// fillSharedCache fills every stripe of s's shared cache with subjects
// published twice.
func fillSharedCache(s *Sublist[int]) {
	for i := 0; ; i++ {
		full := true
		for j := range s.cache.shards {
			full = full && len(s.cache.shards[j].m) >= shardCap
		}
		if full {
			return
		}
		subj := fmt.Appendf(nil, "resident.%d", i)
		s.Match(subj)
		s.Match(subj)
	}
}

// TestFullCacheAdmission checks that once the shared cache is full, subjects
// published once neither take a place nor evict anyone, while a subject
// published twice does, and that results are right either way.
func TestFullCacheAdmission(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "resident.*", "", 1)
	mustInsert(t, s, "reply.>", "", 2)
	fillSharedCache(s)
	residents := map[string]*entry[int]{}
	for i := range s.cache.shards {
		for k, e := range s.cache.shards[i].m {
			residents[k] = e
		}
	}
	for i := range 5 * numShards * shardCap {
		subj := fmt.Appendf(nil, "reply.%d", i)
		if r := s.Match(subj); len(r.Plain) != 1 || r.Plain[0] != 2 {
			t.Fatalf("Match(%s) = %+v", subj, r)
		}
		if r := s.Match(fmt.Appendf(nil, "nobody.%d", i)); r != &s.empty {
			t.Fatalf("Match(nobody.%d) = %+v", i, r)
		}
	}
	for k, e := range residents {
		if !e.live() {
			t.Fatalf("resident %s was evicted by subjects published once", k)
		}
	}
	s.Match([]byte("reply.again"))
	if _, ok := s.cache.shards[0].m["reply.again"]; ok {
		t.Fatal("first sighting took a place")
	}
	e, _ := s.lookup([]byte("reply.again"))
	if !e.live() {
		t.Fatal("second sighting was not admitted")
	}
	// A subject left out of the cache is still served correctly through a
	// Cache, including after a change.
	c := NewCache(s, 0)
	expect := func(subject string, want ...int) {
		t.Helper()
		for range 3 {
			got := slices.Sorted(slices.Values(c.Match([]byte(subject)).Plain))
			if !slices.Equal(got, want) {
				t.Fatalf("Cache.Match(%s) = %v, want %v", subject, got, want)
			}
		}
	}
	expect("reply.x1", 2)
	mustInsert(t, s, "reply.x1", "", 3)
	expect("reply.x1", 2, 3)
	mustRemove(t, s, "reply.>", "", 2)
	expect("reply.x1", 3)
}

// TestCacheRefreshFromFullCache covers a Cache slot refreshed with an entry
// that a full stripe declined to store. Nothing can find that entry to
// invalidate it, so it must come back dead, and the Cache must drop it at
// the next change.
func TestCacheRefreshFromFullCache(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "resident.*", "", 1)
	mustInsert(t, s, "x", "", 2)
	c := NewCache(s, 0)
	fillSharedCache(s)
	expect := func(want ...int) {
		t.Helper()
		got := slices.Sorted(slices.Values(c.Match([]byte("x")).Plain))
		if !slices.Equal(got, want) {
			t.Fatalf("Cache.Match(x) = %v, want %v", got, want)
		}
	}
	// Into the shared cache (second sighting) and into the Cache.
	s.Match([]byte("x"))
	s.Match([]byte("x"))
	expect(2)
	if _, ok := c.m["x"]; !ok {
		t.Fatal("the Cache did not keep x")
	}
	// Invalidate x, refill its stripe, and let the Cache refresh its slot
	// from a stripe that will not store x this time.
	mustInsert(t, s, "x", "", 3)
	fillSharedCache(s)
	expect(2, 3)
	if c.m["x"].e.live() {
		t.Fatal("the refreshed slot holds a live entry that is not in the shared cache")
	}
	mustRemove(t, s, "x", "", 3)
	expect(2)
}

func TestCacheBounded(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "s.*", "", 7)
	c := NewCache(s, 4)
	for round := range 3 {
		for i := range 10 {
			r := c.Match(fmt.Appendf(nil, "s.%d", i))
			if !slices.Equal(r.Plain, []int{7}) {
				t.Fatalf("round %d: Match(s.%d) = %v", round, i, r.Plain)
			}
			if len(c.m) > 4 {
				t.Fatalf("Cache holds %d subjects, bound is 4", len(c.m))
			}
		}
	}
	if c := NewCache(s, 0); c.size != defaultSize {
		t.Fatalf("default size %d, want %d", c.size, defaultSize)
	}
}

// TestConcurrentMatchInsertRemove races Match (shared and through Caches)
// against Insert and Remove, and checks every result against what was
// certainly true during the call. Each subscription has a counter that its
// writer makes odd before changing it and even after; a reader reads the
// counters before and after its Match, and where a counter is even and
// unchanged, the result must show that subscription exactly as its counter
// says. Run it with -race.
func TestConcurrentMatchInsertRemove(t *testing.T) {
	type sub struct{ subject, queue string }
	subs := []sub{
		{"foo.bar", ""}, {"foo.bar", "q"}, {"foo.baz", ""}, {"a.b.c", ""},
		{"foo.*", ""}, {"foo.*", "q"}, {"foo.>", ""}, {"*.bar", ""},
		{"a.b.*", ""}, {"a.*.c", "r"}, {"a.>", ""}, {">", ""},
	}
	fixed := []string{"foo.bar", "foo.baz", "a.b.c", "x.bar", "foo.bar.baz", "zzz", "a.b"}

	iterations, readers := 3000, 4
	if testing.Short() {
		iterations = 500
	}
	s := New[int]()
	counters := make([]atomic.Uint64, len(subs))
	var done atomic.Bool
	var wg sync.WaitGroup

	const writers = 2
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Add(1)
		go func() {
			defer writersWG.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for range iterations {
				j := w + writers*rng.IntN(len(subs)/writers)
				present := counters[j].Load()/2%2 == 1
				counters[j].Add(1)
				var err error
				if present {
					err = s.Remove(subs[j].subject, subs[j].queue, j)
				} else {
					err = s.Insert(subs[j].subject, subs[j].queue, j)
				}
				counters[j].Add(1)
				if err != nil {
					t.Errorf("writer %d: sub %d: %v", w, j, err)
					return
				}
			}
		}()
	}

	contains := func(r *Result[int], j int) bool {
		if subs[j].queue == "" {
			return slices.Contains(r.Plain, j)
		}
		for _, g := range r.Groups {
			if g.Name == subs[j].queue && slices.Contains(g.Members, j) {
				return true
			}
		}
		return false
	}
	var checked atomic.Int64
	for rd := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(rd), 7))
			var c *Cache[int]
			if rd%2 == 0 {
				c = NewCache(s, 4) // small, so it evicts too
			}
			before := make([]uint64, len(subs))
			for n := 0; !done.Load() || n < 1000; n++ {
				subject := fixed[rng.IntN(len(fixed))]
				if rng.IntN(4) == 0 {
					// Enough distinct subjects to make the shared cache evict.
					subject = fmt.Sprintf("foo.bar.%d", rng.IntN(2*numShards*shardCap))
				}
				for j := range subs {
					before[j] = counters[j].Load()
				}
				var r *Result[int]
				if c != nil {
					r = c.Match([]byte(subject))
				} else {
					r = s.Match([]byte(subject))
				}
				for j := range subs {
					b := before[j]
					if b%2 != 0 || counters[j].Load() != b {
						continue // changed during the call: either answer is right
					}
					want := b/2%2 == 1 && Matches(subs[j].subject, subject)
					if got := contains(r, j); got != want {
						t.Errorf("reader %d: Match(%q): sub %d %v present=%v, want %v",
							rd, subject, j, subs[j], got, want)
						return
					}
					checked.Add(1)
				}
			}
		}()
	}
	writersWG.Wait()
	done.Store(true)
	wg.Wait()
	if checked.Load() == 0 {
		t.Fatal("no result was checked")
	}
	if n := s.Stats().NumCache; n > numShards*shardCap {
		t.Fatalf("shared cache holds %d entries, bound is %d", n, numShards*shardCap)
	}
	// Quiescent now: everything must agree with the counters.
	c := NewCache(s, 0)
	for _, subject := range fixed {
		r1, r2 := s.Match([]byte(subject)), c.Match([]byte(subject))
		for j := range subs {
			want := counters[j].Load()/2%2 == 1 && Matches(subs[j].subject, subject)
			if contains(r1, j) != want || contains(r2, j) != want {
				t.Fatalf("after the race: Match(%q) sub %d: shared %v, cache %v, want %v",
					subject, j, contains(r1, j), contains(r2, j), want)
			}
		}
	}
}
