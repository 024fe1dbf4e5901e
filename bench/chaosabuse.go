package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// chaosScenario is one kind of abuse. run does it; the checks that follow
// are the rig's.
type chaosScenario struct {
	name string
	run  func(ctx context.Context, r *rig, res *ChaosResult, seed uint64) error
}

var chaosScenarios = []chaosScenario{
	{"client-port fuzz", func(ctx context.Context, r *rig, res *ChaosResult, seed uint64) error {
		return fuzzPort(ctx, r.hub.addr, clientTraffic, seed, res)
	}},
	{"leaf-port fuzz", func(ctx context.Context, r *rig, res *ChaosResult, seed uint64) error {
		return fuzzPort(ctx, fmt.Sprintf("127.0.0.1:%d", r.leafPort), leafTraffic, seed, res)
	}},
	{"leaf CONNECT again", connectAgain},
	{"LS+ flood", lsFlood},
	{"hub SIGSTOP 3s", func(ctx context.Context, r *rig, res *ChaosResult, _ uint64) error {
		return hubOutage(ctx, r, res, "stop")
	}},
	{"hub kill -9", func(ctx context.Context, r *rig, res *ChaosResult, _ uint64) error {
		return hubOutage(ctx, r, res, "kill")
	}},
	{"hub restart", func(ctx context.Context, r *rig, res *ChaosResult, _ uint64) error {
		return hubOutage(ctx, r, res, "restart")
	}},
	{"reload storm", reloadStorm},
	{"bcrypt CONNECT storm", bcryptStorm},
	{"slow consumer", slowConsumer},
}

// fuzzConns is how many connections each fuzz scenario opens: fuzzWorkers
// at a time, fuzzPerWorker each, the same bytes for every server.
const (
	fuzzWorkers   = 32
	fuzzPerWorker = 500
)

// fuzzPort opens fuzzWorkers×fuzzPerWorker connections to addr, each
// sending the traffic build makes (valid ops, some mutated) cut into random
// writes, then a PING; it reads what comes back for a moment and closes,
// every eighth connection with a reset instead of a FIN.
func fuzzPort(ctx context.Context, addr string, build func(*rand.Rand, int) []byte, seed uint64, res *ChaosResult) error {
	var conns, errs, closed, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < fuzzWorkers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := 0; i < fuzzPerWorker && ctx.Err() == nil; i++ {
				data := build(rng, w*fuzzPerWorker+i)
				e, c, err := fuzzOne(addr, data, rng)
				if err != nil {
					failed.Add(1)
					continue
				}
				conns.Add(1)
				errs.Add(int64(e))
				if c {
					closed.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	res.note("%d conns, %d -ERR, %d closed by server", conns.Load(), errs.Load(), closed.Load())
	if failed.Load() > 0 {
		res.fail("%d of %d fuzz connections could not connect", failed.Load(), fuzzWorkers*fuzzPerWorker)
	}
	return nil
}

// fuzzOne runs one fuzz connection and reports the -ERR lines it got and
// whether the server closed it.
func fuzzOne(addr string, data []byte, rng *rand.Rand) (errs int, closed bool, err error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, false, err
	}
	tc := c.(*net.TCPConn)
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(tc)
	if _, err := br.ReadString('\n'); err != nil {
		return 0, true, nil
	}
	data = append(data, "PING\r\n"...)
	for len(data) > 0 {
		n := min(len(data), 1+rng.IntN(512))
		if _, err := tc.Write(data[:n]); err != nil {
			return 0, true, nil
		}
		data = data[n:]
	}
	_ = tc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			var ne net.Error
			closed = !(errors.As(err, &ne) && ne.Timeout())
			break
		}
		if strings.HasPrefix(l, "-ERR") {
			errs++
		}
		if l == "PONG\r\n" {
			break
		}
	}
	if rng.IntN(8) == 0 {
		_ = tc.SetLinger(0)
	}
	return errs, closed, nil
}

// mutate changes op in one of the ways a broken or hostile peer would:
// a byte changed, dropped or added, the op doubled or cut short, a number
// made huge, the case flipped.
func mutate(rng *rand.Rand, op []byte) []byte {
	if len(op) == 0 {
		return op
	}
	special := []byte(" \t\r\n*>.+-|0123456789{}\"")
	i := rng.IntN(len(op))
	switch rng.IntN(7) {
	case 0:
		op[i] = byte(rng.IntN(256))
	case 1:
		op = append(op[:i], op[i+1:]...)
	case 2:
		op = append(op[:i], append([]byte{special[rng.IntN(len(special))]}, op[i:]...)...)
	case 3:
		op = append(op, op...)
	case 4:
		op = op[:i]
	case 5:
		for j := i; j < len(op); j++ {
			if op[j] >= '0' && op[j] <= '9' {
				op = append(op[:j], append([]byte("99999999999"), op[j+1:]...)...)
				break
			}
		}
	default:
		op = bytes.ToLower(op)
	}
	return op
}

// clientTraffic is a client's session: CONNECT (mostly with the right
// credentials), then a few dozen ops, about a third of them mutated.
func clientTraffic(rng *rand.Rand, n int) []byte {
	var b []byte
	switch rng.IntN(10) {
	case 0:
		b = append(b, "CONNECT {\"verbose\":false,\"headers\":true}\r\n"...)
	case 1:
		b = append(b, "CONNECT {\"user\":\"chk\",\"pass\":\"wrong\",\"verbose\":false}\r\n"...)
	default:
		b = fmt.Appendf(b, "CONNECT {\"user\":%q,\"pass\":%q,\"verbose\":%v,\"pedantic\":%v,\"headers\":true,\"protocol\":1}\r\n",
			chaosUser, chaosPass, rng.IntN(2) == 0, rng.IntN(2) == 0)
	}
	for k := 0; k < 1+rng.IntN(30); k++ {
		var op []byte
		switch rng.IntN(8) {
		case 0:
			op = fmt.Appendf(nil, "SUB fz.%d.* %d\r\n", rng.IntN(50), k)
		case 1:
			op = fmt.Appendf(nil, "SUB fz.q.> qg%d %d\r\n", rng.IntN(3), k)
		case 2:
			op = fmt.Appendf(nil, "UNSUB %d %d\r\n", rng.IntN(k+1), rng.IntN(3))
		case 3:
			op = fmt.Appendf(nil, "PUB fz.%d.x _INBOX.%d 5\r\nhello\r\n", rng.IntN(50), n)
		case 4:
			op = []byte("HPUB fz.q.h 22 27\r\nNATS/1.0\r\nA: bcdef\r\n\r\nhello\r\n")
		case 5:
			op = []byte("PING\r\n")
		case 6:
			op = fmt.Appendf(nil, "PUB fz.big %d\r\n%s\r\n", 2048, bytes.Repeat([]byte{'z'}, 2048))
		default:
			op = []byte("PONG\r\n")
		}
		if rng.IntN(3) == 0 {
			op = mutate(rng, op)
		}
		b = append(b, op...)
	}
	return b
}

// leafConnect is a leaf CONNECT with the hub's leaf credentials and a name
// of its own, so that no fuzz link takes the real leaf's place.
func leafConnect(name string) []byte {
	return fmt.Appendf(nil, "CONNECT {\"name\":%q,\"user\":%q,\"pass\":%q,\"headers\":true,\"version\":\"2.15.2\",\"remote_account\":\"$G\"}\r\n",
		name, chaosLeafUser, chaosLeafPass)
}

// leafTraffic is a leaf link's session: CONNECT, then LS+/LS-/LMSG/HMSG,
// INFO and CONNECT again, about a third of the ops mutated.
func leafTraffic(rng *rand.Rand, n int) []byte {
	var b []byte
	switch rng.IntN(10) {
	case 0:
		b = append(b, "CONNECT {\"headers\":true}\r\n"...)
	default:
		b = leafConnect(fmt.Sprintf("fz-%d", n))
	}
	for k := 0; k < 1+rng.IntN(30); k++ {
		var op []byte
		switch rng.IntN(9) {
		case 0:
			op = fmt.Appendf(nil, "LS+ fz.%d.*\r\n", rng.IntN(50))
		case 1:
			op = fmt.Appendf(nil, "LS+ fz.q.> qg%d %d\r\n", rng.IntN(3), 1+rng.IntN(5))
		case 2:
			op = fmt.Appendf(nil, "LS- fz.%d.*\r\n", rng.IntN(50))
		case 3:
			op = fmt.Appendf(nil, "LMSG fz.%d.x 5\r\nhello\r\n", rng.IntN(50))
		case 4:
			op = []byte("LMSG fz.q.x + _INBOX.r qg0 qg1 5\r\nhello\r\n")
		case 5:
			op = []byte("HMSG fz.h | qg2 22 27\r\nNATS/1.0\r\nA: bcdef\r\n\r\nhello\r\n")
		case 6:
			op = []byte("INFO {\"server_id\":\"FZ\",\"name\":\"fz\",\"leafnode_urls\":[\"127.0.0.1:1\"]}\r\n")
		case 7:
			op = leafConnect(fmt.Sprintf("fz-%d-again", n))
		default:
			op = []byte("PING\r\n")
		}
		if rng.IntN(3) == 0 {
			op = mutate(rng, op)
		}
		b = append(b, op...)
	}
	return b
}

// connectAgain is issue 12's item 1 from many links: each sends a valid
// CONNECT and then more (the same, unnamed, another name); half of them
// are reset with the extra CONNECTs still unread, the case nats-server
// itself leaks a link in.
func connectAgain(ctx context.Context, r *rig, res *ChaosResult, _ uint64) error {
	const links = 100
	addr := fmt.Sprintf("127.0.0.1:%d", r.leafPort)
	var dupErr, closed, failed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < links && ctx.Err() == nil; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				failed.Add(1)
				return
			}
			tc := c.(*net.TCPConn)
			defer tc.Close()
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(tc)
			if _, err := br.ReadString('\n'); err != nil {
				failed.Add(1)
				return
			}
			name := fmt.Sprintf("again-%d", i)
			var b []byte
			b = append(b, leafConnect(name)...)
			b = append(b, leafConnect(name)...)
			b = append(b, "CONNECT {\"user\":\"leaf\",\"pass\":\"leafpw\",\"headers\":true}\r\n"...)
			b = append(b, leafConnect(name+"-other")...)
			if i%2 == 0 {
				// Reset at once: the extra CONNECTs are still unread.
				_, _ = tc.Write(b)
				_ = tc.SetLinger(0)
				return
			}
			b = append(b, "PING\r\n"...)
			if _, err := tc.Write(b); err != nil {
				closed.Add(1)
				return
			}
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					closed.Add(1)
					return
				}
				if strings.Contains(l, "Duplicate") {
					dupErr.Add(1)
				}
				if l == "PONG\r\n" {
					return
				}
			}
		}(i)
	}
	wg.Wait()
	res.note("%d links ×4 CONNECT (half reset), %d duplicate -ERR, %d closed", links, dupErr.Load(), closed.Load())
	if failed.Load() > 0 {
		res.fail("%d links could not connect", failed.Load())
	}
	return nil
}

// lsFlood opens a few leaf links that each announce tens of thousands of
// subjects, waits for the hub to hold them all, and closes the links.
func lsFlood(ctx context.Context, r *rig, res *ChaosResult, _ uint64) error {
	const links, each = 8, 20000
	addr := fmt.Sprintf("127.0.0.1:%d", r.leafPort)
	var conns []*net.TCPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for i := 0; i < links; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		tc := c.(*net.TCPConn)
		conns = append(conns, tc)
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(tc)
		if _, err := br.ReadString('\n'); err != nil {
			return fmt.Errorf("flood link %d: no INFO: %v", i, err)
		}
		var b bytes.Buffer
		b.Write(leafConnect(fmt.Sprintf("flood-%d", i)))
		for k := 0; k < each; k++ {
			if k%100 == 99 {
				fmt.Fprintf(&b, "LS+ flood.%d.%d.*\r\n", i, k)
			} else {
				fmt.Fprintf(&b, "LS+ flood.%d.%d\r\n", i, k)
			}
		}
		b.WriteString("PING\r\n")
		// A reader drains the hub's answers while the flood is written,
		// so that neither side blocks on a full socket.
		pong := make(chan error, 1)
		go func() {
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					pong <- err
					return
				}
				if l == "PONG\r\n" {
					pong <- nil
					return
				}
			}
		}()
		if _, err := tc.Write(b.Bytes()); err != nil {
			return fmt.Errorf("flood link %d: %v", i, err)
		}
		if err := <-pong; err != nil {
			return fmt.Errorf("flood link %d: no PONG: %v", i, err)
		}
	}
	peak, err := r.sample(true)
	if err != nil {
		return err
	}
	res.note("%d×%d LS+ in %.1fs, peak %d subs, heap %s", links, each, time.Since(start).Seconds(), peak.Subs, mib(peak.Heap))
	return nil
}

// hubOutage stops the hub's process under the steady flow: SIGSTOP for 3 s
// then SIGCONT, kill -9 and start again, or SIGTERM and start again. The
// leaf must link again and the flow resume, intact.
func hubOutage(ctx context.Context, r *rig, res *ChaosResult, how string) error {
	pid := r.hub.pid
	switch how {
	case "stop":
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			return err
		}
		time.Sleep(3 * time.Second)
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			return err
		}
	case "kill":
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return err
		}
		<-r.hub.exited
	default:
		r.hub.stop()
	}
	back := time.Now()
	if how != "stop" {
		p, err := r.hub.relaunch(ctx)
		if err != nil {
			return err
		}
		r.hub = p
		// A new process: whatever the old one kept is gone, and it is
		// measured against the first baseline again.
		r.base = r.base0
	}
	d, err := r.flow.resumed(back, 30*time.Second)
	if err != nil {
		return err
	}
	res.note("flow resumed %.2fs after the hub was back", d.Seconds())
	return nil
}

// reloadStorm sends the hub SIGHUP every 20 ms, the config alternating
// between two versions (a user added and removed), while clients connect,
// PING and close; every one of those must succeed.
func reloadStorm(ctx context.Context, r *rig, res *ChaosResult, _ uint64) error {
	const reloads = 300
	with := strings.Replace(r.hubText, "  ]\n}\n", "    {user: tmp, password: tmppw, permissions: {publish: [\"tmp.>\"]}}\n  ]\n}\n", 1)
	if with == r.hubText {
		return fmt.Errorf("reload storm: cannot add a user to the hub config")
	}
	defer func() {
		_ = os.WriteFile(r.hubConf, []byte(r.hubText), 0o644)
		_ = syscall.Kill(r.hub.pid, syscall.SIGHUP)
	}()
	stop := make(chan struct{})
	var sessions, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sessions.Add(1)
				if _, err := r.ping(5 * time.Second); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	for i := 0; i < reloads && ctx.Err() == nil; i++ {
		text := r.hubText
		if i%2 == 0 {
			text = with
		}
		if err := os.WriteFile(r.hubConf, []byte(text), 0o644); err != nil {
			close(stop)
			wg.Wait()
			return err
		}
		if err := syscall.Kill(r.hub.pid, syscall.SIGHUP); err != nil {
			close(stop)
			wg.Wait()
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	res.note("%d SIGHUPs, %d client sessions, %d failed", reloads, sessions.Load(), failed.Load())
	if failed.Load() > 0 {
		res.fail("%d client sessions failed during the reload storm (first: %v)", failed.Load(), firstErr.Load())
	}
	return nil
}

// bcryptStorm sends CONNECTs for the bcrypt user, half with the wrong
// password, many at a time, while a connected client PINGs every 10 ms:
// the longest PING round trip is how long the storm stalled others.
func bcryptStorm(ctx context.Context, r *rig, res *ChaosResult, _ uint64) error {
	const total, parallel = 120, 40
	nc, err := nats.Connect(r.hubURL(), nats.Name("chaos-pinger"))
	if err != nil {
		return err
	}
	defer nc.Close()
	var maxRTT atomic.Int64
	stop := make(chan struct{})
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			t0 := time.Now()
			if err := nc.FlushTimeout(30 * time.Second); err != nil {
				maxRTT.Store(int64(30 * time.Second))
				continue
			}
			if d := int64(time.Since(t0)); d > maxRTT.Load() {
				maxRTT.Store(d)
			}
		}
	}()
	// in[right], refused[right]: right is 1 for the right password. A
	// right password may be refused when the server cannot check it
	// within its auth timeout; a wrong one must never get in.
	var in, refused [2]atomic.Int64
	var failed, timeouts atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			right, pass := 1, chaosBcryptPass
			if i%2 == 1 {
				right, pass = 0, "wrong"
			}
			c, err := net.DialTimeout("tcp", r.hub.addr, 5*time.Second)
			if err != nil {
				failed.Add(1)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(60 * time.Second))
			br := bufio.NewReader(c)
			if _, err := br.ReadString('\n'); err != nil {
				failed.Add(1)
				return
			}
			fmt.Fprintf(c, "CONNECT {\"user\":%q,\"pass\":%q,\"verbose\":false}\r\nPING\r\n", chaosBcryptUser, pass)
			for {
				l, err := br.ReadString('\n')
				switch {
				case err != nil:
					failed.Add(1)
					return
				case l == "PONG\r\n":
					in[right].Add(1)
					return
				case strings.HasPrefix(l, "-ERR"):
					refused[right].Add(1)
					if strings.Contains(l, "Timeout") {
						timeouts.Add(1)
					}
					return
				}
			}
		}(i)
	}
	wg.Wait()
	took := time.Since(start)
	close(stop)
	<-pinged
	res.note("%d bcrypt CONNECTs in %.1fs: right password %d in, %d refused (%d auth timeouts); others' max PING %v",
		total, took.Seconds(), in[1].Load(), refused[1].Load(), timeouts.Load(), time.Duration(maxRTT.Load()).Round(time.Millisecond))
	if in[0].Load() > 0 {
		res.fail("bcrypt storm: %d CONNECTs with a wrong password got in", in[0].Load())
	}
	if failed.Load() > 0 {
		res.fail("bcrypt storm: %d CONNECTs got no answer", failed.Load())
	}
	return nil
}

// slowConsumer subscribes a client that never reads, publishes 1 KiB
// messages to it at full speed until the hub closes it as a slow consumer,
// and records the hub's peak resident memory meanwhile.
func slowConsumer(ctx context.Context, r *rig, res *ChaosResult, _ uint64) error {
	before, err := r.sample(false)
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", r.hub.addr, 5*time.Second)
	if err != nil {
		return err
	}
	tc := c.(*net.TCPConn)
	defer tc.Close()
	_ = tc.SetReadBuffer(4096)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(tc)
	if _, err := br.ReadString('\n'); err != nil {
		return err
	}
	fmt.Fprintf(tc, "CONNECT {\"user\":%q,\"pass\":%q,\"verbose\":false}\r\nSUB chaos.slow 1\r\nPING\r\n", chaosUser, chaosPass)
	if l, err := br.ReadString('\n'); err != nil || l != "PONG\r\n" {
		return fmt.Errorf("slow consumer: %q, %v", l, err)
	}
	nc, err := nats.Connect(r.hubURL(), nats.Name("chaos-flooder"))
	if err != nil {
		return err
	}
	defer nc.Close()
	msg := bytes.Repeat([]byte{'s'}, 1024)
	deadline := time.Now().Add(30 * time.Second)
	var peak int64
	var sent int64
	lastSample := time.Time{}
	detected := false
	start := time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for k := 0; k < 1000; k++ {
			if err := nc.Publish("chaos.slow", msg); err == nil {
				sent++
			}
		}
		if time.Since(lastSample) < 100*time.Millisecond {
			continue
		}
		lastSample = time.Now()
		_ = nc.FlushTimeout(5 * time.Second)
		if rss, err := readRSS(r.hub.pid); err == nil && rss > peak {
			peak = rss
		}
		if s, err := r.sample(false); err == nil && s.Slow > before.Slow {
			detected = true
			break
		}
	}
	took := time.Since(start)
	res.note("%d×1KiB sent, slow consumer closed after %.1fs, peak RSS %s", sent, took.Seconds(), mib(peak))
	if !detected {
		res.fail("no slow consumer counted within 30 s")
	}
	return nil
}
