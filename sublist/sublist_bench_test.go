package sublist

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server/gsl"
)

// Every workload runs twice, as impl=canopy and impl=gsl, where gsl is
// nats-server v2.15.2's generic sublist (server/gsl). Compare them with
//
//	go test -run '^$' -bench . -count 5 ./sublist/ > bench.txt
//	benchstat -col /impl bench.txt
//
// gsl has no cache, no queue groups and no result value: its Match walks the
// tree and calls back once per subscription. Canopy's Match returns a cached
// Result. Each benchmark consumes what it gets (counts the subscriptions) so
// neither side does less work than a publisher would. Canopy is given the
// subject as []byte, as a publish arrives; gsl is given a string, its best
// case, because its MatchBytes copies the subject to the heap.
//
// Besides wall time, each benchmark reports cpu-ns/op: the process's CPU
// time (all threads, so garbage collection counts) per op. On a shared,
// loaded machine wall time mostly measures the neighbours; CPU time is
// much steadier.

const benchSubs = 10_000

// cpuMeter accumulates the process's CPU time while running.
type cpuMeter struct {
	b     *testing.B
	total time.Duration
	since time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuMeter {
	return &cpuMeter{b: b, since: processCPU()}
}

func (m *cpuMeter) pause()  { m.total += processCPU() - m.since }
func (m *cpuMeter) resume() { m.since = processCPU() }

// report stops the meter and reports CPU time per op; call it after the
// benchmark loop, when b.N is final.
func (m *cpuMeter) report() {
	m.pause()
	m.b.ReportMetric(float64(m.total.Nanoseconds())/float64(m.b.N), "cpu-ns/op")
}

// benchFixture is a reproducible subscription set: subjects of three to five
// tokens over growing alphabets, about a tenth of the tokens "*" and a
// twentieth of the subjects ending in ">", plus a few subscriptions on the
// hot subjects that the match benchmarks publish to.
type benchFixture struct {
	subjects []string
	values   []*int
}

func newBenchFixture(n int) *benchFixture {
	rng := rand.New(rand.NewPCG(1, 2))
	f := &benchFixture{}
	for range n {
		f.subjects = append(f.subjects, randomSubject(rng, true))
		f.values = append(f.values, new(int))
	}
	// The hot subject reaches five subscriptions: three literal, two wildcard.
	for _, s := range []string{hotSubject, hotSubject, hotSubject, "bench.*.subject", "bench.>"} {
		f.subjects = append(f.subjects, s)
		f.values = append(f.values, new(int))
	}
	// A subject with a fan-out of 100.
	for range 100 {
		f.subjects = append(f.subjects, fanoutSubject)
		f.values = append(f.values, new(int))
	}
	return f
}

const (
	hotSubject    = "bench.hot.subject"
	fanoutSubject = "bench.fanout.subject"
)

var tokenAlphabet = []int{10, 20, 50, 100, 100}

// randomSubject returns a subject in the fixture's shape; with wildcards
// false it is a literal, as published.
func randomSubject(rng *rand.Rand, wildcards bool) string {
	depth := 3 + rng.IntN(3)
	toks := make([]string, depth)
	for i := range toks {
		toks[i] = fmt.Sprintf("t%d", rng.IntN(tokenAlphabet[i]))
		if wildcards && i > 0 && rng.IntN(10) == 0 {
			toks[i] = "*"
		}
	}
	if wildcards && rng.IntN(20) == 0 {
		toks[depth-1] = ">"
	}
	return strings.Join(toks, ".")
}

func (f *benchFixture) canopy(tb testing.TB) *Sublist[*int] {
	s := New[*int]()
	for i, subj := range f.subjects {
		if err := s.Insert(subj, "", f.values[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

func (f *benchFixture) gsl(tb testing.TB) *gsl.GenericSublist[*int] {
	s := gsl.NewSublist[*int]()
	for i, subj := range f.subjects {
		if err := s.Insert(subj, f.values[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// consume counts a Result's subscriptions, as a publisher's fan-out loop
// would visit them.
func consume(r *Result[*int]) int {
	n := len(r.Plain)
	for _, g := range r.Groups {
		n += len(g.Members)
	}
	return n
}

func BenchmarkInsert(b *testing.B) {
	f := newBenchFixture(benchSubs)
	// Each op inserts one subscription; the index is rebuilt from empty
	// every len(subjects) ops, off the clock.
	b.Run("impl=canopy", func(b *testing.B) {
		b.ReportAllocs()
		s := New[*int]()
		i := 0
		cpu := startCPU(b)
		defer cpu.report()
		for b.Loop() {
			if i == len(f.subjects) {
				b.StopTimer()
				cpu.pause()
				s, i = New[*int](), 0
				cpu.resume()
				b.StartTimer()
			}
			if err := s.Insert(f.subjects[i], "", f.values[i]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("impl=gsl", func(b *testing.B) {
		b.ReportAllocs()
		s := gsl.NewSublist[*int]()
		i := 0
		cpu := startCPU(b)
		defer cpu.report()
		for b.Loop() {
			if i == len(f.subjects) {
				b.StopTimer()
				cpu.pause()
				s, i = gsl.NewSublist[*int](), 0
				cpu.resume()
				b.StartTimer()
			}
			if err := s.Insert(f.subjects[i], f.values[i]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkRemove(b *testing.B) {
	f := newBenchFixture(benchSubs)
	// Each op removes one subscription; the index is refilled off the clock
	// once empty. The shared cache is warm, as it would be in a server, so
	// Canopy's removes pay for invalidation.
	b.Run("impl=canopy", func(b *testing.B) {
		b.ReportAllocs()
		s := f.canopy(b)
		i := 0
		cpu := startCPU(b)
		defer cpu.report()
		for b.Loop() {
			if i == len(f.subjects) {
				b.StopTimer()
				cpu.pause()
				s, i = f.canopy(b), 0
				for j := range 4096 {
					s.Match([]byte(f.subjects[j]))
				}
				cpu.resume()
				b.StartTimer()
			}
			if err := s.Remove(f.subjects[i], "", f.values[i]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("impl=gsl", func(b *testing.B) {
		b.ReportAllocs()
		s := f.gsl(b)
		i := 0
		cpu := startCPU(b)
		defer cpu.report()
		for b.Loop() {
			if i == len(f.subjects) {
				b.StopTimer()
				cpu.pause()
				s, i = f.gsl(b), 0
				cpu.resume()
				b.StartTimer()
			}
			if err := s.Remove(f.subjects[i], f.values[i]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkMatchLiteral publishes to one subject over and over: a shared
// cache hit for Canopy, a tree walk for gsl.
func BenchmarkMatchLiteral(b *testing.B) {
	benchMatchOne(b, hotSubject, 5)
}

// BenchmarkMatchFanout is the same with 102 subscribers on the subject (100
// literal, two wildcard).
func BenchmarkMatchFanout(b *testing.B) {
	benchMatchOne(b, fanoutSubject, 102)
}

func benchMatchOne(b *testing.B, subject string, want int) {
	f := newBenchFixture(benchSubs)
	subj := []byte(subject)
	b.Run("impl=canopy", func(b *testing.B) {
		b.ReportAllocs()
		s := f.canopy(b)
		if n := consume(s.Match(subj)); n != want {
			b.Fatalf("%d matches, want %d", n, want)
		}
		cpu := startCPU(b)
		defer cpu.report()
		for b.Loop() {
			consume(s.Match(subj))
		}
	})
	b.Run("impl=canopy-l1", func(b *testing.B) {
		b.ReportAllocs()
		c := NewCache(f.canopy(b), 0)
		if n := consume(c.Match(subj)); n != want {
			b.Fatalf("%d matches, want %d", n, want)
		}
		cpu := startCPU(b)
		defer cpu.report()
		for b.Loop() {
			consume(c.Match(subj))
		}
	})
	b.Run("impl=gsl", func(b *testing.B) {
		b.ReportAllocs()
		s := f.gsl(b)
		n := 0
		count := func(*int) { n++ }
		s.Match(subject, count)
		if n != want {
			b.Fatalf("%d matches, want %d", n, want)
		}
		cpu := startCPU(b)
		defer cpu.report()
		for b.Loop() {
			s.Match(subject, count)
		}
	})
}

// BenchmarkMatchMiss publishes to 100,000 distinct subjects in turn, far
// more than Canopy's caches hold, so nearly every Match walks the tree,
// builds a Result and evicts an entry.
func BenchmarkMatchMiss(b *testing.B) {
	f := newBenchFixture(benchSubs)
	rng := rand.New(rand.NewPCG(3, 4))
	pubs := make([][]byte, 100_000)
	strs := make([]string, len(pubs))
	for i := range pubs {
		strs[i] = randomSubject(rng, false)
		pubs[i] = []byte(strs[i])
	}
	b.Run("impl=canopy", func(b *testing.B) {
		b.ReportAllocs()
		s := f.canopy(b)
		i := 0
		cpu := startCPU(b)
		defer cpu.report()
		for b.Loop() {
			consume(s.Match(pubs[i]))
			if i++; i == len(pubs) {
				i = 0
			}
		}
	})
	b.Run("impl=canopy-l1", func(b *testing.B) {
		b.ReportAllocs()
		c := NewCache(f.canopy(b), 0)
		i := 0
		cpu := startCPU(b)
		defer cpu.report()
		for b.Loop() {
			consume(c.Match(pubs[i]))
			if i++; i == len(pubs) {
				i = 0
			}
		}
	})
	b.Run("impl=gsl", func(b *testing.B) {
		b.ReportAllocs()
		s := f.gsl(b)
		n := 0
		count := func(*int) { n++ }
		i := 0
		cpu := startCPU(b)
		defer cpu.report()
		for b.Loop() {
			s.Match(strs[i], count)
			if i++; i == len(pubs) {
				i = 0
			}
		}
	})
}

// BenchmarkMatchParallel publishes to the hot subject from every P at once.
func BenchmarkMatchParallel(b *testing.B) {
	f := newBenchFixture(benchSubs)
	subj := []byte(hotSubject)
	b.Run("impl=canopy", func(b *testing.B) {
		b.ReportAllocs()
		s := f.canopy(b)
		s.Match(subj)
		cpu := startCPU(b)
		defer cpu.report()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				consume(s.Match(subj))
			}
		})
	})
	b.Run("impl=canopy-l1", func(b *testing.B) {
		b.ReportAllocs()
		s := f.canopy(b)
		cpu := startCPU(b)
		defer cpu.report()
		b.RunParallel(func(pb *testing.PB) {
			c := NewCache(s, 0) // one per goroutine, as one per event loop
			for pb.Next() {
				consume(c.Match(subj))
			}
		})
	})
	b.Run("impl=gsl", func(b *testing.B) {
		b.ReportAllocs()
		s := f.gsl(b)
		cpu := startCPU(b)
		defer cpu.report()
		b.RunParallel(func(pb *testing.PB) {
			n := 0
			count := func(*int) { n++ }
			for pb.Next() {
				s.Match(hotSubject, count)
			}
		})
	})
}

// BenchmarkChurn is request/reply seen from the index: each op subscribes a
// fresh inbox, publishes to the hot subject and unsubscribes the inbox.
// With a literal inbox per request (old-style requests) and with a
// wildcard inbox (a connection's new-style inbox coming and going).
func BenchmarkChurn(b *testing.B) {
	f := newBenchFixture(benchSubs)
	subj := []byte(hotSubject)
	for _, kind := range []struct{ name, format string }{
		{"literal", "_INBOX.a1b2c3d4e5.%d"},
		{"wildcard", "_INBOX.a1b2c3d4e5%d.*"},
	} {
		inboxes := make([]string, 4096)
		for i := range inboxes {
			inboxes[i] = fmt.Sprintf(kind.format, i)
		}
		v := new(int)
		b.Run("inbox="+kind.name+"/impl=canopy-l1", func(b *testing.B) {
			b.ReportAllocs()
			s := f.canopy(b)
			c := NewCache(s, 0)
			i := 0
			cpu := startCPU(b)
			defer cpu.report()
			for b.Loop() {
				inbox := inboxes[i%len(inboxes)]
				if err := s.Insert(inbox, "", v); err != nil {
					b.Fatal(err)
				}
				consume(c.Match(subj))
				if err := s.Remove(inbox, "", v); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		// What a single global generation would cost: every change
		// invalidates every cached result (here by moving the root epoch,
		// which every entry checks).
		b.Run("inbox="+kind.name+"/impl=canopy-l1-globalgen", func(b *testing.B) {
			b.ReportAllocs()
			s := f.canopy(b)
			c := NewCache(s, 0)
			i := 0
			cpu := startCPU(b)
			defer cpu.report()
			for b.Loop() {
				inbox := inboxes[i%len(inboxes)]
				if err := s.Insert(inbox, "", v); err != nil {
					b.Fatal(err)
				}
				s.cache.root.Add(1)
				consume(c.Match(subj))
				if err := s.Remove(inbox, "", v); err != nil {
					b.Fatal(err)
				}
				s.cache.root.Add(1)
				i++
			}
		})
		b.Run("inbox="+kind.name+"/impl=gsl", func(b *testing.B) {
			b.ReportAllocs()
			s := f.gsl(b)
			n := 0
			count := func(*int) { n++ }
			i := 0
			cpu := startCPU(b)
			defer cpu.report()
			for b.Loop() {
				inbox := inboxes[i%len(inboxes)]
				if err := s.Insert(inbox, v); err != nil {
					b.Fatal(err)
				}
				s.Match(hotSubject, count)
				if err := s.Remove(inbox, v); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
