package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The chaos suite (`make chaos`): the same abuse against each server it is
// given, each started from the same configuration as a hub with a leaf
// that solicits it, and the same checks after every scenario. It is a
// command rather than a test because it runs for minutes, starts server
// processes and prints a table to compare; its pass or fail is the exit
// code of cmd/canopy-chaos.

// ErrChaos is wrapped by the error RunChaos returns when a check failed.
var ErrChaos = errors.New("bench: chaos check failed")

// ChaosOptions say what RunChaos runs against.
type ChaosOptions struct {
	// Servers are run one after the other, each through every scenario;
	// the table puts their rows side by side.
	Servers []ServerSpec
	// Dir holds the configs and logs (a temporary directory when empty).
	Dir string
	// Only, when set, runs the scenarios whose names contain it.
	Only string
	// Seed makes the fuzzed traffic the same for every server.
	Seed uint64
	// Progress, when set, gets a line per scenario as it ends.
	Progress io.Writer
	// Profiles, when set, is a directory that gets each hub's heap
	// profile after each scenario (SERVER-SCENARIO.heap, for go tool
	// pprof), to see what a server kept.
	Profiles string
}

// ChaosResult is one scenario's outcome on one server.
type ChaosResult struct {
	Scenario            string
	Server              string
	Problems            []string // empty: passed
	PingRTT             time.Duration
	Settle              time.Duration // until /varz counts were back at their baseline
	HeapBase, HeapAfter int64
	RSSBase, RSSAfter   int64
	FlowRecv, FlowDup   int64 // steady-flow messages received and duplicated during the scenario
	FlowBad             int64 // corrupted or out of order
	Notes               string
}

// OK reports whether every check passed.
func (r *ChaosResult) OK() bool { return len(r.Problems) == 0 }

func (r *ChaosResult) fail(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

func (r *ChaosResult) note(format string, args ...any) {
	if r.Notes != "" {
		r.Notes += ", "
	}
	r.Notes += fmt.Sprintf(format, args...)
}

// Bounds of the checks. They are generous because the machine is small and
// shared; a healthy server meets them by far.
const (
	chaosPingBound   = 2 * time.Second  // PING to PONG on a new connection
	chaosSettleBound = 20 * time.Second // /varz counts back at the baseline
	chaosFlowBound   = 10 * time.Second // the steady flow delivering again
	chaosHeapSlack   = 32 << 20         // live heap over the baseline allowed (see check)
	chaosRSSSlack    = 128 << 20        // resident memory over twice the baseline allowed
)

// Users of the hub's client port. The bcrypt user's hash is made at start
// (cost 10, nats-server's passwd tool's default is 11).
const (
	chaosUser, chaosPass = "chk", "chkpw"
	chaosBcryptUser      = "bc"
	chaosBcryptPass      = "bcpw"
	chaosLeafUser        = "leaf"
	chaosLeafPass        = "leafpw"
	chaosFlowSubject     = "chaos.flow.steady"
)

// rig is one server kind's hub and leaf, with the ports the scenarios use.
type rig struct {
	spec     ServerSpec
	dir      string
	hub      *process
	leaf     *process
	hubConf  string // the hub's config file, rewritten by the reload storm
	hubText  string
	leafPort int
	httpPort int
	profPort int
	leafHTTP int
	flow     *steadyFlow
	base     chaosSample
	base0    chaosSample // the baseline of the hub as first started
}

// chaosSample is what a server's monitoring says at one moment.
type chaosSample struct {
	Conns, Leafs, Subs int
	Slow               int64
	RSS, Heap          int64
}

func (s chaosSample) counts() string {
	return fmt.Sprintf("connections %d, leafnodes %d, subscriptions %d", s.Conns, s.Leafs, s.Subs)
}

// hubExtra is the hub's config past its listen line: client users, leafnode
// port with its own user, monitoring and profiling.
func hubExtra(leafPort, httpPort, profPort int, bcryptHash string, extraUser bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "http: \"127.0.0.1:%d\"\nprof_port: %d\n", httpPort, profPort)
	b.WriteString("authorization {\n  users = [\n")
	fmt.Fprintf(&b, "    {user: %s, password: %s}\n", chaosUser, chaosPass)
	fmt.Fprintf(&b, "    {user: %s, password: %q}\n", chaosBcryptUser, bcryptHash)
	if extraUser {
		b.WriteString("    {user: tmp, password: tmppw, permissions: {publish: [\"tmp.>\"]}}\n")
	}
	b.WriteString("  ]\n}\n")
	fmt.Fprintf(&b, "leafnodes {\n  listen: \"127.0.0.1:%d\"\n  authorization { user: %s, password: %s }\n}\n", leafPort, chaosLeafUser, chaosLeafPass)
	return b.String()
}

// startRig starts spec's hub and leaf, the steady flow across them, and
// takes the baseline.
func startRig(ctx context.Context, spec ServerSpec, dir, bcryptHash string) (*rig, error) {
	r := &rig{spec: spec, dir: dir}
	var err error
	for _, p := range []*int{&r.leafPort, &r.httpPort, &r.profPort, &r.leafHTTP} {
		if *p, err = freeLoopbackPort(); err != nil {
			return nil, err
		}
	}
	hubCfg := serverConfig{maxPayload: 1 << 20, extra: hubExtra(r.leafPort, r.httpPort, r.profPort, bcryptHash, false)}
	if r.hub, err = startServer(ctx, spec, dir, "hub", hubCfg); err != nil {
		return nil, err
	}
	r.hubConf = filepath.Join(dir, "hub.conf")
	b, err := os.ReadFile(r.hubConf)
	if err != nil {
		r.stop()
		return nil, err
	}
	r.hubText = string(b)
	leafCfg := serverConfig{maxPayload: 1 << 20, extra: fmt.Sprintf(
		"http: \"127.0.0.1:%d\"\nleafnodes {\n  remotes = [ {url: \"nats-leaf://%s:%s@127.0.0.1:%d\"} ]\n}\n",
		r.leafHTTP, chaosLeafUser, chaosLeafPass, r.leafPort)}
	if r.leaf, err = startServer(ctx, spec, dir, "leaf", leafCfg); err != nil {
		r.stop()
		return nil, err
	}
	if r.flow, err = startSteadyFlow(r.hubURL(), "nats://"+r.leaf.addr); err != nil {
		r.stop()
		return nil, err
	}
	if err := r.flow.waitFlowing(time.Now(), 30*time.Second); err != nil {
		r.stop()
		return nil, fmt.Errorf("bench: %s: %w", spec.Name, err)
	}
	// The baseline is taken once the link is up and the flow has run a
	// moment, so that start-up allocations are in it.
	time.Sleep(time.Second)
	if r.base, err = r.sample(true); err != nil {
		r.stop()
		return nil, err
	}
	r.base0 = r.base
	return r, nil
}

func (r *rig) hubURL() string {
	return fmt.Sprintf("nats://%s:%s@%s", chaosUser, chaosPass, r.hub.addr)
}

func (r *rig) stop() {
	if r.flow != nil {
		r.flow.stop()
	}
	if r.leaf != nil {
		r.leaf.stop()
	}
	if r.hub != nil {
		r.hub.stop()
	}
}

// varz is the part of /varz the checks read; both servers name the fields
// alike.
type varz struct {
	Connections   int   `json:"connections"`
	Leafnodes     int   `json:"leafnodes"`
	Subscriptions int   `json:"subscriptions"`
	SlowConsumers int64 `json:"slow_consumers"`
	Mem           int64 `json:"mem"`
}

var chaosHTTP = &http.Client{Timeout: 5 * time.Second}

func getVarz(port int) (varz, error) {
	var v varz
	resp, err := chaosHTTP.Get(fmt.Sprintf("http://127.0.0.1:%d/varz", port))
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v, err
}

// liveHeap asks the profiling port for the heap profile after a garbage
// collection and reads the bytes still allocated from its MemStats
// comment: the live heap, the same measure for both servers.
func liveHeap(port int) (int64, error) {
	// The first request's collection moves what sync.Pools hold to their
	// victim caches; the second's frees it, so that pooled buffers do not
	// count as live.
	if resp, err := chaosHTTP.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", port)); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := chaosHTTP.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1&debug=1", port))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("bench: no HeapAlloc in the heap profile")
}

// sample reads the hub's counts, and its memory when mem is set.
func (r *rig) sample(mem bool) (chaosSample, error) {
	v, err := getVarz(r.httpPort)
	if err != nil {
		return chaosSample{}, err
	}
	s := chaosSample{Conns: v.Connections, Leafs: v.Leafnodes, Subs: v.Subscriptions, Slow: v.SlowConsumers}
	if !mem {
		return s, nil
	}
	if s.RSS, err = readRSS(r.hub.pid); err != nil {
		return s, err
	}
	s.Heap, err = liveHeap(r.profPort)
	return s, err
}

// ping opens a new client connection to the hub and times CONNECT+PING to
// PONG.
func (r *rig) ping(bound time.Duration) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", r.hub.addr, bound)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(bound))
	br := bufio.NewReader(c)
	if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "INFO ") {
		return 0, fmt.Errorf("greeting %q: %v", l, err)
	}
	fmt.Fprintf(c, "CONNECT {\"user\":%q,\"pass\":%q,\"verbose\":false}\r\nPING\r\n", chaosUser, chaosPass)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("no PONG within %v: %v", bound, err)
		}
		if l == "PONG\r\n" {
			return time.Since(start), nil
		}
		if strings.HasPrefix(l, "-ERR") {
			return 0, fmt.Errorf("PING refused: %q", strings.TrimSpace(l))
		}
	}
}

// check runs the checks every scenario ends with, into res.
func (r *rig) check(res *ChaosResult, flowBefore flowCounts) {
	if err := r.hub.alive(); err != nil {
		res.fail("hub exited: %v", err)
		return
	}
	start := time.Now()
	var cur chaosSample
	var err error
	for {
		cur, err = r.sample(false)
		if err == nil && cur.Conns == r.base.Conns && cur.Leafs == r.base.Leafs && cur.Subs == r.base.Subs {
			break
		}
		if time.Since(start) > chaosSettleBound {
			if err != nil {
				res.fail("/varz: %v", err)
			} else {
				res.fail("/varz after %v: %s; baseline %s", chaosSettleBound, cur.counts(), r.base.counts())
				// What stayed is counted once, here: the next scenarios
				// are measured from where this one left the server.
				r.base.Conns, r.base.Leafs, r.base.Subs = cur.Conns, cur.Leafs, cur.Subs
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.Settle = time.Since(start)
	if res.PingRTT, err = r.ping(chaosPingBound); err != nil {
		res.fail("PING: %v", err)
	}
	if err := r.flow.waitFlowing(time.Now(), chaosFlowBound); err != nil {
		res.fail("%v", err)
	}
	after := r.flow.counts()
	res.FlowRecv = after.recv - flowBefore.recv
	res.FlowDup = after.dup - flowBefore.dup
	res.FlowBad = after.bad - flowBefore.bad
	if res.FlowDup != 0 || res.FlowBad != 0 {
		res.fail("steady flow: %d duplicated, %d corrupted or out of order", res.FlowDup, res.FlowBad)
	}
	mem, err := r.sample(true)
	if err != nil {
		res.fail("memory: %v", err)
		return
	}
	res.HeapBase, res.HeapAfter = r.base.Heap, mem.Heap
	res.RSSBase, res.RSSAfter = r.base.RSS, mem.RSS
	// Right after the abuse the heap may still hold buffers the server
	// frees on its next timer, and the Go runtime hands freed memory back
	// to the system over seconds: give both up to 10 s before failing.
	heapHigh := func(m chaosSample) bool { return m.Heap > r.base.Heap+chaosHeapSlack }
	rssHigh := func(m chaosSample) bool { return m.RSS > 2*r.base.RSS+chaosRSSSlack }
	for i := 0; i < 20 && (heapHigh(mem) || rssHigh(mem)); i++ {
		time.Sleep(500 * time.Millisecond)
		if m, err := r.sample(true); err == nil {
			mem = m
		}
	}
	res.HeapAfter, res.RSSAfter = mem.Heap, mem.RSS
	// Near the baseline, not at it: both servers keep records of closed
	// connections (Canopy's bounded to 16 MiB of subjects), and Go maps
	// do not shrink, so a link that was told of 160,000 subjects keeps
	// the room for them. A leak grows past the slack with the abuse.
	if heapHigh(mem) {
		res.fail("live heap %s, baseline %s", mib(mem.Heap), mib(r.base.Heap))
	}
	if rssHigh(mem) {
		res.fail("RSS %s, baseline %s", mib(mem.RSS), mib(r.base.RSS))
	}
	if heapHigh(mem) || rssHigh(mem) {
		// As with the counts: what stayed fails this scenario once, and
		// the next are measured from here.
		r.base.Heap, r.base.RSS = max(r.base.Heap, mem.Heap), max(r.base.RSS, mem.RSS)
	}
}

// saveHeap writes the hub's heap profile, taken after a collection.
func (r *rig) saveHeap(path string) error {
	resp, err := chaosHTTP.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", r.profPort))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func mib(n int64) string { return fmt.Sprintf("%.1fM", float64(n)/(1<<20)) }

// relaunch starts the process again with the same command and config (the
// same ports), after it exited.
func (p *process) relaunch(ctx context.Context) (*process, error) {
	q := &process{name: p.name, url: p.url, addr: p.addr, logPath: p.logPath, exited: make(chan struct{})}
	logFile, err := os.OpenFile(p.logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	q.cmd = exec.Command(p.cmd.Path, p.cmd.Args[1:]...)
	q.cmd.Stdout, q.cmd.Stderr = logFile, logFile
	q.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The old listener's port may sit in TIME_WAIT for a moment; both
	// servers set SO_REUSEADDR, so the start normally binds at once.
	if err := q.run(ctx); err != nil {
		return nil, err
	}
	return q, nil
}

// RunChaos runs every scenario against every server and returns the
// results, server by server in scenario order. The error wraps ErrChaos
// when a check failed, and is something else when a server could not be
// started at all.
func RunChaos(ctx context.Context, o ChaosOptions) ([]ChaosResult, error) {
	if len(o.Servers) == 0 {
		return nil, fmt.Errorf("%w: no servers", ErrOptions)
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "canopy-chaos-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(chaosBcryptPass), 10)
	if err != nil {
		return nil, err
	}
	var results []ChaosResult
	failed := false
	for i, spec := range o.Servers {
		sdir := filepath.Join(dir, fmt.Sprintf("%d-%s", i, safeName(spec.Name)))
		if err := os.MkdirAll(sdir, 0o755); err != nil {
			return results, err
		}
		r, err := startRig(ctx, spec, sdir, string(hash))
		if err != nil {
			return results, err
		}
		for _, sc := range chaosScenarios {
			if o.Only != "" && !strings.Contains(sc.name, o.Only) {
				continue
			}
			if ctx.Err() != nil {
				r.stop()
				return results, ctx.Err()
			}
			res := ChaosResult{Scenario: sc.name, Server: spec.Name}
			before := r.flow.counts()
			begin := time.Now()
			if err := sc.run(ctx, r, &res, o.Seed); err != nil {
				res.fail("%v", err)
			}
			r.check(&res, before)
			if o.Profiles != "" {
				if err := r.saveHeap(filepath.Join(o.Profiles, safeName(spec.Name+"-"+sc.name)+".heap")); err != nil {
					res.note("no heap profile: %v", err)
				}
			}
			if !res.OK() {
				failed = true
			}
			results = append(results, res)
			if o.Progress != nil {
				status := "ok"
				if !res.OK() {
					status = "FAIL: " + strings.Join(res.Problems, "; ")
				}
				fmt.Fprintf(o.Progress, "%-14s %-22s %5.1fs  %s  (%s)\n", spec.Name, sc.name, time.Since(begin).Seconds(), status, res.Notes)
			}
		}
		r.stop()
	}
	if failed {
		return results, ErrChaos
	}
	return results, nil
}

// WriteChaosTable prints the results scenario by scenario, one row per
// server, so that the servers' figures for the same abuse sit together.
func WriteChaosTable(w io.Writer, results []ChaosResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tserver\tresult\tping\tsettle\tlive heap base→after\tRSS base→after\tflow recv/dup/bad\tfigures")
	seen := map[string]bool{}
	for _, r := range results {
		if seen[r.Scenario] {
			continue
		}
		seen[r.Scenario] = true
		for _, x := range results {
			if x.Scenario != r.Scenario {
				continue
			}
			status := "ok"
			if !x.OK() {
				status = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s→%s\t%s→%s\t%d/%d/%d\t%s\n",
				x.Scenario, x.Server, status, x.PingRTT.Round(100*time.Microsecond), x.Settle.Round(10*time.Millisecond),
				mib(x.HeapBase), mib(x.HeapAfter), mib(x.RSSBase), mib(x.RSSAfter),
				x.FlowRecv, x.FlowDup, x.FlowBad, x.Notes)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, x := range results {
		for _, p := range x.Problems {
			fmt.Fprintf(w, "FAIL %s on %s: %s\n", x.Scenario, x.Server, p)
		}
	}
	return nil
}
