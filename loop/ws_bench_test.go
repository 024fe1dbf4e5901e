package loop_test

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// BenchmarkPubSubWebsocket: one nats.go publisher and one subscriber, both
// over ws://, on Canopy and on nats-server, with and without
// permessage-deflate. The figure is the publisher's messages per second
// until the subscriber has them all.
func BenchmarkPubSubWebsocket(b *testing.B) {
	cfg := "max_payload: 8MB\nmax_pending: 256MB\nwebsocket { listen: \"127.0.0.1:-1\", no_tls: true, compression: true }"
	c := natstest.StartCanopy(b, cfg)
	n := natstest.StartNATS(b, cfg)
	servers := []struct{ name, url string }{
		{"canopy", "ws://" + c.WSHostPort()},
		{"nats-server", "ws://127.0.0.1:" + strconv.Itoa(n.WebsocketPort())},
	}
	for _, compress := range []bool{false, true} {
		for _, size := range []int{16, 1024} {
			for _, srv := range servers {
				name := srv.name + "/" + strconv.Itoa(size) + "B"
				if compress {
					name += "/deflate"
				}
				b.Run(name, func(b *testing.B) {
					sub := natstest.Connect(b, srv.url, nats.Compression(compress))
					pub := natstest.Connect(b, srv.url, nats.Compression(compress))
					var got atomic.Int64
					done := make(chan struct{})
					want := int64(b.N)
					s, err := sub.Subscribe("bench", func(*nats.Msg) {
						if got.Add(1) == want {
							close(done)
						}
					})
					if err != nil {
						b.Fatal(err)
					}
					s.SetPendingLimits(-1, -1)
					if err := sub.Flush(); err != nil {
						b.Fatal(err)
					}
					payload := bytes.Repeat([]byte("x"), size)
					b.SetBytes(int64(size))
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := pub.Publish("bench", payload); err != nil {
							b.Fatal(err)
						}
					}
					if err := pub.Flush(); err != nil {
						b.Fatal(err)
					}
					select {
					case <-done:
					case <-time.After(20 * time.Second):
						// nats-server drops what a subscriber it finds slow
						// would get: report what arrived.
						b.Logf("subscriber has %d of %d", got.Load(), want)
					}
					b.ReportMetric(float64(got.Load())/float64(want), "delivered")
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				})
			}
		}
	}
}
