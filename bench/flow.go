package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// queueName is the queue group of the Queue scenario's members and of the
// ReqRep responders.
const queueName = "canopy-bench"

// probeInterval is how long a publisher waits for its probe to show up at
// every subscriber before it sends another. Across a leaf hop, interest
// travels on its own schedule and nothing tells a client when it has
// arrived, so readiness is proven by a probe that gets through; on a single
// server the first probe already does.
const probeInterval = 20 * time.Millisecond

// flow runs the message-moving scenarios: Pub, PubSub, Queue and Leaf.
type flow struct {
	o      *Options
	res    *Result
	pr     *problems
	run    uint32
	epoch  time.Time
	groups []*group
	subs   []*client
	pubs   []*client
	send   []*sender
	sent   []atomic.Int64 // per publisher, for progress and the check
	// over is closed when the run returns, releasing the goroutines of
	// allClosed that still wait.
	over chan struct{}
}

func runFlow(ctx context.Context, o *Options, res *Result) error {
	f := &flow{o: o, res: res, pr: &problems{}, run: newRunID(), epoch: time.Now(), over: make(chan struct{})}
	defer func() {
		close(f.over)
		closeAll(f.subs)
		closeAll(f.pubs)
	}()
	if err := f.connect(); err != nil {
		return err
	}
	if err := f.ready(ctx); err != nil {
		return err
	}
	if err := f.warmup(ctx); err != nil {
		return err
	}
	return f.measure(ctx)
}

func (f *flow) connect() error {
	o := f.o
	if o.Scenario == Queue && o.Subs > 0 {
		f.groups = append(f.groups, newGroup(0, o, f.run, f.epoch))
	}
	for i := range o.Subs {
		g := f.groups
		if o.Scenario != Queue {
			f.groups = append(f.groups, newGroup(i, o, f.run, f.epoch))
			g = f.groups[i:]
		}
		m := newMember(g[0], i)
		c, err := connect(o, o.SubURL, fmt.Sprintf("canopy-bench-sub-%d", i), f.pr)
		if err != nil {
			return err
		}
		f.subs = append(f.subs, c)
		queue := ""
		if o.Scenario == Queue {
			queue = queueName
		}
		sub, err := c.nc.QueueSubscribe(o.Subject, queue, m.onMsg)
		if err != nil {
			return fmt.Errorf("bench: subscribe %s on %s: %w", o.Subject, c.name, err)
		}
		// The harness must never be the one that drops: the server decides
		// who is slow, and what it drops shows up as lost messages.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return fmt.Errorf("bench: pending limits: %w", err)
		}
		// The flush makes the server register the subscription before any
		// publisher of this run speaks.
		if err := c.nc.FlushTimeout(o.Timeout); err != nil {
			return fmt.Errorf("bench: flush %s: %w", c.name, err)
		}
	}
	f.sent = make([]atomic.Int64, o.Pubs)
	for i := range o.Pubs {
		c, err := connect(o, o.URL, fmt.Sprintf("canopy-bench-pub-%d", i), f.pr)
		if err != nil {
			return err
		}
		f.pubs = append(f.pubs, c)
		f.send = append(f.send, newSender(o, f.run, uint32(i)))
	}
	return nil
}

// allClosed returns a channel closed once every channel picked from the
// groups is closed.
func (f *flow) allClosed(pick func(*group) chan struct{}) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		for _, g := range f.groups {
			select {
			case <-pick(g):
			case <-f.over:
				return
			}
		}
		close(out)
	}()
	return out
}

// ready sends probes from every publisher until every group has seen one
// from each.
func (f *flow) ready(ctx context.Context) error {
	if len(f.groups) == 0 {
		return nil
	}
	all := f.allClosed(func(g *group) chan struct{} { return g.ready })
	deadline := time.NewTimer(f.o.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for seq := uint64(1); ; seq++ {
		for i, c := range f.pubs {
			if err := f.send[i].publish(c.nc, f.o.Subject, kindProbe, seq); err != nil {
				return fmt.Errorf("bench: probe from %s: %w", c.name, err)
			}
			if err := c.nc.Flush(); err != nil {
				return fmt.Errorf("bench: probe from %s: %w", c.name, err)
			}
		}
		select {
		case <-all:
			return nil
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("%w: no probe arrived within %v at %s", ErrNotReady, f.o.Timeout, f.o.SubURL)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *flow) warmup(ctx context.Context) error {
	o := f.o
	if o.Warmup == 0 {
		return nil
	}
	for _, g := range f.groups {
		g.setWarmExpected(o.Warmup)
	}
	for i, c := range f.pubs {
		for seq := uint64(1); int64(seq) <= share(o.Warmup, o.Pubs, i); seq++ {
			if err := f.send[i].publish(c.nc, o.Subject, kindWarmup, seq); err != nil {
				return fmt.Errorf("bench: warm-up on %s: %w", c.name, err)
			}
		}
		if err := c.nc.FlushTimeout(o.Timeout); err != nil {
			return fmt.Errorf("bench: warm-up flush on %s: %w", c.name, err)
		}
	}
	select {
	case <-f.allClosed(func(g *group) chan struct{} { return g.warmDone }):
		return nil
	case <-time.After(o.Timeout):
		var got []int64
		for _, g := range f.groups {
			got = append(got, g.warm.Load())
		}
		return fmt.Errorf("%w: warm-up: each subscriber group expected %d messages, got %v", ErrIntegrity, o.Warmup, got)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *flow) delivered() int64 {
	var n int64
	for _, g := range f.groups {
		n += g.received.Load()
	}
	return n
}

func (f *flow) published() int64 {
	var n int64
	for i := range f.sent {
		n += f.sent[i].Load()
	}
	return n
}

func (f *flow) measure(ctx context.Context) error {
	o, res := f.o, f.res
	if o.Count > 0 {
		for _, g := range f.groups {
			g.setExpected(o.Count)
		}
	}
	var bar *progress
	label := fmt.Sprintf("%s %s", o.Scenario, o.Label)
	// A run by duration has no known total (Count is 0): the bar becomes a
	// spinner with the count and the rate.
	if len(f.groups) == 0 {
		bar = startProgress(o.Progress, label, o.Count, f.published)
	} else {
		bar = startProgress(o.Progress, label, o.Count*int64(len(f.groups)), f.delivered)
	}
	defer bar.finish()

	start := time.Now()
	startNanos := int64(start.Sub(f.epoch))
	var deadline time.Time
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	var wg sync.WaitGroup
	errs := make([]error, o.Pubs)
	for i := range f.pubs {
		wg.Go(func() { errs[i] = f.publish(ctx, i, share(o.Count, o.Pubs, i), deadline) })
	}
	wg.Wait()
	pubSeconds := time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	sent := make([]int64, o.Pubs)
	for i := range sent {
		sent[i] = f.sent[i].Load()
		res.Sent += sent[i]
	}
	res.PubSeconds = pubSeconds
	res.PubMsgsPerSec = float64(res.Sent) / pubSeconds
	res.Expected = res.Sent * int64(len(f.groups))
	if len(f.groups) == 0 {
		res.Seconds = pubSeconds
		res.MsgsPerSec = res.PubMsgsPerSec
		res.MBPerSec = res.MsgsPerSec * float64(o.Size) / 1e6
		return f.problemsErr()
	}
	for _, g := range f.groups {
		g.setExpected(res.Sent)
	}

	// Wait for the last delivery, then drain: nats.go hands every message
	// it has already read to the handlers before it closes, so a duplicate
	// the server sent late is still counted.
	wait := time.NewTimer(o.Timeout)
	defer wait.Stop()
	select {
	case <-f.allClosed(func(g *group) chan struct{} { return g.done }):
	case <-wait.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	var last int64
	var bytes int64
	for _, g := range f.groups {
		last = max(last, g.lastNanos.Load())
	}
	var drainErrs []error
	for _, c := range f.subs {
		drainErrs = append(drainErrs, c.drain(o.Timeout))
	}
	for _, g := range f.groups {
		res.Received += g.received.Load()
		bytes += g.bytes.Load()
	}
	if secs := time.Duration(last - startNanos).Seconds(); secs > 0 {
		res.Seconds = secs
		res.MsgsPerSec = float64(res.Received) / secs
		res.MBPerSec = float64(bytes) / secs / 1e6
	}
	in := checkGroups(f.groups, sent)
	res.Lost, res.Duplicated, res.Reordered, res.Unexpected = in.lost, in.duplicated, in.reordered, in.unexpected
	if err := in.err(); err != nil {
		return err
	}
	if err := errors.Join(drainErrs...); err != nil {
		return err
	}
	return f.problemsErr()
}

func (f *flow) problemsErr() error {
	if ps := f.pr.all(); len(ps) > 0 {
		return fmt.Errorf("bench: %d connection problem(s): %v", len(ps), ps)
	}
	return nil
}

// publish sends one publisher's share, by count or until the deadline, then
// flushes: the PONG proves that the server has read every message.
func (f *flow) publish(ctx context.Context, i int, count int64, deadline time.Time) error {
	o, c, s := f.o, f.pubs[i], f.send[i]
	var lim *rate.Limiter
	if o.Rate > 0 {
		per := o.Rate / float64(o.Pubs)
		lim = rate.NewLimiter(rate.Limit(per), max(1, int(per/100)))
	}
	const checkEvery = 256
	var n int64
	defer func() { f.sent[i].Store(n) }()
	for count == 0 || n < count {
		if lim != nil || n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !deadline.IsZero() && !time.Now().Before(deadline) {
				break
			}
			f.sent[i].Store(n)
		}
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return err
			}
		}
		if err := s.publish(c.nc, o.Subject, kindData, uint64(n+1)); err != nil {
			return fmt.Errorf("bench: publish on %s: %w", c.name, err)
		}
		n++
	}
	if err := c.nc.FlushTimeout(o.Timeout); err != nil {
		return fmt.Errorf("bench: flush on %s: %w", c.name, err)
	}
	return nil
}
