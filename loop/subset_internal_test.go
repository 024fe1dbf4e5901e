package loop

import (
	"slices"
	"testing"
)

// TestSubSet walks a subscription set through one entry kept inline, the
// move to a map at the second, replacement by sid, and removal while
// ranging.
func TestSubSet(t *testing.T) {
	var s subSet
	sids := func() []string {
		var out []string
		for sub := range s.all() {
			out = append(out, sub.sid)
		}
		slices.Sort(out)
		return out
	}
	if s.len() != 0 || s.get("1") != nil || len(sids()) != 0 {
		t.Fatal("an empty set holds something")
	}
	a := &subscription{sid: "1", subject: "a"}
	s.put(a)
	if s.m != nil || s.get("1") != a || s.get("2") != nil || s.len() != 1 {
		t.Fatalf("one subscription: inline %v, map %v", s.one, s.m)
	}
	a2 := &subscription{sid: "1", subject: "a2"}
	s.put(a2)
	if s.m != nil || s.get("1") != a2 || s.len() != 1 {
		t.Fatal("a second subscription with the same sid did not replace the first")
	}
	b := &subscription{sid: "2", subject: "b"}
	s.put(b)
	if s.m == nil || s.one != nil || s.get("1") != a2 || s.get("2") != b || s.len() != 2 {
		t.Fatalf("two subscriptions: inline %v, map %v", s.one, s.m)
	}
	if got := sids(); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("all yields %v", got)
	}
	s.del("1")
	if s.get("1") != nil || s.len() != 1 {
		t.Fatal("del left the subscription")
	}
	s.put(&subscription{sid: "3"})
	for sub := range s.all() {
		s.del(sub.sid)
	}
	if s.len() != 0 {
		t.Fatalf("%d left after removing each while ranging", s.len())
	}
	var one subSet
	one.put(a)
	for sub := range one.all() {
		one.del(sub.sid)
	}
	if one.len() != 0 || one.get("1") != nil {
		t.Fatal("the inline subscription stayed after removal while ranging")
	}
	one.del("nothing")
}
