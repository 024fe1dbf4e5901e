//go:build !race

package auth

import (
	"testing"

	"github.com/canopy-nats/canopy/conf"
)

// Allocation budgets: the publish checks on the hot path allocate nothing.
func TestAllocations(t *testing.T) {
	p := mustCompile(t, &conf.Permissions{
		Publish:   sp([]string{"orders.>", "metrics.*.cpu", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t"}, []string{"orders.secret.>"}),
		Subscribe: sp(nil, []string{"secret.>", "foo.bar baz"}),
	})
	long := []byte("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t") // longer than 32 bytes
	tests := []struct {
		name string
		fn   func()
	}{
		{"CanPublish wildcard hit", func() { p.CanPublish([]byte("orders.eu.1234")) }},
		{"CanPublish literal long", func() { p.CanPublish(long) }},
		{"CanPublish miss", func() { p.CanPublish([]byte("nothing.here.at.all")) }},
		{"DeniedForDelivery", func() { p.DeniedForDelivery([]byte("secret.plans.x"), "baz") }},
		{"LeafSendAllowed", func() { p.LeafSendAllowed([]byte("orders.1")) }},
	}
	c := NewChecker(p)
	hit := []byte("orders.eu.1234.with.a.long.subject.name")
	c.Publish(hit)
	c.LeafSend(hit)
	tests = append(tests,
		struct {
			name string
			fn   func()
		}{"Checker.Publish hit", func() { c.Publish(hit) }},
		struct {
			name string
			fn   func()
		}{"Checker.LeafSend hit", func() { c.LeafSend(hit) }},
	)
	for _, tt := range tests {
		if n := testing.AllocsPerRun(1000, tt.fn); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
}
