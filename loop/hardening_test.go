package loop_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/loop"
)

// The tests of issue 12's hardening of the client port (items 3, 5 and 8),
// beside nats-server v2.15.2 where the two should behave alike.

// slowHash hashes pw at the lowest bcrypt cost whose check takes at least
// target here (the race detector makes bcrypt some ten times slower), and
// reports how long one check takes.
func slowHash(t testing.TB, pw string, target time.Duration) (string, time.Duration) {
	t.Helper()
	for cost := bcrypt.MinCost; ; cost++ {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		_ = bcrypt.CompareHashAndPassword(h, []byte(pw))
		if one := time.Since(began); one >= target || cost == bcrypt.MaxCost {
			return string(h), one
		}
	}
}

// TestReloadDuringCostlyConnect is item 3: a user removed by a reload while
// its bcrypt CONNECT is being checked must not keep a session. Each trial
// sends bob's CONNECT, reloads without bob while the check runs, and wants
// the connection refused. A trial whose answer came before the reload
// returned did not hit the window and does not count.
func TestReloadDuringCostlyConnect(t *testing.T) {
	hash, one := slowHash(t, "bobpw", 200*time.Millisecond)
	users := func(bob bool) string {
		u := `{ user: alice, password: a }`
		if bob {
			u += fmt.Sprintf(`, { user: bob, password: %q }`, hash)
		}
		return "listen: \"127.0.0.1:-1\"\nauthorization { users: [ " + u + " ] }\n"
	}
	const trials = 4
	for _, name := range []string{"canopy", "nats-server"} {
		t.Run(name, func(t *testing.T) {
			var addr string
			var reload func(text string)
			if name == "canopy" {
				s := natstest.StartCanopy(t, users(true))
				addr = s.ClientAddr().String()
				reload = func(text string) {
					if err := rlReload(t, s, text); err != nil {
						t.Fatalf("reload: %v", err)
					}
				}
			} else {
				s := natstest.StartNATS(t, users(true))
				addr = s.Addr().String()
				reload = func(text string) {
					if err := os.WriteFile(s.ConfigFile, []byte(text), 0o600); err != nil {
						t.Fatal(err)
					}
					if err := s.Reload(); err != nil {
						t.Fatalf("reload: %v", err)
					}
				}
			}
			// A trial hits the window when the answer arrives after the
			// reload has returned: the check was still in flight when the
			// user was removed. The answer is read as it arrives, so one
			// that came before the reload is never counted.
			const maxTrials, wantHits = 12, trials
			hits, kept := 0, 0
			for i := 0; i < maxTrials && hits < wantHits; i++ {
				c := dialRaw(t, addr)
				began := time.Now()
				type answer struct {
					line string
					at   time.Duration
				}
				got := make(chan answer, 1)
				go func() {
					l := lineOrEOF(c)
					got <- answer{l, time.Since(began)}
				}()
				c.send(`CONNECT {"verbose":false,"pedantic":false,"user":"bob","pass":"bobpw"}` + "\r\nPING\r\n")
				time.Sleep(one / 5)
				reload(users(false))
				reloaded := time.Since(began)
				a := <-got
				if a.at > reloaded {
					hits++
					switch a.line {
					case "PONG":
						kept++
					case "-ERR 'Authorization Violation'", "EOF":
					default:
						t.Fatalf("trial %d: %q", i, a.line)
					}
				}
				t.Logf("trial %d: reload done after %v, answer %q after %v", i, reloaded.Round(time.Millisecond), a.line, a.at.Round(time.Millisecond))
				reload(users(true))
			}
			t.Logf("%s: a bcrypt check takes %v; %d trials hit the window, bob kept his session in %d", name, one.Round(time.Millisecond), hits, kept)
			if kept != 0 {
				t.Fatalf("a user removed by reload kept his session in %d of %d trials", kept, hits)
			}
			if hits == 0 {
				t.Fatalf("no trial in %d hit the window (every reload took longer than a %v check)", maxTrials, one)
			}
		})
	}
}

// lineOrEOF is c.line, or "EOF" when the server closed without a word.
func lineOrEOF(c *raw) string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	l, err := c.r.ReadString('\n')
	if err != nil && l == "" {
		return "EOF"
	}
	return strings.TrimSuffix(l, "\r\n")
}

// TestAuthTimeoutWhileQueued is item 5: costly CONNECTs that queue behind
// others for longer than the auth timeout are closed with nats-server's
// -ERR when their time is up, not checked minutes later, and the queue
// keeps no work for them; a client on the same loop keeps its round trips
// short meanwhile. (That the loop never blocks on a full queue is
// TestAuthWorkNeverBlocks.)
func TestAuthTimeoutWhileQueued(t *testing.T) {
	hash, one := slowHash(t, "bobpw", 150*time.Millisecond)
	const n = 40
	text := fmt.Sprintf("loops: 1\nauthorization { timeout: 0.5, users: [ { user: alice, password: a }, { user: bob, password: %q } ] }\n", hash)
	s := natstest.StartCanopy(t, text)
	addr := s.ClientAddr().String()
	nc := connect(t, "nats://alice:a@"+addr)
	flush(t, nc)
	cs := make([]*raw, n)
	for i := range cs {
		cs[i] = dialRaw(t, addr)
	}
	stop := natstest.WatchRoundTrips(t, nc)
	began := time.Now()
	for _, c := range cs {
		c.send(`CONNECT {"verbose":false,"pedantic":false,"user":"bob","pass":"bobpw"}` + "\r\nPING\r\n")
	}
	var ok, timedOut int
	var last time.Duration
	for i, c := range cs {
		l := c.line()
		for l == "PING" {
			// The server's first PING may come first; it is not an answer.
			l = c.line()
		}
		switch l {
		case "PONG":
			ok++
		case "-ERR 'Authentication Timeout'":
			timedOut++
		default:
			t.Fatalf("connection %d: %q", i, l)
		}
		last = max(last, time.Since(began))
	}
	worst, _ := stop()
	natstest.WaitFor(t, wait, "the auth queue to empty", func() bool { return s.AuthBacklog() == 0 })
	t.Logf("%d bcrypt CONNECTs (%v each here), auth timeout 0.5 s: %d in, %d timed out, all answered in %v; a client on the same loop: worst PING round trip %v",
		n, one.Round(time.Millisecond), ok, timedOut, last.Round(time.Millisecond), worst.Round(100*time.Microsecond))
	if timedOut == 0 || ok == 0 {
		t.Fatalf("%d in, %d timed out: want both", ok, timedOut)
	}
	if bound := 500*time.Millisecond + 2*one + time.Second; last > bound {
		t.Fatalf("the last CONNECT was answered after %v, past its timeout (bound %v)", last, bound)
	}
}

// TestClosedRecordBytesBounded is item 8: the record of a closed
// connection keeps what nats-server shows (its subscriptions, counted in
// full) but not 100,000 subscriptions in full. The bytes retained are the
// live heap after the close less the heap before the connection.
func TestClosedRecordBytesBounded(t *testing.T) {
	const subs = 100_000
	var b strings.Builder
	for i := 0; i < subs; i++ {
		fmt.Fprintf(&b, "SUB closed.subject.number.%d %d\r\n", i, i)
	}
	b.WriteString("PING\r\n")
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	measure := func(t *testing.T, addr string, closedOne func() bool) int64 {
		before := heap()
		c := dialRaw(t, addr)
		c.send(`CONNECT {"verbose":false,"pedantic":false}` + "\r\n" + b.String())
		c.until("PONG\r\n")
		c.conn.Close()
		natstest.WaitFor(t, 6*wait, "the closed record", closedOne)
		return int64(heap()) - int64(before)
	}
	var canopy, nats int64
	t.Run("canopy", func(t *testing.T) {
		s := natstest.StartCanopy(t, "")
		// The system account's own subscriptions stay.
		base := s.Stats().Subscriptions
		var rec loop.ConnInfo
		canopy = measure(t, s.ClientAddr().String(), func() bool {
			cs, err := s.Conns(loop.ConnsOptions{Closed: true})
			// The record is made before the subscriptions go.
			if err != nil || len(cs) != 1 || s.Stats().Subscriptions != base {
				return false
			}
			rec = cs[0]
			return true
		})
		if rec.NumSubs != subs || len(rec.Subs) == 0 || len(rec.Subs)+rec.SubsOmitted != subs {
			t.Fatalf("record: %d subscriptions, %d kept, %d omitted", rec.NumSubs, len(rec.Subs), rec.SubsOmitted)
		}
		if rec.Subs[0].SID != "0" {
			t.Fatalf("first kept subscription: %+v", rec.Subs[0])
		}
		t.Logf("canopy: %d of %d subscriptions kept", len(rec.Subs), subs)
		if canopy > 8<<20 {
			t.Fatalf("a closed record retains %.1f MB", float64(canopy)/1e6)
		}
	})
	t.Run("nats-server", func(t *testing.T) {
		s := natstest.StartNATS(t, "")
		base := s.NumSubscriptions() // the system account's
		nats = measure(t, s.Addr().String(), func() bool {
			cz, err := s.Connz(&server.ConnzOptions{State: server.ConnClosed})
			return err == nil && cz.NumConns == 1 && s.NumSubscriptions() == base
		})
	})
	t.Logf("bytes retained by one closed %d-subscription connection: canopy %.1f MB, nats-server %.1f MB", subs, float64(canopy)/1e6, float64(nats)/1e6)
}
