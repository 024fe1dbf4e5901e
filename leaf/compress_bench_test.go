package leaf_test

import (
	"fmt"
	"math/rand/v2"

	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// countingProxy forwards one TCP port to another and counts the bytes
// that cross it each way: the leaf link's bytes on the wire.
type countingProxy struct {
	ln         net.Listener
	up, down   atomic.Int64 // leaf -> hub, hub -> leaf
	target     string
	closeConns func()
}

func newCountingProxy(tb testing.TB, target string) *countingProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &countingProxy{ln: ln, target: target}
	var mu sync.Mutex
	var conns []net.Conn
	p.closeConns = func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			copyCount := func(dst, src net.Conn, n *atomic.Int64) {
				buf := make([]byte, 64<<10)
				for {
					k, err := src.Read(buf)
					if k > 0 {
						n.Add(int64(k))
						if _, err := dst.Write(buf[:k]); err != nil {
							return
						}
					}
					if err != nil {
						dst.Close()
						return
					}
				}
			}
			go copyCount(out, in, &p.up)
			go copyCount(in, out, &p.down)
		}
	}()
	tb.Cleanup(func() { ln.Close(); p.closeConns() })
	return p
}

func (p *countingProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// BenchmarkLeafCompressedHop sends compressible 1 KiB JSON payloads from a
// hub client across a leaf link compressed with s2_fast on both sides, and
// reports the link's bytes on the wire per message (hub -> leaf) beside
// msgs/s, Canopy beside nats-server. A proxy between the two counts the
// bytes.
func BenchmarkLeafCompressedHop(b *testing.B) {
	// A thousand distinct readings: the same shape, other numbers, as a
	// fleet of devices sends them (identical payloads would measure how
	// many messages one flush carries, not the compression).
	r := rand.New(rand.NewPCG(3, 4))
	payloads := make([][]byte, 1000)
	for i := range payloads {
		p := fmt.Appendf(nil, `{"device":"edge-%04d","site":"plant-%d","ts":"2026-12-06T02:%02d:%02d.%03dZ","readings":[`,
			r.IntN(10000), r.IntN(20), r.IntN(60), r.IntN(60), r.IntN(1000))
		for j := 0; len(p) < 1000; j++ {
			p = fmt.Appendf(p, `{"sensor":"t%d","value":%d.%02d,"unit":"C","ok":%v},`, j, 15+r.IntN(15), r.IntN(100), r.IntN(10) > 0)
		}
		p = append(p[:1021], `]}`...)
		payloads[i] = p[:1024]
	}
	for _, mode := range []string{"s2_fast", "s2_best", "off"} {
		for _, k := range []kind{canopyKind, natsKind} {
			b.Run(mode+"/"+k.String(), func(b *testing.B) {
				const window = 8 << 10
				hub := start(b, k, fmt.Sprintf(`server_name: hub
leafnodes { listen: "127.0.0.1:-1", compression: %q }`, mode))
				px := newCountingProxy(b, fmt.Sprintf("127.0.0.1:%d", hub.LeafPort()))
				lf := start(b, k, fmt.Sprintf(`server_name: leaf
leafnodes { remotes = [ { url: "nats-leaf://127.0.0.1:%d", compression: %q } ] }`, px.port(), mode))
				waitLinks(b, hub, 1)
				waitLinks(b, lf, 1)
				var got atomic.Int64
				subc := connect(b, lf, "")
				sub, err := subc.Subscribe("hop", func(*nats.Msg) { got.Add(1) })
				if err != nil {
					b.Fatal(err)
				}
				sub.SetPendingLimits(-1, -1)
				flush(b, subc)
				waitSub(b, hub, "hop", true)
				pubc := connect(b, hub, "")
				down0 := px.down.Load()
				b.SetBytes(1024)
				b.ReportAllocs()
				var sent int64
				began := time.Now()
				for b.Loop() {
					if err := pubc.Publish("hop", payloads[sent%int64(len(payloads))]); err != nil {
						b.Fatal(err)
					}
					sent++
					for sent-got.Load() > window {
						time.Sleep(20 * time.Microsecond)
					}
				}
				deadline := time.Now().Add(30 * time.Second)
				for got.Load() < sent && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				if got.Load() < sent {
					b.Fatalf("%d of %d arrived", got.Load(), sent)
				}
				el := time.Since(began)
				b.ReportMetric(float64(px.down.Load()-down0)/float64(sent), "wireB/msg")
				b.ReportMetric(float64(sent)/el.Seconds(), "msgs/s")
			})
		}
	}
}
