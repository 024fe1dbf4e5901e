package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"
)

// Latencies are recorded in nanoseconds from 1 ns to one minute with three
// significant digits: about 0.1% resolution at any size, in roughly 200 KiB
// per histogram.
const (
	latencyMin     = 1
	latencyMax     = int64(time.Minute)
	latencyDigits  = 3
	readyRetryWait = 10 * time.Millisecond
)

// responder answers requests by echoing them, tag included, so the
// requester can check that the reply belongs to its request.
type responder struct {
	c       *client
	run     uint32
	inPay   bool
	handled atomic.Int64
	foreign atomic.Int64
}

func (r *responder) onMsg(m *nats.Msg) {
	t, ok := tagIn(m, r.inPay)
	if !ok || t.run != r.run {
		r.foreign.Add(1)
		return
	}
	if t.kind == kindData {
		r.handled.Add(1)
	}
	reply := nats.Msg{Subject: m.Reply, Data: m.Data, Header: m.Header}
	_ = r.c.nc.PublishMsg(&reply)
}

// requester state; each requester runs closed-loop: one request in flight.
type requester struct {
	c      *client
	s      *sender
	hist   *hdrhistogram.Histogram
	sent   atomic.Int64
	failed int64 // requests that got no reply in time
	wrong  int64 // replies that did not match their request
	note   string
}

func runReqRep(ctx context.Context, o *Options, res *Result) error {
	pr := &problems{}
	run := newRunID()
	inPay := o.Size >= tagLen
	var resps []*responder
	var reqs []*requester
	defer func() {
		for _, r := range resps {
			r.c.nc.Close()
		}
		for _, r := range reqs {
			r.c.nc.Close()
		}
	}()
	for i := range o.Subs {
		c, err := connect(o, o.SubURL, fmt.Sprintf("canopy-bench-responder-%d", i), pr)
		if err != nil {
			return err
		}
		r := &responder{c: c, run: run, inPay: inPay}
		resps = append(resps, r)
		if _, err := c.nc.QueueSubscribe(o.Subject, queueName, r.onMsg); err != nil {
			return fmt.Errorf("bench: subscribe %s on %s: %w", o.Subject, c.name, err)
		}
		if err := c.nc.FlushTimeout(o.Timeout); err != nil {
			return fmt.Errorf("bench: flush %s: %w", c.name, err)
		}
	}
	for i := range o.Pubs {
		c, err := connect(o, o.URL, fmt.Sprintf("canopy-bench-requester-%d", i), pr)
		if err != nil {
			return err
		}
		reqs = append(reqs, &requester{
			c:    c,
			s:    newSender(o, run, uint32(i)),
			hist: hdrhistogram.New(latencyMin, latencyMax, latencyDigits),
		})
	}
	if err := reqReady(ctx, o, reqs); err != nil {
		return err
	}

	label := fmt.Sprintf("%s %s", o.Scenario, o.Label)
	sentSum := func() int64 {
		var n int64
		for _, r := range reqs {
			n += r.sent.Load()
		}
		return n
	}
	bar := startProgress(o.Progress, label, o.Count, sentSum)
	start := time.Now()
	var deadline time.Time
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		wg.Go(func() { errs[i] = r.loop(ctx, o, share(o.Count, o.Pubs, i), deadline) })
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	bar.finish()

	hist := hdrhistogram.New(latencyMin, latencyMax, latencyDigits)
	var failed, wrong int64
	var notes []string
	for _, r := range reqs {
		res.Sent += r.sent.Load()
		hist.Merge(r.hist)
		failed += r.failed
		wrong += r.wrong
		if r.note != "" {
			notes = append(notes, r.note)
		}
	}
	res.Expected = res.Sent
	res.Received = hist.TotalCount()
	res.PubSeconds, res.Seconds = secs, secs
	res.PubMsgsPerSec = float64(res.Sent) / secs
	res.MsgsPerSec = float64(res.Received) / secs
	res.MBPerSec = res.MsgsPerSec * float64(o.Size) / 1e6
	res.Latency = latencyOf(hist)
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// Drain the responders so that every request the server delivered is
	// counted, then compare what they handled with what was asked.
	var handled, foreign int64
	var drainErrs []error
	for _, r := range resps {
		drainErrs = append(drainErrs, r.c.drain(o.Timeout))
		handled += r.handled.Load()
		foreign += r.foreign.Load()
	}
	res.Lost = failed
	res.Unexpected = wrong + foreign
	if handled > res.Sent {
		res.Duplicated = handled - res.Sent
		notes = append(notes, fmt.Sprintf("the responders handled %d requests, %d were sent", handled, res.Sent))
	}
	in := integrity{lost: res.Lost, duplicated: res.Duplicated, unexpected: res.Unexpected, notes: notes}
	if err := in.err(); err != nil {
		return err
	}
	if err := errors.Join(drainErrs...); err != nil {
		return err
	}
	if ps := pr.all(); len(ps) > 0 {
		return fmt.Errorf("bench: %d connection problem(s): %v", len(ps), ps)
	}
	return nil
}

// reqReady sends probe requests from every requester until each gets a reply.
// nats.go answers "no responders" at once while interest has not reached the
// requester's server, so the retry waits a little between attempts; there is
// no event to wait for instead.
func reqReady(ctx context.Context, o *Options, reqs []*requester) error {
	deadline := time.Now().Add(o.Timeout)
	for _, r := range reqs {
		for seq := uint64(1); ; seq++ {
			m := r.s.requestMsg(o.Subject, kindProbe, seq)
			_, err := r.c.nc.RequestMsg(m, probeInterval*5)
			if err == nil {
				break
			}
			if !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
				return fmt.Errorf("bench: probe request from %s: %w", r.c.name, err)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%w: no reply to a probe request within %v", ErrNotReady, o.Timeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(readyRetryWait):
			}
		}
	}
	return nil
}

// loop sends count requests (or until the deadline), one at a time, and
// records each round trip.
func (r *requester) loop(ctx context.Context, o *Options, count int64, deadline time.Time) error {
	var lim *rate.Limiter
	if o.Rate > 0 {
		per := o.Rate / float64(o.Pubs)
		lim = rate.NewLimiter(rate.Limit(per), 1)
	}
	for seq := uint64(1); count == 0 || int64(seq) <= count; seq++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			break
		}
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return err
			}
		}
		m := r.s.requestMsg(o.Subject, kindData, seq)
		t0 := time.Now()
		reply, err := r.c.nc.RequestMsg(m, o.Timeout)
		d := time.Since(t0)
		r.sent.Add(1)
		switch {
		case errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders):
			r.failed++
			if r.note == "" {
				r.note = fmt.Sprintf("lost: request %d of %s got no reply (%v)", seq, r.c.name, err)
			}
			continue
		case err != nil:
			return fmt.Errorf("bench: request from %s: %w", r.c.name, err)
		}
		got, ok := tagIn(reply, r.s.inPayload)
		if !ok || got != r.s.tag {
			r.wrong++
			if r.note == "" {
				r.note = fmt.Sprintf("unexpected: request %d of %s got a reply to another request", seq, r.c.name)
			}
			continue
		}
		_ = r.hist.RecordValue(max(int64(d), latencyMin))
	}
	return nil
}

// latencyOf summarises a histogram of round trips in nanoseconds, with the
// percentile curve the HTML report draws.
func latencyOf(hist *hdrhistogram.Histogram) *Latency {
	us := func(v int64) float64 { return float64(v) / 1e3 }
	l := &Latency{
		Count: hist.TotalCount(),
		Mean:  hist.Mean() / 1e3,
		P50:   us(hist.ValueAtQuantile(50)),
		P90:   us(hist.ValueAtQuantile(90)),
		P99:   us(hist.ValueAtQuantile(99)),
		P999:  us(hist.ValueAtQuantile(99.9)),
		Max:   us(hist.Max()),
	}
	for _, q := range curveQuantiles() {
		l.Percentiles = append(l.Percentiles, Percentile{Q: q, Us: us(hist.ValueAtQuantile(q))})
	}
	return l
}

// curveQuantiles are the percentiles a latency curve is drawn through: every
// two steps halve the distance to 100, as in HdrHistogram's own percentile
// output, so that the tail gets as many points as the body. They stop at
// 99.999; the maximum is Latency.Max.
func curveQuantiles() []float64 {
	var qs []float64
	for k := 0; ; k++ {
		q := 100 * (1 - math.Pow(2, -float64(k)/2))
		if q > 99.999 {
			return append(qs, 99.999)
		}
		qs = append(qs, q)
	}
}
