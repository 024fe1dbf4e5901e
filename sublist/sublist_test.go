package sublist

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server/gsl"
)

// describe flattens a Result for comparison: plain values, then each group
// as "name:member", sorted.
func describe(r *Result[string]) []string {
	out := slices.Clone(r.Plain)
	for _, g := range r.Groups {
		for _, m := range g.Members {
			out = append(out, g.Name+":"+m)
		}
	}
	slices.Sort(out)
	return out
}

func mustInsert[T comparable](t testing.TB, s *Sublist[T], subject, queue string, v T) {
	t.Helper()
	if err := s.Insert(subject, queue, v); err != nil {
		t.Fatalf("Insert(%q, %q, %v) = %v", subject, queue, v, err)
	}
}

func mustRemove[T comparable](t testing.TB, s *Sublist[T], subject, queue string, v T) {
	t.Helper()
	if err := s.Remove(subject, queue, v); err != nil {
		t.Fatalf("Remove(%q, %q, %v) = %v", subject, queue, v, err)
	}
}

// expectMatch checks Match through the shared cache and through c (if not
// nil) against want, given as a sorted or unsorted list.
func expectMatch(t *testing.T, s *Sublist[string], c *Cache[string], subject string, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	if got := describe(s.Match([]byte(subject))); !slices.Equal(got, want) {
		t.Errorf("Match(%q) = %q, want %q", subject, got, want)
	}
	if c != nil {
		if got := describe(c.Match([]byte(subject))); !slices.Equal(got, want) {
			t.Errorf("Cache.Match(%q) = %q, want %q", subject, got, want)
		}
	}
}

func TestMatchWildcardSemantics(t *testing.T) {
	s := New[string]()
	// Each subscription's value is its own subject, so results read plainly.
	for _, subj := range []string{
		"foo", "foo.bar", "foo.*", "foo.>", "*.bar", ">", "foo.*.baz",
		"foo.bar.baz", "foo*", "a>b", "*", "*.*.>",
	} {
		mustInsert(t, s, subj, "", subj)
	}
	tests := []struct {
		subject string
		want    []string
	}{
		{"foo", []string{"foo", ">", "*"}},
		{"bar", []string{">", "*"}},
		{"foo.bar", []string{"foo.bar", "foo.*", "foo.>", "*.bar", ">"}},
		{"foo.baz", []string{"foo.*", "foo.>", ">"}},
		{"foo.bar.baz", []string{"foo.>", "foo.*.baz", "foo.bar.baz", ">", "*.*.>"}},
		{"foo.x.baz", []string{"foo.>", "foo.*.baz", ">", "*.*.>"}},
		{"foo.bar.baz.qux", []string{"foo.>", ">", "*.*.>"}},
		// '*' and '>' inside a token are ordinary characters.
		{"foo*", []string{"foo*", ">", "*"}},
		{"foox", []string{">", "*"}},
		{"a>b", []string{"a>b", ">", "*"}},
		{"axb", []string{">", "*"}},
		// A published subject's wildcard tokens are matched literally: they
		// reach wildcard subscriptions only.
		{"foo.*", []string{"foo.*", "foo.>", ">"}},
		{"foo.>", []string{"foo.*", "foo.>", ">"}},
		{"*.bar", []string{"*.bar", ">"}},
		{"*", []string{">", "*"}},
		{">", []string{">", "*"}},
		{"foo.*.baz", []string{"foo.>", "foo.*.baz", ">", "*.*.>"}},
		// Subjects with an empty token reach nothing, not even ">".
		{"", nil},
		{".", nil},
		{"foo.", nil},
		{".foo", nil},
		{"foo..bar", nil},
	}
	c := NewCache(s, 0)
	for round := range 2 { // the second round is served from the caches
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%d/%s", round, tc.subject), func(t *testing.T) {
				expectMatch(t, s, c, tc.subject, tc.want...)
			})
		}
	}
}

func TestMatchNeverNil(t *testing.T) {
	s := New[int]()
	c := NewCache(s, 4)
	for _, subj := range []string{"foo", "", "foo..bar", "a.b.c"} {
		r1, r2 := s.Match([]byte(subj)), c.Match([]byte(subj))
		if r1 == nil || r2 == nil {
			t.Fatalf("Match(%q) returned nil", subj)
		}
		if len(r1.Plain) != 0 || len(r1.Groups) != 0 || r1 != r2 {
			t.Fatalf("Match(%q) on an empty Sublist = %+v, %+v; want the shared empty Result", subj, r1, r2)
		}
	}
	mustInsert(t, s, "foo", "", 1)
	mustRemove(t, s, "foo", "", 1)
	if r := s.Match([]byte("foo")); r != &s.empty {
		t.Fatalf("Match after removing the only subscription = %+v, want the shared empty Result", r)
	}
}

func TestQueueGroups(t *testing.T) {
	s := New[string]()
	c := NewCache(s, 0)
	mustInsert(t, s, "foo.bar", "", "p1")
	mustInsert(t, s, "foo.bar", "q1", "a")
	mustInsert(t, s, "foo.bar", "q1", "b")
	mustInsert(t, s, "foo.*", "q1", "c")    // same group name on another subject
	mustInsert(t, s, "foo.>", "q2", "d")    // another group
	mustInsert(t, s, "foo.bar", "q.3", "e") // dots are fine in queue names
	mustInsert(t, s, "foo.bar", "q1", "p1") // the same value as a plain sub elsewhere

	r := s.Match([]byte("foo.bar"))
	if !slices.Equal(r.Plain, []string{"p1"}) {
		t.Fatalf("Plain = %q, want [p1]", r.Plain)
	}
	groups := map[string][]string{}
	for _, g := range r.Groups {
		if _, dup := groups[g.Name]; dup {
			t.Fatalf("group %q appears twice in %+v", g.Name, r.Groups)
		}
		groups[g.Name] = slices.Sorted(slices.Values(g.Members))
	}
	want := map[string][]string{"q1": {"a", "b", "c", "p1"}, "q2": {"d"}, "q.3": {"e"}}
	if len(groups) != len(want) {
		t.Fatalf("groups = %v, want %v", groups, want)
	}
	for name, members := range want {
		if !slices.Equal(groups[name], members) {
			t.Fatalf("group %q = %q, want %q", name, groups[name], members)
		}
	}
	// Slices are capped at their length, so a careless append by a reader
	// cannot overwrite a neighbour in the shared backing array.
	if cap(r.Plain) != len(r.Plain) {
		t.Errorf("cap(Plain) = %d, want %d", cap(r.Plain), len(r.Plain))
	}
	for _, g := range r.Groups {
		if cap(g.Members) != len(g.Members) {
			t.Errorf("cap(group %q) = %d, want %d", g.Name, cap(g.Members), len(g.Members))
		}
	}

	expectMatch(t, s, c, "foo.baz", "q1:c", "q2:d")
	expectMatch(t, s, c, "foo.bar.baz", "q2:d")

	// Removing the last member removes the group.
	mustRemove(t, s, "foo.>", "q2", "d")
	expectMatch(t, s, c, "foo.bar", "p1", "q1:a", "q1:b", "q1:c", "q1:p1", "q.3:e")
	for _, g := range s.Match([]byte("foo.bar")).Groups {
		if g.Name == "q2" {
			t.Fatalf("empty group q2 still in the result")
		}
	}
	// Plain and queue subscriptions of the same value are distinct.
	if err := s.Remove("foo.bar", "q1", "c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove of c from q1 on the wrong subject = %v, want ErrNotFound", err)
	}
	if err := s.Remove("foo.bar", "q9", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove from an unknown group = %v, want ErrNotFound", err)
	}
	mustRemove(t, s, "foo.bar", "", "p1")
	expectMatch(t, s, c, "foo.bar", "q1:a", "q1:b", "q1:c", "q1:p1", "q.3:e")
}

func TestInsertRemove(t *testing.T) {
	s := New[string]()
	c := NewCache(s, 0)
	mustInsert(t, s, "a.b.c", "", "x")
	mustInsert(t, s, "a.b", "", "y")
	mustInsert(t, s, "a.*.c", "", "z")
	expectMatch(t, s, c, "a.b.c", "x", "z")
	if s.Count() != 3 {
		t.Fatalf("Count = %d, want 3", s.Count())
	}

	// Removing the deep subscription must keep the shallower one.
	mustRemove(t, s, "a.b.c", "", "x")
	expectMatch(t, s, c, "a.b.c", "z")
	expectMatch(t, s, c, "a.b", "y")
	mustRemove(t, s, "a.b", "", "y")
	expectMatch(t, s, c, "a.b")
	mustRemove(t, s, "a.*.c", "", "z")
	expectMatch(t, s, c, "a.b.c")
	if s.Count() != 0 {
		t.Fatalf("Count = %d, want 0", s.Count())
	}
	if !s.root.empty() {
		t.Fatalf("tree not pruned after removing everything: %+v", s.root)
	}

	for _, tc := range []struct{ subject, queue, v string }{
		{"a.b.c", "", "x"}, // already removed
		{"nope", "", "x"},  // never there
		{"a", "", "x"},     // a path prefix of nothing
		{"", "", "x"},      // invalid subjects are simply not found
		{"a..b", "", "x"},
		{"a.>.b", "", "x"},
	} {
		if err := s.Remove(tc.subject, tc.queue, tc.v); !errors.Is(err, ErrNotFound) {
			t.Errorf("Remove(%q) = %v, want ErrNotFound", tc.subject, err)
		}
	}
}

func TestInsertInvalid(t *testing.T) {
	s := New[int]()
	for _, subj := range []string{
		"", ".", "foo.", ".foo", "foo..bar", "foo.>.bar", ">.foo",
		"foo bar", "foo\tbar", "foo\r", "foo\n", "\ffoo",
	} {
		if err := s.Insert(subj, "", 1); !errors.Is(err, ErrInvalidSubject) {
			t.Errorf("Insert(%q) = %v, want ErrInvalidSubject", subj, err)
		}
	}
	if s.Count() != 0 || s.Gen() != 0 || !s.root.empty() {
		t.Fatalf("failed inserts changed the Sublist: count %d, gen %d", s.Count(), s.Gen())
	}
}

func TestDuplicateInsert(t *testing.T) {
	s := New[string]()
	mustInsert(t, s, "foo", "", "v")
	gen := s.Gen()
	mustInsert(t, s, "foo", "", "v")
	if s.Count() != 1 || s.Gen() != gen {
		t.Fatalf("duplicate insert: count %d gen %d, want 1 and %d", s.Count(), s.Gen(), gen)
	}
	expectMatch(t, s, nil, "foo", "v")

	// The same value in a queue group, or on another subject, is another
	// subscription.
	mustInsert(t, s, "foo", "q", "v")
	mustInsert(t, s, "foo", "q", "v")
	mustInsert(t, s, "*", "", "v")
	if s.Count() != 3 {
		t.Fatalf("Count = %d, want 3", s.Count())
	}
	// A value subscribed on two matching subjects appears once per
	// subscription.
	expectMatch(t, s, nil, "foo", "v", "v", "q:v")

	mustRemove(t, s, "foo", "", "v")
	if err := s.Remove("foo", "", "v"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove = %v, want ErrNotFound", err)
	}
	expectMatch(t, s, nil, "foo", "v", "q:v")
}

func TestGen(t *testing.T) {
	s := New[int]()
	g := s.Gen()
	mustInsert(t, s, "foo", "", 1)
	if s.Gen() == g {
		t.Fatal("Insert did not change Gen")
	}
	g = s.Gen()
	s.Match([]byte("foo"))
	if s.Gen() != g {
		t.Fatal("Match changed Gen")
	}
	if err := s.Remove("foo", "", 2); err == nil || s.Gen() != g {
		t.Fatalf("failed Remove: err %v, Gen changed %v", err, s.Gen() != g)
	}
	mustRemove(t, s, "foo", "", 1)
	if s.Gen() == g {
		t.Fatal("Remove did not change Gen")
	}
}

// TestLargeSets exercises the index maps that sets and queue lists build
// once they outgrow a linear scan, and removal in random order.
func TestLargeSets(t *testing.T) {
	s := New[int]()
	const n = 200
	for i := range n {
		mustInsert(t, s, "big", "", i)
		mustInsert(t, s, "big", "q", i)
		mustInsert(t, s, "big", fmt.Sprintf("g%d", i%40), i)
		mustInsert(t, s, "*", fmt.Sprintf("g%d", i%50), i) // merges with the groups above
	}
	check := func(present map[int]bool) {
		t.Helper()
		r := s.Match([]byte("big"))
		got := slices.Sorted(slices.Values(r.Plain))
		var want []int
		for i := range n {
			if present[i] {
				want = append(want, i)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Plain = %v, want %v", got, want)
		}
		seen := map[string]int{}
		for _, g := range r.Groups {
			if _, dup := seen[g.Name]; dup {
				t.Fatalf("group %q twice", g.Name)
			}
			seen[g.Name] = len(g.Members)
		}
		if seen["q"] != len(want) {
			t.Fatalf("group q has %d members, want %d", seen["q"], len(want))
		}
	}
	all := map[int]bool{}
	for i := range n {
		all[i] = true
	}
	check(all)
	r := s.Match([]byte("big"))
	if len(r.Groups) != 1+50 {
		t.Fatalf("%d groups, want 51", len(r.Groups))
	}
	for _, g := range r.Groups {
		if strings.HasPrefix(g.Name, "g") {
			var wantN int
			var k int
			fmt.Sscanf(g.Name, "g%d", &k)
			for i := range n {
				if i%50 == k {
					wantN++
				}
				if k < 40 && i%40 == k {
					wantN++
				}
			}
			if len(g.Members) != wantN {
				t.Fatalf("group %s has %d members, want %d", g.Name, len(g.Members), wantN)
			}
		}
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for _, i := range rng.Perm(n) {
		mustRemove(t, s, "big", "", i)
		mustRemove(t, s, "big", "q", i)
		mustRemove(t, s, "big", fmt.Sprintf("g%d", i%40), i)
		mustRemove(t, s, "*", fmt.Sprintf("g%d", i%50), i)
		delete(all, i)
		if len(all)%37 == 0 {
			check(all)
		}
	}
	if s.Count() != 0 || !s.root.empty() {
		t.Fatalf("Count %d after removing everything", s.Count())
	}
}

// TestDeepSubjects goes past the stack-sized token and node buffers.
func TestDeepSubjects(t *testing.T) {
	s := New[string]()
	toks := make([]string, 50)
	for i := range toks {
		toks[i] = fmt.Sprintf("t%d", i)
	}
	deep := strings.Join(toks, ".")
	mustInsert(t, s, deep, "", "deep")
	// One wildcard at each position, and a '>' after each prefix: 100
	// matching nodes for one subject.
	var want []string
	for i := range toks {
		w := slices.Clone(toks)
		w[i] = "*"
		subj := strings.Join(w, ".")
		mustInsert(t, s, subj, "", subj)
		full := strings.Join(toks[:i], ".") + ".>"
		if i == 0 {
			full = ">"
		}
		mustInsert(t, s, full, "", full)
		want = append(want, subj, full)
	}
	want = append(want, "deep")
	expectMatch(t, s, NewCache(s, 0), deep, want...)
	mustRemove(t, s, deep, "", "deep")
	expectMatch(t, s, nil, deep, want[:len(want)-1]...)
}

func TestRange(t *testing.T) {
	s := New[int]()
	type sub struct {
		subject, queue string
		v              int
	}
	want := []sub{
		{"foo", "", 1}, {"foo", "", 2}, {"foo", "q", 3}, {"foo.bar", "", 4},
		{"foo.*", "q", 5}, {"foo.>", "", 6}, {">", "r", 7}, {"*.x.*", "", 8},
	}
	for _, w := range want {
		mustInsert(t, s, w.subject, w.queue, w.v)
	}
	var got []sub
	s.Range(func(subject, queue string, v int) bool {
		got = append(got, sub{subject, queue, v})
		return true
	})
	cmp := func(a, b sub) int { return a.v - b.v }
	slices.SortFunc(got, cmp)
	if !slices.Equal(got, want) {
		t.Fatalf("Range visited %v, want %v", got, want)
	}

	n := 0
	s.Range(func(string, string, int) bool {
		n++
		return n < 3
	})
	if n != 3 {
		t.Fatalf("Range went on after false: %d calls, want 3", n)
	}

	New[int]().Range(func(string, string, int) bool {
		t.Fatal("Range called back on an empty Sublist")
		return false
	})
}

func TestStats(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "foo", "", 1)
	mustInsert(t, s, "foo", "", 2)
	mustInsert(t, s, "foo", "q", 3)
	mustInsert(t, s, "foo.*", "", 4)
	mustInsert(t, s, "bar", "", 5)
	mustRemove(t, s, "bar", "", 5)

	st := s.Stats()
	if st.NumSubs != 4 || st.NumInserts != 5 || st.NumRemoves != 1 {
		t.Fatalf("Stats = %+v, want 4 subs, 5 inserts, 1 remove", st)
	}
	if st.NumMatches != 0 || st.NumCache != 0 || st.CacheHitRate != 0 || st.AvgFanout != 0 {
		t.Fatalf("Stats before any match = %+v", st)
	}

	s.Match([]byte("foo"))     // miss: 2 plain + 1 group = fanout 3
	s.Match([]byte("foo"))     // hit
	s.Match([]byte("foo.x"))   // miss: fanout 1
	s.Match([]byte("nothing")) // miss: fanout 0
	s.Match([]byte("foo"))     // hit
	c := NewCache(s, 0)
	c.Match([]byte("foo")) // L1 miss, shared hit
	c.Match([]byte("foo")) // L1 hit: not counted

	st = s.Stats()
	if st.NumMatches != 6 {
		t.Errorf("NumMatches = %d, want 6", st.NumMatches)
	}
	if want := 3.0 / 6.0; st.CacheHitRate != want {
		t.Errorf("CacheHitRate = %v, want %v", st.CacheHitRate, want)
	}
	if st.NumCache != 3 {
		t.Errorf("NumCache = %d, want 3", st.NumCache)
	}
	if st.MaxFanout != 3 {
		t.Errorf("MaxFanout = %d, want 3", st.MaxFanout)
	}
	if want := 4.0 / 3.0; st.AvgFanout != want {
		t.Errorf("AvgFanout = %v, want %v", st.AvgFanout, want)
	}

	// Invalidated entries are not counted as cached.
	mustInsert(t, s, "foo", "", 9)
	if st = s.Stats(); st.NumCache != 2 {
		t.Errorf("NumCache after invalidating foo = %d, want 2", st.NumCache)
	}
	mustInsert(t, s, ">", "", 10)
	if st = s.Stats(); st.NumCache != 0 || st.MaxFanout != 0 || st.AvgFanout != 0 {
		t.Errorf("Stats after a root wildcard = %+v, want an empty cache", st)
	}
}

// TestDifferentialGSL compares Match with nats-server's own generic sublist
// and with Matches, over random wildcard subscriptions and random published
// subjects (which may contain wildcard tokens too).
func TestDifferentialGSL(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	alphabet := []string{"a", "b", "c", "*", ">", "a*", ">b"}
	randSubject := func(maxLen int, publish bool) string {
		for {
			n := 1 + rng.IntN(maxLen)
			toks := make([]string, n)
			for i := range toks {
				toks[i] = alphabet[rng.IntN(len(alphabet))]
			}
			s := strings.Join(toks, ".")
			if publish || ValidSubject(s) {
				return s
			}
		}
	}
	for round := range 20 {
		s := New[int]()
		ref := gsl.NewSublist[int]()
		var patterns []string
		for i := range 60 {
			p := randSubject(4, false)
			patterns = append(patterns, p)
			mustInsert(t, s, p, "", i)
			if err := ref.Insert(p, i); err != nil {
				t.Fatalf("gsl.Insert(%q): %v", p, err)
			}
		}
		// Remove a third, so pruning is exercised too.
		for i := 0; i < len(patterns); i += 3 {
			mustRemove(t, s, patterns[i], "", i)
			if err := ref.Remove(patterns[i], i); err != nil {
				t.Fatalf("gsl.Remove(%q): %v", patterns[i], err)
			}
		}
		c := NewCache(s, 16)
		for range 300 {
			subj := randSubject(5, true)
			var want []int
			ref.Match(subj, func(v int) { want = append(want, v) })
			slices.Sort(want)
			var oracle []int
			for i, p := range patterns {
				if i%3 != 0 && Matches(p, subj) {
					oracle = append(oracle, i)
				}
			}
			if !slices.Equal(want, oracle) {
				t.Fatalf("round %d: gsl and Matches disagree on %q: %v vs %v", round, subj, want, oracle)
			}
			for _, r := range []*Result[int]{s.Match([]byte(subj)), c.Match([]byte(subj))} {
				got := slices.Sorted(slices.Values(r.Plain))
				if !slices.Equal(got, want) {
					t.Fatalf("round %d: Match(%q) = %v, gsl says %v", round, subj, got, want)
				}
			}
		}
	}
}
