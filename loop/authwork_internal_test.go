package loop

import (
	"testing"
	"time"
)

// TestAuthWorkNeverBlocks is item 5 of issue 12: with every auth worker
// busy and thousands of checks waiting (more than the 4,096 the queue once
// held), handing it one more returns at once: a loop never waits on it.
func TestAuthWorkNeverBlocks(t *testing.T) {
	s := &Server{}
	s.startAuthWorkers()
	gate := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		ran := 0
		for i := 0; i < 10_000; i++ {
			s.authWork(func() { <-gate })
			ran++
		}
		done <- ran
	}()
	select {
	case n := <-done:
		if n != 10_000 {
			t.Fatalf("queued %d", n)
		}
	case <-time.After(5 * time.Second):
		close(gate)
		t.Fatal("queueing a check blocked while the workers were busy")
	}
	close(gate)
	deadline := time.Now().Add(5 * time.Second)
	for s.authBacklog() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := s.authBacklog(); n != 0 {
		t.Fatalf("%d checks still waiting", n)
	}
	s.stopAuthWorkers()
}

// TestClosedRingBudget: closed records keep their subscriptions within
// the per-record and the all-records budgets, the newest records keeping
// theirs, and none loses its count.
func TestClosedRingBudget(t *testing.T) {
	var r closedRing
	const subs = 20_000
	for i := 0; i < 100; i++ {
		ci := &ConnInfo{CID: uint64(i), NumSubs: subs, Subs: make([]SubInfo, subs)}
		for j := range ci.Subs {
			ci.Subs[j] = SubInfo{Subject: "some.subject.here", SID: "12345"}
		}
		r.add(ci)
		if r.bytes > maxClosedRingSubBytes {
			t.Fatalf("after %d records: %d bytes kept", i+1, r.bytes)
		}
	}
	list := r.list()
	newest := list[len(list)-1]
	if len(newest.Subs) == 0 || len(list[0].Subs) != 0 {
		t.Fatalf("newest keeps %d, oldest %d", len(newest.Subs), len(list[0].Subs))
	}
	for _, ci := range list {
		if len(ci.Subs)+ci.SubsOmitted != subs {
			t.Fatalf("record %d: %d kept + %d omitted", ci.CID, len(ci.Subs), ci.SubsOmitted)
		}
	}
}
