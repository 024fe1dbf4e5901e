package auth

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/conf"
)

func mustCompile(t testing.TB, p *conf.Permissions) *Permissions {
	t.Helper()
	c, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sp(allow, deny []string) *conf.SubjectPermission {
	return &conf.SubjectPermission{Allow: allow, Deny: deny}
}

func TestPublishPermissions(t *testing.T) {
	tests := []struct {
		name  string
		perm  *conf.SubjectPermission
		allow []string
		deny  []string
	}{
		{"nil allows all", nil, []string{"a", "a.b.c"}, nil},
		{"literal allow", sp([]string{"foo", "bar.baz"}, nil), []string{"foo", "bar.baz"}, []string{"foo.x", "bar", "baz"}},
		{"star", sp([]string{"foo.*"}, nil), []string{"foo.a", "foo.b"}, []string{"foo", "foo.a.b", "bar.a"}},
		{"full wildcard", sp([]string{"orders.>"}, nil), []string{"orders.a", "orders.a.b"}, []string{"orders", "order.a"}},
		{"middle star", sp([]string{"a.*.c"}, nil), []string{"a.b.c", "a.x.c"}, []string{"a.b", "a.b.c.d", "a.b.d"}},
		{"allow then deny", sp([]string{"orders.>"}, []string{"orders.secret", "orders.*.internal"}),
			[]string{"orders.a", "orders.a.b"}, []string{"orders.secret", "orders.x.internal", "other"}},
		{"deny only", sp(nil, []string{"secret.>", "admin"}), []string{"public", "admin.x", "secret"}, []string{"secret.a", "admin"}},
		{"empty allow denies all", sp([]string{}, nil), nil, []string{"a", "b.c"}},
		{"everything", sp([]string{">"}, []string{"$SYS.>"}), []string{"a", "b.c"}, []string{"$SYS.x"}},
		{"wildcard tokens inside words are literal", sp([]string{"a*.b"}, nil), []string{"a*.b"}, []string{"ax.b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, &conf.Permissions{Publish: tt.perm})
			c := NewChecker(p)
			for _, s := range tt.allow {
				if !p.CanPublish([]byte(s)) || !c.Publish([]byte(s)) || !c.Publish([]byte(s)) {
					t.Errorf("publish %q denied", s)
				}
			}
			for _, s := range tt.deny {
				if p.CanPublish([]byte(s)) || c.Publish([]byte(s)) || c.Publish([]byte(s)) {
					t.Errorf("publish %q allowed", s)
				}
			}
		})
	}
}

func TestSubscribePermissions(t *testing.T) {
	type sub struct {
		subject, queue string
		ok             bool
	}
	tests := []struct {
		name string
		perm *conf.SubjectPermission
		subs []sub
	}{
		{"allow wildcard", sp([]string{"updates.*", "jobs.>"}, nil), []sub{
			{"updates.a", "", true}, {"updates.*", "", true}, {"jobs.a.b", "", true}, {"jobs.*", "", true},
			{"jobs.>", "", true}, {"updates.a.b", "", false}, {"updates", "", false}, {">", "", false},
			{"*.a", "", false}, {"updates.a", "q", true},
		}},
		// nats-server matches a subscription subject against allow entries
		// as a subject, so "*" in an entry also matches a ">" token.
		{"star entry and full-wildcard sub", sp([]string{"foo.*"}, nil), []sub{{"foo.>", "", true}, {"foo.a", "", true}}},
		{"queue-qualified only", sp([]string{"jobs.* workers"}, nil), []sub{
			{"jobs.a", "workers", true}, {"jobs.a", "other", false}, {"jobs.a", "", false}, {"jobs.*", "workers", true},
		}},
		{"plain and queue entry", sp([]string{"foo", "foo v1"}, nil), []sub{
			{"foo", "", true}, {"foo", "v1", true}, {"foo", "v2", false},
		}},
		{"plain allows any queue", sp([]string{"foo"}, nil), []sub{{"foo", "any", true}, {"foo", "", true}}},
		{"wildcard queue name", sp([]string{"foo v1.*"}, nil), []sub{
			{"foo", "v1.a", true}, {"foo", "v1", false}, {"foo", "v1.*", true}, {"foo", "v2.a", false},
		}},
		{"deny", sp(nil, []string{"secret.>", "admin"}), []sub{
			{"secret.a", "", false}, {"secret.>", "", false}, {"admin", "", false}, {"public", "", true},
			// A wildcard that merely overlaps a deny entry is allowed; the
			// denied subjects are filtered at delivery.
			{">", "", true}, {"*", "", true}, {"secret", "", true},
		}},
		{"deny queue", sp(nil, []string{"foo bad"}), []sub{
			{"foo", "bad", false}, {"foo", "good", true}, {"foo", "", true},
		}},
		{"allow and deny", sp([]string{"a.>"}, []string{"a.b"}), []sub{
			{"a.b", "", false}, {"a.c", "", true}, {"a.*", "", true},
		}},
		{"empty allow list allows all", sp([]string{}, nil), []sub{{"anything", "", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, &conf.Permissions{Subscribe: tt.perm})
			c := NewChecker(p)
			for _, s := range tt.subs {
				if got := p.CanSubscribe(s.subject, s.queue); got != s.ok {
					t.Errorf("CanSubscribe(%q, %q) = %v, want %v", s.subject, s.queue, got, s.ok)
				}
				if got := c.Subscribe(s.subject, s.queue); got != s.ok {
					t.Errorf("Checker.Subscribe(%q, %q) = %v", s.subject, s.queue, got)
				}
			}
		})
	}
}

func TestDeliveryFilter(t *testing.T) {
	p := mustCompile(t, &conf.Permissions{Subscribe: sp(nil, []string{"secret.>", "foo.bar", "jobs.x bad"})})
	tests := []struct {
		sub, queue string
		need       bool
		deliver    map[string]bool
	}{
		{">", "", true, map[string]bool{"secret.a": false, "foo.bar": false, "foo.baz": true, "public": true, "jobs.x": true}},
		{"foo.*", "", true, map[string]bool{"foo.bar": false, "foo.baz": true}},
		{"public.>", "", false, nil},
		{"foo.baz", "", false, nil},
		{"jobs.*", "bad", true, map[string]bool{"jobs.x": false, "jobs.y": true}},
		{"jobs.*", "good", true, map[string]bool{"jobs.x": true}},
		{"jobs.x", "good", true, map[string]bool{"jobs.x": true}},
	}
	for _, tt := range tests {
		if got := p.NeedsDeliveryFilter(tt.sub, tt.queue); got != tt.need {
			t.Errorf("NeedsDeliveryFilter(%q, %q) = %v, want %v", tt.sub, tt.queue, got, tt.need)
		}
		for subj, ok := range tt.deliver {
			if denied := p.DeniedForDelivery([]byte(subj), tt.queue); denied == ok {
				t.Errorf("sub %q queue %q: delivering %q denied=%v", tt.sub, tt.queue, subj, denied)
			}
		}
	}
	var none *Permissions
	if none.NeedsDeliveryFilter(">", "") || none.DeniedForDelivery([]byte("x"), "") {
		t.Fatal("nil permissions filter nothing")
	}
}

func TestAllowResponses(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	newChecker := func(p *Permissions) *Checker {
		c := NewChecker(p)
		c.replies.now = clock.now
		return c
	}

	// allow_responses: true with no publish allow list: publishing is
	// "deny all except replies", one reply within 2 minutes.
	p := mustCompile(t, &conf.Permissions{Response: &conf.ResponsePermission{}})
	if r := p.Response(); r == nil || r.MaxMsgs != 1 || r.Expires != 2*time.Minute {
		t.Fatalf("defaults not applied: %+v", r)
	}
	c := newChecker(p)
	if c.Publish([]byte("anything")) {
		t.Fatal("publish allowed without a request")
	}
	c.AddReply([]byte("_INBOX.a"))
	if !c.Publish([]byte("_INBOX.a")) {
		t.Fatal("reply denied")
	}
	if c.Publish([]byte("_INBOX.a")) {
		t.Fatal("second reply allowed with max 1")
	}
	c.AddReply([]byte("_INBOX.b"))
	clock.advance(2*time.Minute + time.Second)
	if c.Publish([]byte("_INBOX.b")) {
		t.Fatal("expired reply allowed")
	}

	// max 3, expires 1s, alongside a publish allow list.
	p = mustCompile(t, &conf.Permissions{
		Publish:  sp([]string{"svc.>"}, nil),
		Response: &conf.ResponsePermission{MaxMsgs: 3, Expires: time.Second},
	})
	c = newChecker(p)
	c.AddReply([]byte("svc.reply")) // publishable anyway: not tracked
	if c.trackedReplies() != 0 {
		t.Fatal("publishable reply tracked")
	}
	c.AddReply([]byte("_INBOX.x"))
	for i := range 3 {
		if !c.Publish([]byte("_INBOX.x")) {
			t.Fatalf("reply %d denied", i+1)
		}
	}
	if c.Publish([]byte("_INBOX.x")) {
		t.Fatal("fourth reply allowed with max 3")
	}
	if !c.Publish([]byte("svc.a")) || c.Publish([]byte("other")) {
		t.Fatal("static permissions broken by reply tracking")
	}
	// Delivering the same reply subject again renews it.
	c.AddReply([]byte("_INBOX.y"))
	clock.advance(900 * time.Millisecond)
	c.AddReply([]byte("_INBOX.y"))
	clock.advance(900 * time.Millisecond)
	if !c.Publish([]byte("_INBOX.y")) {
		t.Fatal("renewed reply denied")
	}
	// Pruning drops used-up and expired entries.
	clock.advance(2 * time.Second)
	c.AddReply([]byte("_INBOX.z"))
	if n := c.trackedReplies(); n != 1 {
		t.Fatalf("%d replies tracked after prune, want 1", n)
	}
	// Negative values mean unlimited.
	p = mustCompile(t, &conf.Permissions{Response: &conf.ResponsePermission{MaxMsgs: -1, Expires: -1}})
	c = newChecker(p)
	c.AddReply([]byte("r"))
	clock.advance(time.Hour)
	for range 10 {
		if !c.Publish([]byte("r")) {
			t.Fatal("unlimited reply denied")
		}
	}
}

// TestAllowResponsesConcurrent runs the owner loop's Publish against
// other loops' AddReply, for the race detector.
func TestAllowResponsesConcurrent(t *testing.T) {
	p := mustCompile(t, &conf.Permissions{
		Publish:  sp([]string{"svc.>"}, nil),
		Response: &conf.ResponsePermission{MaxMsgs: 1 << 20, Expires: time.Hour},
	})
	c := NewChecker(p)
	var wg, rounds sync.WaitGroup
	stop := make(chan struct{})
	for g := range 3 {
		wg.Add(1)
		rounds.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c.AddReply(fmt.Appendf(nil, "_INBOX.%d.%d", g, i%64))
				p.CanPublish([]byte("svc.x"))
				p.DeniedForDelivery([]byte("svc.x"), "")
				if i == 63 {
					rounds.Done()
				}
			}
		}()
	}
	for i := range 20000 {
		c.Publish(fmt.Appendf(nil, "_INBOX.%d.%d", i%3, i%64))
		c.Publish([]byte("svc.a"))
	}
	// The publishing loop can finish before a goroutine is even scheduled
	// (it did, on 2 cores): stop only once each has added all its replies.
	rounds.Wait()
	close(stop)
	wg.Wait()
	for g := range 3 {
		subj := fmt.Appendf(nil, "_INBOX.%d.0", g)
		if !c.Publish(subj) {
			t.Fatalf("tracked reply %s denied", subj)
		}
	}
}

func TestCheckerCacheBound(t *testing.T) {
	p := mustCompile(t, &conf.Permissions{Publish: sp([]string{"a.*"}, nil)})
	c := NewChecker(p)
	for i := range 1000 {
		s := []byte("a." + string(rune('a'+i%26)) + string(rune('a'+i/26%26)))
		if !c.Publish(s) {
			t.Fatalf("%s denied", s)
		}
	}
	if len(c.pub) > maxVerdicts {
		t.Fatalf("cache holds %d verdicts, bound %d", len(c.pub), maxVerdicts)
	}
	var nilc = NewChecker(nil)
	if !nilc.Publish([]byte("x")) || !nilc.Subscribe(">", "") || nilc.pub != nil {
		t.Fatal("nil permissions allow everything without caching")
	}
	nilc.AddReply([]byte("x"))
}

func TestLeafPermissions(t *testing.T) {
	// The hub-side user: publish up.>, subscribe down.>.
	user := mustCompile(t, &conf.Permissions{
		Publish:   sp([]string{"up.>"}, []string{"up.secret"}),
		Subscribe: sp([]string{"down.>"}, []string{"down.no"}),
	})
	imp, exp := user.ImportExportJSON()
	if string(imp) != `{"allow":["down.>"],"deny":["down.no"]}` || string(exp) != `{"allow":["up.>"],"deny":["up.secret"]}` {
		t.Fatalf("import %s export %s", imp, exp)
	}
	hub := user.Swap().WithDeny(JetStreamDenies(), JetStreamDenies())
	// INFO keeps the configured lists, without the JetStream denies.
	if i, e := hub.LeafInfo(); len(i.Deny) != 1 || len(e.Deny) != 1 {
		t.Fatalf("INFO lists changed: %+v %+v", i, e)
	}
	// Hub -> leaf messages: allowed by S (subscribe).
	for subj, ok := range map[string]bool{"down.a": true, "down.no": false, "up.a": false, "$KV.b.c": false} {
		if hub.CanPublish([]byte(subj)) != ok {
			t.Errorf("hub->leaf %q: want %v", subj, ok)
		}
	}
	// Leaf -> hub LS+ for literals: allowed by S as well (the swapped
	// publish check), and the JetStream denies reject $KV.x.
	c := NewChecker(hub)
	for subj, ok := range map[string]bool{"down.b": true, "other": false, "$KV.x": false, "$JS.API.INFO": false} {
		if c.Publish([]byte(subj)) != ok {
			t.Errorf("leaf LS+ %q: want %v", subj, ok)
		}
	}
	// Leaf -> hub messages: the configured publish lists, no JS denies,
	// with _R_ and $JS.ACK exempt.
	for subj, ok := range map[string]bool{
		"up.a": true, "up.secret": false, "down.a": false, "_R_.abc": true, "$JS.ACK.s.c.1": true, "_R_.": false,
	} {
		if hub.LeafSendAllowed([]byte(subj)) != ok || c.LeafSend([]byte(subj)) != ok {
			t.Errorf("leaf LMSG %q: want %v", subj, ok)
		}
	}
	// Hub -> leaf LS+: literal subjects the leaf may publish, and wildcards
	// that could overlap (observed: up.a, > pass; down.b, other do not).
	for subj, ok := range map[string]bool{
		"up.a": true, ">": true, "down.b": false, "other": false, "*.a": true, "up.*": true,
		"up.secret": false, "down.>": false,
	} {
		if user.CouldOverlapPublish(subj) != ok || hub.CanSubscribe(subj, "") != ok {
			t.Errorf("hub LS+ %q: CouldOverlapPublish=%v hub.CanSubscribe=%v, want %v",
				subj, user.CouldOverlapPublish(subj), hub.CanSubscribe(subj, ""), ok)
		}
	}
	// Spoke side: publish = export + deny_exports, subscribe = import +
	// deny_imports, leaf semantics, no swap.
	spoke := mustCompile(t, &conf.Permissions{Publish: sp([]string{"up.>"}, nil), Subscribe: sp([]string{"foo.>", "_INBOX.>"}, nil)}).
		Leaf().WithDeny([]string{"up.private"}, []string{"foo.bad"})
	for subj, ok := range map[string]bool{"foo.a": true, "bar.y": false, "foo.bad": false, ">": true, "foo.*": true} {
		if spoke.CanSubscribe(subj, "") != ok {
			t.Errorf("spoke LS+ %q: want %v", subj, ok)
		}
	}
	if !spoke.CanPublish([]byte("up.a")) || spoke.CanPublish([]byte("up.private")) || spoke.CanPublish([]byte("zzz")) {
		t.Error("spoke publish filter")
	}
	same := SpokePermissions(&SubjectPermission{Allow: []string{"foo.>", "_INBOX.>"}}, &SubjectPermission{Allow: []string{"up.>"}},
		[]string{"foo.bad"}, []string{"up.private"})
	for subj, ok := range map[string]bool{"foo.a": true, "bar.y": false, "foo.bad": false, ">": true} {
		if same.CanSubscribe(subj, "") != ok {
			t.Errorf("SpokePermissions LS+ %q: want %v", subj, ok)
		}
	}
	if !same.CanPublish([]byte("up.a")) || same.CanPublish([]byte("up.private")) || same.CanPublish([]byte("zzz")) {
		t.Error("SpokePermissions publish filter")
	}
	early := SpokePermissions(nil, nil, []string{"no.in"}, []string{"no.out"})
	if early.CanPublish([]byte("no.out")) || !early.CanPublish([]byte("x")) || early.CanSubscribe("no.in", "") || !early.CanSubscribe("y", "") {
		t.Error("SpokePermissions before INFO")
	}
	// Without leaf semantics a wildcard must be covered by an entry.
	plain := mustCompile(t, &conf.Permissions{Subscribe: sp([]string{"foo.>"}, nil)})
	if plain.CanSubscribe(">", "") {
		t.Error("client subscription > allowed by foo.>")
	}
	// WithDeny on nil permissions and on duplicates.
	var none *Permissions
	d := none.WithDeny([]string{"a", "a", "b c"}, []string{"x q"})
	if d.CanPublish([]byte("a")) || !d.CanPublish([]byte("z")) || d.CanPublish([]byte("b")) {
		t.Error("WithDeny on nil")
	}
	if d.CanSubscribe("x", "q") || !d.CanSubscribe("x", "") {
		t.Error("WithDeny queue deny")
	}
	if none.Swap() != nil || none.Leaf() != nil {
		t.Error("nil stays nil")
	}
	if i, e := none.ImportExportJSON(); i != nil || e != nil {
		t.Error("nil has no INFO lists")
	}
}

func TestLeafExemptions(t *testing.T) {
	for subj, ok := range map[string]bool{
		"$LDS.abc": true, "_GR_.x.y": true, "$GR.x": true, "$LDSX": false, "foo": false, "": false, "_R_.x": false,
	} {
		if LeafSubExempt([]byte(subj)) != ok {
			t.Errorf("LeafSubExempt(%q) want %v", subj, ok)
		}
	}
	for subj, ok := range map[string]bool{
		"_R_.x": true, "$JS.ACK.a.b": true, "$JS.ACK.": false, "_R_": false, "foo": false, "$LDS.x": false,
	} {
		if LeafMsgExempt([]byte(subj)) != ok {
			t.Errorf("LeafMsgExempt(%q) want %v", subj, ok)
		}
	}
}

func TestResponsePermissionsAndPublishList(t *testing.T) {
	// A publish deny survives allow_responses turning the allow list off.
	p := mustCompile(t, &conf.Permissions{
		Publish:  sp(nil, []string{"x"}),
		Response: &conf.ResponsePermission{MaxMsgs: 2},
	})
	if p.CanPublish([]byte("y")) {
		t.Fatal("allow_responses must deny unlisted publishes")
	}
	_, exp := p.LeafInfo()
	b, _ := json.Marshal(exp)
	if string(b) != `{"deny":["x"]}` {
		t.Fatalf("export %s", b)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, p := range []*conf.Permissions{
		{Publish: sp([]string{"a b"}, nil)},
		{Publish: sp(nil, []string{""})},
		{Subscribe: sp([]string{"a.>.b"}, nil)},
		{Subscribe: sp(nil, []string{"a b c"})},
		{Subscribe: sp([]string{"a q\tr"}, nil)},
	} {
		if _, err := Compile(p); err == nil {
			t.Errorf("Compile(%+v %+v) accepted", p.Publish, p.Subscribe)
		}
	}
	if p, err := Compile(nil); p != nil || err != nil {
		t.Fatal("Compile(nil) must be nil, nil")
	}
}
