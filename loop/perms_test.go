package loop_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Permission tests run every scenario against Canopy and nats-server
// v2.15.2 started from the same configuration, with real nats.go clients,
// and want the same deliveries and the same error texts from both.

// asyncErrs collects what a connection's ErrorHandler reports, in the order
// nats.go dispatches it.
type asyncErrs struct {
	t  testing.TB
	ch chan error
}

// errorsOf returns a collector and the option that feeds it. It replaces
// the failing handler connect installs: these connections expect errors.
func errorsOf(t testing.TB) (*asyncErrs, nats.Option) {
	e := &asyncErrs{t: t, ch: make(chan error, 64)}
	return e, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case e.ch <- err:
		default:
			t.Errorf("async error dropped: %v", err)
		}
	})
}

// next waits for the next async error and wants its text to be want.
func (e *asyncErrs) next(want string) {
	e.t.Helper()
	select {
	case err := <-e.ch:
		if err.Error() != want {
			e.t.Fatalf("async error %q, want %q", err, want)
		}
	case <-time.After(wait):
		e.t.Fatalf("no async error, want %q", want)
	}
}

// pubViolation is the async error nats.go reports for a denied publish
// (nats-server's -ERR text, behind nats.go's own prefix).
func pubViolation(subject string) string {
	return fmt.Sprintf("nats: permissions violation: Permissions Violation for Publish to %q", subject)
}

// subViolation is the async error for a denied subscription.
func subViolation(subject, queue string) string {
	if queue != "" {
		return fmt.Sprintf("nats: permissions violation: Permissions Violation for Subscription to %q using queue %q", subject, queue)
	}
	return fmt.Sprintf("nats: permissions violation: Permissions Violation for Subscription to %q", subject)
}

// subjects drains sub's pending messages and returns their subjects, after
// want messages arrived (or the wait ran out).
func subjects(t testing.TB, sub *nats.Subscription, want int) []string {
	t.Helper()
	var got []string
	for range want {
		m, err := sub.NextMsg(wait)
		if err != nil {
			t.Fatalf("subscription %q: after %v: %v", sub.Subject, got, err)
		}
		got = append(got, m.Subject)
	}
	return got
}

func equal(a, b []string) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// stillOpen checks that a connection that was refused something is still
// connected and answers a flush.
func stillOpen(t testing.TB, nc *nats.Conn) {
	t.Helper()
	flush(t, nc)
	if !nc.IsConnected() {
		t.Fatalf("connection state %v after a permission violation, want connected", nc.Status())
	}
}

const publishPermsConf = `
authorization {
  users: [
    {user: pub, password: pub, permissions: {
      publish: {allow: ["orders.*", "metrics.>"], deny: ["orders.secret"]}
    }}
    {user: watch, password: watch}
  ]
}
`

// TestPermsPublish: an allow list with wildcards and a deny list; each
// denied publish gets -ERR (a nats.go async error) without closing the
// connection, and only allowed messages reach a subscriber.
func TestPermsPublish(t *testing.T) {
	servers(t, publishPermsConf, func(t *testing.T, addr string) {
		watch := connect(t, "nats://watch:watch@"+addr)
		all, err := watch.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		flush(t, watch)
		errs, onErr := errorsOf(t)
		pub := connect(t, "nats://pub:pub@"+addr, onErr)
		for _, s := range []string{"orders.new", "orders.secret", "orders.a.b", "metrics.cpu.0", "metrics", "other", "orders.end"} {
			if err := pub.Publish(s, []byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		stillOpen(t, pub)
		for _, s := range []string{"orders.secret", "orders.a.b", "metrics", "other"} {
			errs.next(pubViolation(s))
		}
		if got := subjects(t, all, 3); !equal(got, []string{"orders.new", "metrics.cpu.0", "orders.end"}) {
			t.Fatalf("subscriber got %v", got)
		}
		flush(t, watch)
		none(t, all)
		// The cached verdicts give the same answers the second time.
		pub.Publish("orders.secret", nil)
		pub.Publish("orders.new", nil)
		stillOpen(t, pub)
		errs.next(pubViolation("orders.secret"))
		if got := subjects(t, all, 1); got[0] != "orders.new" {
			t.Fatalf("subscriber got %v", got)
		}
	})
}

const subscribePermsConf = `
authorization {
  users: [
    {user: sub, password: sub, permissions: {
      publish: ["events.>"]
      subscribe: {allow: ["events.>", "jobs.* workers", "_INBOX.>"], deny: ["events.secret.>"]}
    }}
    {user: all, password: all}
  ]
}
`

// TestPermsSubscribe: plain and queue subscriptions allowed and denied,
// queue-qualified entries ("jobs.* workers"), and a deny entry that
// filters what reaches a wildcard subscription it overlaps.
func TestPermsSubscribe(t *testing.T) {
	servers(t, subscribePermsConf, func(t *testing.T, addr string) {
		errs, onErr := errorsOf(t)
		nc := connect(t, "nats://sub:sub@"+addr, onErr)
		must := func(s *nats.Subscription, err error) *nats.Subscription {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		literal := must(nc.SubscribeSync("events.x"))
		wild := must(nc.SubscribeSync("events.>"))
		queue := must(nc.QueueSubscribeSync("jobs.a", "workers"))
		anyQueue := must(nc.QueueSubscribeSync("events.q", "any"))
		// Refused: a subject the deny list covers, one outside the allow
		// list, a plain subscription where only a queue group is allowed,
		// and another queue group.
		must(nc.SubscribeSync("events.secret.plans"))
		must(nc.SubscribeSync("other"))
		must(nc.SubscribeSync("jobs.a"))
		must(nc.QueueSubscribeSync("jobs.b", "others"))
		must(nc.SubscribeSync("events.secret.>"))
		stillOpen(t, nc)
		errs.next(subViolation("events.secret.plans", ""))
		errs.next(subViolation("other", ""))
		errs.next(subViolation("jobs.a", ""))
		errs.next(subViolation("jobs.b", "others"))
		errs.next(subViolation("events.secret.>", ""))

		pub := connect(t, "nats://all:all@"+addr)
		for _, s := range []string{"events.secret.plans", "events.x", "jobs.a", "jobs.b", "other", "events.q", "events.secret.x.y"} {
			pub.Publish(s, nil)
		}
		flush(t, pub)
		flush(t, nc)
		if got := subjects(t, literal, 1); got[0] != "events.x" {
			t.Fatalf("events.x got %v", got)
		}
		if got := subjects(t, wild, 2); !equal(got, []string{"events.x", "events.q"}) {
			t.Fatalf("events.> got %v: the deny entry must filter its deliveries", got)
		}
		if got := subjects(t, queue, 1); got[0] != "jobs.a" {
			t.Fatalf("queue got %v", got)
		}
		if got := subjects(t, anyQueue, 1); got[0] != "events.q" {
			t.Fatalf("queue on an unqualified entry got %v", got)
		}
		for _, s := range []*nats.Subscription{literal, wild, queue, anyQueue} {
			none(t, s)
		}
	})
}

// TestPermsWire checks the exact -ERR bytes of each violation, and that
// the connection answers the PING that follows.
func TestPermsWire(t *testing.T) {
	servers(t, subscribePermsConf, func(t *testing.T, addr string) {
		c := dialRaw(t, addr)
		c.connect(`{"verbose":false,"user":"sub","pass":"sub"}`)
		for _, tc := range []struct{ send, want string }{
			{"PUB other 1\r\nx\r\n", `-ERR 'Permissions Violation for Publish to "other"'` + "\r\n"},
			{"SUB other 1\r\n", `-ERR 'Permissions Violation for Subscription to "other"'` + "\r\n"},
			{"SUB jobs.a workerz 2\r\n", `-ERR 'Permissions Violation for Subscription to "jobs.a" using queue "workerz"'` + "\r\n"},
			{"SUB events.secret.a 3\r\n", `-ERR 'Permissions Violation for Subscription to "events.secret.a"'` + "\r\n"},
		} {
			c.send(tc.send)
			if got := c.flush(); got != tc.want {
				t.Fatalf("%q: got %q, want %q", tc.send, got, tc.want)
			}
		}
		// Allowed ops still work on the same connection.
		c.send("SUB events.> 9\r\nPUB events.ok 2\r\nok\r\n")
		if got := c.flush(); got != "MSG events.ok 9 2\r\nok\r\n" {
			t.Fatalf("after violations: got %q", got)
		}
	})
}

const defaultPermsConf = `
authorization {
  default_permissions: { publish: ["public.>"], subscribe: ["public.>", "_INBOX.>"] }
  users: [
    {user: d, password: d}
    {user: admin, password: admin, permissions: {publish: ">", subscribe: ">"}}
  ]
}
accounts {
  T: {
    default_permissions: { publish: {deny: ["audit.>"]} }
    users: [ {user: t, password: t}, {user: auditor, password: auditor, permissions: {publish: "audit.>"}} ]
  }
}
`

// TestPermsDefault: users without permissions of their own get
// default_permissions (the authorization block's, or their account's);
// users with permissions keep theirs.
func TestPermsDefault(t *testing.T) {
	servers(t, defaultPermsConf, func(t *testing.T, addr string) {
		admin := connect(t, "nats://admin:admin@"+addr)
		seen, err := admin.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		flush(t, admin)
		errs, onErr := errorsOf(t)
		d := connect(t, "nats://d:d@"+addr, onErr)
		d.Publish("private.x", nil)
		d.Publish("public.x", nil)
		d.SubscribeSync("private.>")
		if _, err := d.SubscribeSync("public.>"); err != nil {
			t.Fatal(err)
		}
		stillOpen(t, d)
		errs.next(pubViolation("private.x"))
		errs.next(subViolation("private.>", ""))
		admin.Publish("private.y", nil)
		flush(t, admin)
		if got := subjects(t, seen, 2); !equal(got, []string{"public.x", "private.y"}) {
			t.Fatalf("admin saw %v", got)
		}

		// Account T: its default denies audit.>, the auditor may only
		// publish there.
		terrs, onTErr := errorsOf(t)
		tc := connect(t, "nats://t:t@"+addr, onTErr)
		aud := connect(t, "nats://auditor:auditor@"+addr, onTErr)
		tsub, _ := tc.SubscribeSync(">")
		flush(t, tc)
		tc.Publish("audit.1", nil)
		tc.Publish("work.1", nil)
		stillOpen(t, tc)
		terrs.next(pubViolation("audit.1"))
		aud.Publish("work.2", nil)
		aud.Publish("audit.2", nil)
		stillOpen(t, aud)
		terrs.next(pubViolation("work.2"))
		if got := subjects(t, tsub, 2); !equal(got, []string{"work.1", "audit.2"}) {
			t.Fatalf("account T saw %v", got)
		}
	})
}

const responsePermsConf = `
authorization {
  users: [
    {user: svc, password: svc, permissions: {subscribe: "req.>", allow_responses: true}}
    {user: svc3, password: svc3, permissions: {subscribe: "req3.>", allow_responses: {max: 3}}}
    {user: quick, password: quick, permissions: {subscribe: "reqq.>", publish: "log.>", allow_responses: {max: 5, expires: "300ms"}}}
    {user: cli, password: cli}
  ]
}
`

// TestPermsAllowResponses: a replier that may not publish anywhere else
// answers on the reply subject of a request it received, as many times as
// max allows and until the permission expires; other publishes are
// refused.
func TestPermsAllowResponses(t *testing.T) {
	servers(t, responsePermsConf, func(t *testing.T, addr string) {
		cli := connect(t, "nats://cli:cli@"+addr)
		inbox := nats.NewInbox()
		answers, err := cli.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		flush(t, cli)
		// request delivers one request to the replier's subscription and
		// returns it.
		request := func(replier *nats.Subscription, nc *nats.Conn, subject string) *nats.Msg {
			t.Helper()
			if err := cli.PublishRequest(subject, inbox, []byte("q")); err != nil {
				t.Fatal(err)
			}
			flush(t, cli)
			flush(t, nc)
			return next(t, replier)
		}
		answered := func(n int) {
			t.Helper()
			for i := range n {
				if m := next(t, answers); string(m.Data) != fmt.Sprint(i) {
					t.Fatalf("answer %d: %q", i, m.Data)
				}
			}
			flush(t, cli)
			none(t, answers)
		}

		t.Run("once", func(t *testing.T) {
			errs, onErr := errorsOf(t)
			svc := connect(t, "nats://svc:svc@"+addr, onErr)
			reqs, _ := svc.SubscribeSync("req.>")
			flush(t, svc)
			// Without a request, the inbox is off limits.
			svc.Publish(inbox, []byte("unasked"))
			stillOpen(t, svc)
			errs.next(pubViolation(inbox))
			m := request(reqs, svc, "req.a")
			if m.Reply != inbox {
				t.Fatalf("reply subject %q, want %q", m.Reply, inbox)
			}
			m.Respond([]byte("0"))
			m.Respond([]byte("1"))
			svc.Publish("req.a", nil)
			stillOpen(t, svc)
			errs.next(pubViolation(inbox))
			errs.next(pubViolation("req.a"))
			answered(1)
			// A new request renews the permission.
			request(reqs, svc, "req.b").Respond([]byte("0"))
			stillOpen(t, svc)
			answered(1)
		})
		t.Run("max", func(t *testing.T) {
			errs, onErr := errorsOf(t)
			svc := connect(t, "nats://svc3:svc3@"+addr, onErr)
			reqs, _ := svc.SubscribeSync("req3.>")
			flush(t, svc)
			m := request(reqs, svc, "req3.a")
			for i := range 4 {
				m.Respond([]byte(fmt.Sprint(i)))
			}
			stillOpen(t, svc)
			errs.next(pubViolation(inbox))
			answered(3)
		})
		t.Run("expires", func(t *testing.T) {
			errs, onErr := errorsOf(t)
			svc := connect(t, "nats://quick:quick@"+addr, onErr)
			reqs, _ := svc.SubscribeSync("reqq.>")
			flush(t, svc)
			m := request(reqs, svc, "reqq.a")
			m.Respond([]byte("0"))
			svc.Publish("log.x", nil) // its own publish list still applies
			stillOpen(t, svc)
			answered(1)
			// What is tested is the passing of time: the permission
			// lapses 300 ms after the request was delivered.
			time.Sleep(400 * time.Millisecond)
			m.Respond([]byte("late"))
			stillOpen(t, svc)
			errs.next(pubViolation(inbox))
			answered(0)
		})
	})
}

const queueDenyConf = `
authorization {
  users: [
    {user: picky, password: picky, permissions: {subscribe: {allow: ">", deny: "jobs.secret"}}}
    {user: any, password: any}
  ]
}
`

// TestPermsQueueDenyFilter: a queue member whose deny entry covers a
// message never gets it; the group's other member does, every time, and
// both share what neither denies.
func TestPermsQueueDenyFilter(t *testing.T) {
	servers(t, queueDenyConf, func(t *testing.T, addr string) {
		picky := connect(t, "nats://picky:picky@"+addr)
		anyone := connect(t, "nats://any:any@"+addr)
		mp, err := picky.QueueSubscribeSync("jobs.*", "g")
		if err != nil {
			t.Fatal(err)
		}
		ma, err := anyone.QueueSubscribeSync("jobs.*", "g")
		if err != nil {
			t.Fatal(err)
		}
		flush(t, picky)
		flush(t, anyone)
		const n = 200
		for range n {
			anyone.Publish("jobs.secret", nil)
			anyone.Publish("jobs.open", nil)
		}
		flush(t, anyone)
		flush(t, picky)
		count := func(sub *nats.Subscription) map[string]int {
			got := map[string]int{}
			for {
				m, err := sub.NextMsg(0)
				if err != nil {
					return got
				}
				got[m.Subject]++
			}
		}
		// Both connections flushed after the publisher did: everything
		// delivered is in their pending queues.
		gp, ga := count(mp), count(ma)
		if gp["jobs.secret"] != 0 || ga["jobs.secret"] != n {
			t.Fatalf("jobs.secret: picky %d, any %d; want 0 and %d", gp["jobs.secret"], ga["jobs.secret"], n)
		}
		if gp["jobs.open"]+ga["jobs.open"] != n || gp["jobs.open"] == 0 || ga["jobs.open"] == 0 {
			t.Fatalf("jobs.open: picky %d, any %d; want %d shared by both", gp["jobs.open"], ga["jobs.open"], n)
		}
	})
}

const wildSubConf = `
authorization {
  users: [
    {user: w, password: w, permissions: {subscribe: {allow: ["events.>", "metrics.*.cpu"], deny: ["events.*.private"]}}}
  ]
}
`

// TestPermsWildcardSubscribe: wildcard subscriptions are checked as
// subjects against the allow and deny entries.
func TestPermsWildcardSubscribe(t *testing.T) {
	servers(t, wildSubConf, func(t *testing.T, addr string) {
		c := dialRaw(t, addr)
		c.connect(`{"verbose":false,"user":"w","pass":"w"}`)
		for i, tc := range []struct {
			subject string
			ok      bool
		}{
			{"events.*", true},
			{"events.>", true},
			{"events.a.*", true},
			{"events.*.private", false},
			{"events.a.private", false},
			{">", false},
			{"*.x", false},
			{"metrics.*.cpu", true},
			{"metrics.host.cpu", true},
			{"metrics.*.*", false},
			{"metrics.>", false},
		} {
			c.send(fmt.Sprintf("SUB %s %d\r\n", tc.subject, i))
			want := ""
			if !tc.ok {
				want = fmt.Sprintf("-ERR 'Permissions Violation for Subscription to %q'\r\n", tc.subject)
			}
			if got := c.flush(); got != want {
				t.Errorf("SUB %s: got %q, want %q", tc.subject, got, want)
			}
		}
	})
}
