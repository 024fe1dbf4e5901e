package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func TestCountsAreExact(t *testing.T) {
	s := runServer(t, nil)
	cases := []struct {
		name       string
		scenario   Scenario
		pubs, subs int
		size       int
		count      int64
		wantRecv   int64
	}{
		{"pub only", Pub, 2, 0, 64, 2001, 0},
		{"1:1", PubSub, 1, 1, 64, 2000, 2000},
		{"fan-out 1:4", PubSub, 1, 4, 128, 2000, 8000},
		{"fan-in 4:1", PubSub, 4, 1, 128, 2003, 2003},
		{"queue 2 pubs 3 members", Queue, 2, 3, 64, 3001, 3001},
		{"small messages carry the tag in a header", PubSub, 2, 2, 8, 1000, 2000},
		{"empty messages", PubSub, 1, 1, -1, 500, 500},
		{"request/reply", ReqRep, 2, 2, 32, 1001, 1001},
		{"request/reply small", ReqRep, 1, 1, 4, 300, 300},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := quick(s.ClientURL(), c.scenario)
			o.Pubs, o.Subs, o.Size, o.Count = c.pubs, c.subs, c.size, c.count
			if c.size < 0 {
				// Size 0 means "default"; an empty payload is asked for
				// with the text pattern of length zero through Size 0 only
				// in the header path, so use 1 byte here.
				o.Size = 1
			}
			res := mustRun(t, o)
			if res.Sent != c.count {
				t.Errorf("sent %d, want %d", res.Sent, c.count)
			}
			if res.Received != c.wantRecv || res.Expected != c.wantRecv {
				t.Errorf("received %d of %d expected, want %d", res.Received, res.Expected, c.wantRecv)
			}
			if res.Lost+res.Duplicated+res.Reordered+res.Unexpected != 0 {
				t.Errorf("integrity counters not zero: %+v", res)
			}
			if res.MsgsPerSec <= 0 {
				t.Errorf("no rate: %+v", res)
			}
			if c.scenario == ReqRep {
				l := res.Latency
				if l == nil || l.Count != c.count || !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
					t.Errorf("latency distribution wrong: %+v", l)
				}
			}
		})
	}
}

func TestDurationAndWarmupAndRate(t *testing.T) {
	s := runServer(t, nil)
	o := quick(s.ClientURL(), PubSub)
	o.Count, o.Duration, o.Warmup, o.Subs = 0, 200*time.Millisecond, 100, 2
	res := mustRun(t, o)
	if res.Sent == 0 || res.Received != 2*res.Sent {
		t.Fatalf("duration run: sent %d received %d", res.Sent, res.Received)
	}

	o = quick(s.ClientURL(), PubSub)
	o.Count, o.Rate = 100, 1000
	res = mustRun(t, o)
	// 100 messages at 1000/s with a burst of 10 take at least 90 ms.
	if res.PubSeconds < 0.08 {
		t.Fatalf("rate limit not applied: %d messages in %.3fs", res.Sent, res.PubSeconds)
	}
}

func TestLeafHop(t *testing.T) {
	hub, leaf := runLeafPair(t)
	for _, dir := range []struct{ name, pub, sub string }{
		{"hub to leaf", hub.ClientURL(), leaf.ClientURL()},
		{"leaf to hub", leaf.ClientURL(), hub.ClientURL()},
	} {
		t.Run(dir.name, func(t *testing.T) {
			o := quick(dir.pub, Leaf)
			o.SubURL = dir.sub
			res := mustRun(t, o)
			if res.Received != o.Count {
				t.Fatalf("received %d of %d", res.Received, o.Count)
			}
		})
	}
	o := quick(hub.ClientURL(), Leaf)
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrOptions) {
		t.Fatalf("leaf without a subscriber URL: want ErrOptions, got %v", err)
	}
}

func TestFaultsAreCaught(t *testing.T) {
	s := runServer(t, nil)
	at := func(action faultAction, sub int, seq uint64) func(int, uint32, uint64) faultAction {
		return func(gotSub int, _ uint32, gotSeq uint64) faultAction {
			if gotSub == sub && gotSeq == seq {
				return action
			}
			return faultNone
		}
	}
	cases := []struct {
		name     string
		scenario Scenario
		subs     int
		size     int
		fault    func(int, uint32, uint64) faultAction
		check    func(*Result) bool
		text     string
	}{
		{"lost", PubSub, 1, 64, at(faultDrop, 0, 77),
			func(r *Result) bool { return r.Lost == 1 }, "publisher 0 sequence 77 never reached"},
		{"lost at one of four subscribers", PubSub, 4, 64, at(faultDrop, 2, 1),
			func(r *Result) bool { return r.Lost == 1 }, "sequence 1 never reached subscriber group 2"},
		{"lost in header mode", PubSub, 1, 4, at(faultDrop, 0, 500),
			func(r *Result) bool { return r.Lost == 1 }, "sequence 500 never reached"},
		{"duplicated", PubSub, 1, 64, at(faultDuplicate, 0, 10),
			func(r *Result) bool { return r.Duplicated == 1 && r.Lost == 0 }, "sequence 10 reached subscriber 0 again"},
		{"reordered", PubSub, 1, 64, at(faultHold, 0, 300),
			func(r *Result) bool { return r.Reordered == 1 && r.Lost == 0 && r.Duplicated == 0 }, "sequence 300 reached subscriber 0 after sequence 301"},
		{"lost in a queue group", Queue, 3, 64, func(_ int, _ uint32, seq uint64) faultAction {
			if seq == 1234 {
				return faultDrop
			}
			return faultNone
		}, func(r *Result) bool { return r.Lost == 1 }, "sequence 1234 never reached subscriber group 0"},
		{"duplicated across a queue group", Queue, 3, 64, func(_ int, _ uint32, seq uint64) faultAction {
			if seq == 5 {
				return faultDuplicate
			}
			return faultNone
		}, func(r *Result) bool { return r.Duplicated == 1 }, "sequence 5 reached"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := quick(s.ClientURL(), c.scenario)
			o.Subs, o.Size, o.fault = c.subs, c.size, c.fault
			// A lost message is only known once the wait runs out, so keep
			// the wait short here.
			o.Timeout = 500 * time.Millisecond
			res := mustFailIntegrity(t, o)
			if !c.check(res) {
				t.Errorf("counters wrong: lost %d duplicated %d reordered %d unexpected %d",
					res.Lost, res.Duplicated, res.Reordered, res.Unexpected)
			}
			if len(res.Errors) == 0 || !strings.Contains(res.Errors[0], c.text) {
				t.Errorf("error %q does not say %q", res.Errors, c.text)
			}
		})
	}
}

// TestForeignMessageIsCaught publishes into a running measurement from
// outside the harness: a message the run did not send must fail it.
func TestForeignMessageIsCaught(t *testing.T) {
	s := runServer(t, nil)
	o := quick(s.ClientURL(), PubSub)
	o.Timeout, o.Subject = 500*time.Millisecond, "foreign.test"
	o.fault = func(sub int, pub uint32, seq uint64) faultAction {
		if seq == 100 {
			nc, err := connect(&o, o.URL, "intruder", &problems{})
			if err == nil {
				_ = nc.nc.Publish(o.Subject, []byte("not from this run, but long enough"))
				_ = nc.nc.Flush()
				nc.nc.Close()
			}
		}
		return faultNone
	}
	res := mustFailIntegrity(t, o)
	if res.Unexpected != 1 {
		t.Fatalf("unexpected = %d, want 1", res.Unexpected)
	}
}

func TestAuth(t *testing.T) {
	tok := runServer(t, func(o *server.Options) { o.Authorization = "s3cret" })
	up := runServer(t, func(o *server.Options) { o.Username, o.Password = "bench", "pw" })

	for _, c := range []struct {
		name string
		url  string
		auth Auth
	}{
		{"token", tok.ClientURL(), Auth{Token: "s3cret"}},
		{"user and password", up.ClientURL(), Auth{User: "bench", Password: "pw"}},
		{"user and password in the URL", strings.Replace(up.ClientURL(), "nats://", "nats://bench:pw@", 1), Auth{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, sc := range []Scenario{PubSub, ReqRep, Conns} {
				o := quick(c.url, sc)
				o.Auth, o.Count, o.Conns = c.auth, 100, 5
				mustRun(t, o)
			}
		})
	}
	for _, c := range []struct {
		name string
		url  string
		auth Auth
	}{
		{"wrong token", tok.ClientURL(), Auth{Token: "nope"}},
		{"no token", tok.ClientURL(), Auth{}},
		{"wrong password", up.ClientURL(), Auth{User: "bench", Password: "bad"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, sc := range []Scenario{PubSub, Conns} {
				o := quick(c.url, sc)
				o.Auth, o.Conns = c.auth, 3
				res, err := Run(context.Background(), o)
				if err == nil || res.OK {
					t.Fatalf("%s: run with bad credentials succeeded", sc)
				}
				if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
					t.Fatalf("%s: error does not say why: %v", sc, err)
				}
			}
		})
	}
	if _, err := Run(context.Background(), Options{Auth: Auth{Token: "a", User: "b"}}); !errors.Is(err, ErrOptions) {
		t.Fatalf("two kinds of credentials: want ErrOptions, got %v", err)
	}
}
