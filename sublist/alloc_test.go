//go:build !race

package sublist

import (
	"fmt"
	"testing"
)

// Allocation budgets. The race detector allocates on its own account, so
// these run only without it.

func allocSublist(t *testing.T) *Sublist[*int] {
	t.Helper()
	s := New[*int]()
	for range 8 {
		v := new(int)
		mustInsert(t, s, "orders.eu.created", "", v)
		mustInsert(t, s, "orders.*.created", "workers", v)
	}
	mustInsert(t, s, "orders.>", "", new(int))
	return s
}

// A subject longer than 32 bytes, so that a conversion to string could not
// hide in the compiler's stack buffer.
var longSubject = []byte("orders.eu.created.with.a.subject.longer.than.thirty.two.bytes")

func TestMatchHitAllocs(t *testing.T) {
	s := allocSublist(t)
	for _, subj := range [][]byte{[]byte("orders.eu.created"), []byte("no.interest"), longSubject} {
		s.Match(subj)
		if n := testing.AllocsPerRun(1000, func() { s.Match(subj) }); n != 0 {
			t.Errorf("Match(%q) on a cache hit: %v allocs, want 0", subj, n)
		}
	}
}

func TestCacheHitAllocs(t *testing.T) {
	s := allocSublist(t)
	c := NewCache(s, 0)
	for _, subj := range [][]byte{[]byte("orders.eu.created"), []byte("no.interest"), longSubject} {
		c.Match(subj)
		c.Match(subj) // kept from the second time on
		if _, ok := c.m[string(subj)]; !ok {
			t.Fatalf("Cache did not keep %q", subj)
		}
		if n := testing.AllocsPerRun(1000, func() { c.Match(subj) }); n != 0 {
			t.Errorf("Cache.Match(%q) on a hit: %v allocs, want 0", subj, n)
		}
		// The generation moving (a change elsewhere) sends the Cache to the
		// entry's epochs, which must not allocate either.
		if n := testing.AllocsPerRun(1000, func() { s.gen.Add(1); c.Match(subj) }); n != 0 {
			t.Errorf("Cache.Match(%q) after an unrelated change: %v allocs, want 0", subj, n)
		}
	}
}

func TestMatchMissAllocs(t *testing.T) {
	s := allocSublist(t)
	tests := []struct {
		subject string
		want    float64
	}{
		{"no.interest", 2},       // the entry and its key
		{"orders.us", 3},         // plus the plain values
		{"orders.eu.created", 4}, // plus the groups
	}
	for _, tc := range tests {
		subj := []byte(tc.subject)
		// Moving the root epoch makes every lookup a miss.
		n := testing.AllocsPerRun(1000, func() { s.cache.root.Add(1); s.Match(subj) })
		if n != tc.want {
			t.Errorf("Match(%q) on a miss: %v allocs, want %v", tc.subject, n, tc.want)
		}
	}
}

func TestValidLiteralBytesAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(1000, func() { ValidLiteralBytes(longSubject) }); n != 0 {
		t.Errorf("ValidLiteralBytes: %v allocs, want 0", n)
	}
}

// TestMatchFullCacheAllocs covers misses on a full shared cache by subjects
// published once: they are not stored, so they cost only their Result.
func TestMatchFullCacheAllocs(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "resident.*", "", 1)
	mustInsert(t, s, "reply.>", "", 2)
	fillSharedCache(s)
	for _, tc := range []struct {
		prefix string
		want   float64
	}{
		{"nobody", 0}, // the shared empty Result
		{"reply", 2},  // the (dead) entry and the plain values
	} {
		subjects := make([][]byte, 1001) // AllocsPerRun warms up once
		for i := range subjects {
			subjects[i] = fmt.Appendf(nil, "%s.%d", tc.prefix, i)
		}
		i := 0
		n := testing.AllocsPerRun(len(subjects)-1, func() {
			s.Match(subjects[i])
			i++
		})
		if n != tc.want {
			t.Errorf("Match(%s.N) once on a full cache: %v allocs, want %v", tc.prefix, n, tc.want)
		}
	}
}
