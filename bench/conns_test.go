package bench

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func TestConnsWithMemory(t *testing.T) {
	s := runServer(t, nil)
	o := Options{Scenario: Conns, URL: s.ClientURL(), Conns: 200, ConnSub: true, ServerPID: os.Getpid(), Timeout: 5 * time.Second}
	var clients int
	var subs uint32
	base := s.NumSubscriptions() // the server's own internal subscriptions
	o.opened = func() { clients, subs = s.NumClients(), s.NumSubscriptions()-base }
	res := mustRun(t, o)
	if clients != 200 || subs != 200 {
		t.Fatalf("while open the server had %d clients and %d subscriptions, want 200 and 200", clients, subs)
	}
	c := res.Conns
	if c == nil || c.Opened != 200 || c.Alive != 200 {
		t.Fatalf("conns result: %+v", c)
	}
	if c.ServerRSSBefore <= 0 || c.ServerRSSAfter <= 0 {
		t.Fatalf("no memory reading: %+v", c)
	}
	if _, ok := res.Metric(MetricConnMem); !ok {
		t.Fatal("no mem/conn metric with a server pid")
	}
}

func TestConnsSpreadOverSourceAddresses(t *testing.T) {
	s := runServer(t, nil)
	seen := map[string]int{}
	o := Options{Scenario: Conns, URL: s.ClientURL(), Conns: 30, SourceIPs: 3, Hold: 20 * time.Millisecond, Timeout: 5 * time.Second}
	o.opened = func() {
		cz, err := s.Connz(&server.ConnzOptions{Limit: 100})
		if err != nil {
			t.Error(err)
			return
		}
		for _, ci := range cz.Conns {
			seen[ci.IP]++
		}
	}
	res := mustRun(t, o)
	if res.Conns.SourceIPs != 3 || res.Conns.Alive != 30 {
		t.Fatalf("conns result: %+v", res.Conns)
	}
	for _, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		if seen[ip] != 10 {
			t.Errorf("%d connections came from %s, want 10 (seen %v)", seen[ip], ip, seen)
		}
	}
}

func TestConnsClosedByServerIsCaught(t *testing.T) {
	s := runServer(t, func(o *server.Options) { o.MaxConn = 10 })
	o := Options{Scenario: Conns, URL: s.ClientURL(), Conns: 20, Timeout: 5 * time.Second}
	res, err := Run(context.Background(), o)
	if err == nil || res.OK {
		t.Fatal("opening more connections than the server allows succeeded")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "maximum connections exceeded") {
		t.Fatalf("error does not say why: %v", err)
	}
}

func TestRaiseNoFile(t *testing.T) {
	soft, hard := raiseNoFile()
	if soft == 0 || soft != hard {
		t.Fatalf("soft limit %d not raised to hard limit %d", soft, hard)
	}
	o := Options{Scenario: Conns, Conns: int(soft) + 1}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "RLIMIT_NOFILE") {
		t.Fatalf("more connections than descriptors: want a clear refusal, got %v", err)
	}
}

func TestSourceIPsForManyConnections(t *testing.T) {
	perIP := ephemeralPorts() / 8
	if got := sourceIPs(0, perIP, "127.0.0.1"); got != nil {
		t.Errorf("%d connections fit one address, got %v", perIP, got)
	}
	want := (100_000 + perIP - 1) / perIP
	got := sourceIPs(0, 100_000, "localhost")
	if len(got) != want || !got[0].Equal(net.IPv4(127, 0, 0, 1)) || !got[len(got)-1].Equal(net.IPv4(127, 0, 0, byte(want))) {
		t.Errorf("100,000 connections: got %v, want 127.0.0.1..%d", got, want)
	}
	// A million connections take every address, about 4,000 each: each
	// within the half of the range that connect() is given first.
	if got := sourceIPs(0, 1_000_000, "127.0.0.1"); len(got) != 254 || 1_000_000/254 > ephemeralPorts()/2 {
		t.Errorf("a million connections: %d addresses", len(got))
	}
	if got := sourceIPs(0, 100_000, "nats.example.com"); got != nil {
		t.Errorf("a server by name is not spread over loopback sources, got %v", got)
	}
}

func TestConnsPingSample(t *testing.T) {
	s := runServer(t, nil)
	o := Options{Scenario: Conns, URL: s.ClientURL(), Conns: 50, PingSample: 20, Timeout: 5 * time.Second}
	res := mustRun(t, o)
	l := res.Latency
	if l == nil || l.Count != 20 {
		t.Fatalf("latency of the sample: %+v", l)
	}
	if l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 || len(l.Percentiles) == 0 {
		t.Fatalf("latency figures out of order: %+v", l)
	}
	if _, ok := res.Metric(MetricP99); !ok {
		t.Fatal("no p99 metric for the PING sample")
	}

	o.PingSample = -1
	if res := mustRun(t, o); res.Latency != nil {
		t.Fatalf("a negative sample still timed PINGs: %+v", res.Latency)
	}
}
