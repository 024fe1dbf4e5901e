//go:build !race

package loop_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/natstest"
)

// Publishing with permission checks on and off, through a real server
// over loopback, with raw protocol clients as in pubsub_bench_test.go. One
// server holds two users, one without permissions ("off") and one with
// ("on"); their publishers share the server, the subscriber and, for
// Canopy, the event loop, so the two cases differ in the checks alone.
// nats-server runs the same configuration beside Canopy.

const permsBenchConf = `
max_payload: 8MB
max_pending: 256MB
authorization { users: [
  {user: free, password: free}
  {user: ruled, password: ruled, permissions: {
    publish: {allow: ["bench", "orders.>", "metrics.*.cpu", "jobs.*.run"], deny: ["secret.>", "orders.internal"]}
    subscribe: {allow: [">"], deny: ["secret.>"]}
  }}
] }
`

// benchConn is one raw connection of a benchmark.
type benchConn struct {
	c   net.Conn
	r   *bufio.Reader
	cid uint64
}

// dialAs connects as user, sends proto, and returns once the PONG
// arrived.
func dialAs(t testing.TB, addr, user, proto string) benchConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := bufio.NewReaderSize(nc, 256<<10)
	info, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	cid, _ := strconv.ParseUint(infoNumber(info, "client_id"), 10, 64)
	connect := fmt.Sprintf(`CONNECT {"verbose":false,"pedantic":false,"user":%q,"pass":%q}`, user, user)
	if _, err := io.WriteString(nc, connect+"\r\n"+proto+"PING\r\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "PONG\r\n" {
		t.Fatalf("connect as %s: %q, %v", user, line, err)
	}
	return benchConn{nc, r, cid}
}

// infoNumber returns the digits of a numeric INFO field.
func infoNumber(info, field string) string {
	i := bytes.Index([]byte(info), []byte(`"`+field+`":`))
	if i < 0 {
		return ""
	}
	s := info[i+len(field)+3:]
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return s[:n]
}

// permsBed is a server with a subscriber on "bench" and a publisher for
// each user.
type permsBed struct {
	name string
	sub  benchConn
	pubs map[string]benchConn // "off": as free, "on": as ruled
}

// benchUsers maps the benchmark's cases to its users ("on" and "off" are
// booleans in the configuration language).
var benchUsers = map[string]string{"off": "free", "on": "ruled"}

// canopyBed starts Canopy with loops event loops and places both
// publishers on the loop of the subscriber (same) or on the other one.
func canopyBed(t testing.TB, name string, loops int, same bool) permsBed {
	t.Helper()
	path := natstest.WriteConfig(t, "canopy.conf", permsBenchConf)
	opts, _, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.Loops = loops
	s := natstest.StartCanopyOpts(t, opts, path)
	addr := s.ClientAddr().String()
	bed := permsBed{name: name, sub: dialAs(t, addr, "free", "SUB bench 1\r\n"), pubs: map[string]benchConn{}}
	subLoop := s.LoopOfClient(bed.sub.cid)
	for perms, u := range benchUsers {
		for i := 0; ; i++ {
			if i == 8 {
				t.Fatalf("no connection of %s landed where wanted", u)
			}
			c := dialAs(t, addr, u, "")
			if (s.LoopOfClient(c.cid) == subLoop) == same {
				bed.pubs[perms] = c
				break
			}
		}
	}
	return bed
}

func natsBed(t testing.TB) permsBed {
	t.Helper()
	addr := natstest.StartNATS(t, permsBenchConf).Addr().String()
	return permsBed{
		name: "nats-server",
		sub:  dialAs(t, addr, "free", "SUB bench 1\r\n"),
		pubs: map[string]benchConn{"off": dialAs(t, addr, "free", ""), "on": dialAs(t, addr, "ruled", "")},
	}
}

// publish sends n messages of size bytes on subject from pub, in batches,
// then a PING, and waits for its PONG and, when sub is set, for the
// subscriber to have read every message.
func publish(pub benchConn, sub *benchConn, subject string, size, n int) error {
	frame := []byte("PUB " + subject + " " + strconv.Itoa(size) + "\r\n" + string(bytes.Repeat([]byte("x"), size)) + "\r\n")
	msgLen := len("MSG "+subject+" 1 "+strconv.Itoa(size)+"\r\n") + size + 2
	const batch = 256
	buf := bytes.Repeat(frame, batch)
	read := make(chan error, 1)
	if sub != nil {
		go func() { read <- receive(*sub, msgLen, n) }()
	}
	for left := n; left > 0; {
		k := min(left, batch)
		if _, err := pub.c.Write(buf[:k*len(frame)]); err != nil {
			return err
		}
		left -= k
	}
	if _, err := io.WriteString(pub.c, "PING\r\n"); err != nil {
		return err
	}
	for {
		line, err := pub.r.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("publisher: %w", err)
		}
		if string(line) == "PONG\r\n" {
			break
		}
		if err := pong(pub, line); err != nil {
			return err
		}
	}
	if sub == nil {
		return nil
	}
	select {
	case err := <-read:
		return err
	case <-time.After(60 * time.Second):
		return errors.New("the subscriber did not receive everything")
	}
}

// pong answers a server's PING: the connections of a benchmark live
// longer than the servers' first ping, and a client that does not answer
// is eventually dropped as stale.
func pong(c benchConn, line []byte) error {
	if string(line) != "PING\r\n" {
		return fmt.Errorf("unexpected %q", line)
	}
	_, err := io.WriteString(c.c, "PONG\r\n")
	return err
}

// receive reads n messages of msgLen bytes each, answering PINGs that
// come between them. It looks at the first byte of each frame only, which
// keeps the client's share of the 2 cores small.
func receive(c benchConn, msgLen, n int) error {
	for n > 0 {
		b, err := c.r.Peek(1)
		if err != nil {
			return fmt.Errorf("subscriber: %w with %d messages to go", err, n)
		}
		if b[0] == 'P' {
			line, err := c.r.ReadSlice('\n')
			if err == nil {
				err = pong(c, line)
			}
			if err != nil {
				return fmt.Errorf("subscriber: %w", err)
			}
			continue
		}
		if b[0] != 'M' {
			return fmt.Errorf("subscriber: frame starts with %q", b)
		}
		if _, err := c.r.Discard(msgLen); err != nil {
			return fmt.Errorf("subscriber: %w with %d messages to go", err, n)
		}
		n--
	}
	return nil
}

// BenchmarkPubPerms publishes b.N messages to one subscriber, or to none
// (the publish path alone), as the user without permissions and as the
// one with them. The target: "on" within 10% of "off", and no
// allocation per message. Canopy runs with this machine's default loop
// count (one on 2 cores) and with two loops, the publisher on the other
// loop from the subscriber.
func BenchmarkPubPerms(b *testing.B) {
	beds := []permsBed{
		canopyBed(b, "canopy", conf.DefaultLoops(), true),
		canopyBed(b, "canopy-2loops", 2, false),
		natsBed(b),
	}
	for _, bed := range beds {
		for _, tc := range []struct {
			name    string
			subject string
			size    int
			sub     *benchConn
		}{
			{"pub-only-16B", "orders.new", 16, nil},
			{"1to1-16B", "bench", 16, &bed.sub},
			{"1to1-128B", "bench", 128, &bed.sub},
		} {
			for _, perms := range []string{"off", "on"} {
				b.Run(bed.name+"/"+tc.name+"/"+perms, func(b *testing.B) {
					b.SetBytes(int64(tc.size))
					b.ReportAllocs()
					b.ResetTimer()
					if err := publish(bed.pubs[perms], tc.sub, tc.subject, tc.size, b.N); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}

// BenchmarkPubPermsRatio is BenchmarkPubPerms with the two publishers
// taking turns within one run, in rounds of 16,384 messages, the order
// swapped every other round: separate runs drift by 10% and more on this
// machine, which hides a difference of a few nanoseconds. It reports each
// publisher's time per message and their ratio; ns/op counts a message of
// each.
func BenchmarkPubPermsRatio(b *testing.B) {
	beds := []permsBed{
		canopyBed(b, "canopy", conf.DefaultLoops(), true),
		canopyBed(b, "canopy-2loops", 2, false),
		natsBed(b),
	}
	const round = 16384
	for _, bed := range beds {
		for _, tc := range []struct {
			name    string
			subject string
			size    int
			sub     *benchConn
		}{
			{"pub-only-16B", "orders.new", 16, nil},
			{"1to1-16B", "bench", 16, &bed.sub},
			{"1to1-128B", "bench", 128, &bed.sub},
		} {
			b.Run(bed.name+"/"+tc.name, func(b *testing.B) {
				var spent [2]time.Duration // off, on
				b.SetBytes(2 * int64(tc.size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i += round {
					k := min(round, b.N-i)
					for j := range 2 {
						which := (i/round + j) % 2
						start := time.Now()
						if err := publish(bed.pubs[[]string{"off", "on"}[which]], tc.sub, tc.subject, tc.size, k); err != nil {
							b.Fatal(err)
						}
						spent[which] += time.Since(start)
					}
				}
				off := float64(spent[0].Nanoseconds()) / float64(b.N)
				on := float64(spent[1].Nanoseconds()) / float64(b.N)
				b.ReportMetric(off, "ns/msg-off")
				b.ReportMetric(on, "ns/msg-on")
				b.ReportMetric(on/off, "on/off")
			})
		}
	}
}

// TestPubPermsAllocs is the allocation budget of a publish with
// permission checks through Canopy: it counts every heap allocation of
// the process while 20,000 messages go from a raw publisher to a raw
// subscriber, and allows well under one per hundred messages (timers and
// gnet tasks that run meanwhile allocate a little, whatever the traffic).
func TestPubPermsAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over 20,000 messages")
	}
	const n = 20000
	for _, same := range []bool{true, false} {
		bed := canopyBed(t, "canopy", 2, same)
		round := func(k int) {
			t.Helper()
			if err := publish(bed.pubs["on"], &bed.sub, "bench", 16, k); err != nil {
				t.Fatal(err)
			}
		}
		round(1000) // warm caches, buffers and the permission verdict
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		round(n)
		runtime.ReadMemStats(&after)
		allocs := after.Mallocs - before.Mallocs
		t.Logf("same loop %v: %d allocations for %d messages (%.4f per message)", same, allocs, n, float64(allocs)/n)
		if allocs > n/100 {
			t.Errorf("same loop %v: %d allocations for %d messages: the publish path allocates", same, allocs, n)
		}
	}
}
