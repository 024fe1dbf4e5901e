package leaf_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// BenchmarkLeafHop measures 128-byte messages crossing one leaf link: a
// publisher on the leaf, a subscriber on the hub, both nats.go clients,
// Canopy as hub and leaf beside nats-server v2.15.2 as hub and leaf. At most
// a window of messages is in flight, so what is measured is delivery, not
// the publisher's buffering; msgs/s counts until the last one arrived.
// Servers and clients share the process, so allocs/op counts all of them.
func BenchmarkLeafHop(b *testing.B) {
	const (
		size   = 128
		window = 16 << 10
	)
	for _, k := range []kind{canopyKind, natsKind} {
		b.Run(k.String(), func(b *testing.B) {
			hub := start(b, k, hubConfig("hub"))
			lf := start(b, k, leafConfig("leaf", false, remoteTo(hub)))
			waitLinks(b, hub, 1)
			waitLinks(b, lf, 1)

			var got, want atomic.Int64
			var once sync.Once
			done := make(chan struct{})
			want.Store(-1)
			subc := connect(b, hub, "")
			sub, err := subc.Subscribe("hop", func(*nats.Msg) {
				if n := got.Add(1); n == want.Load() {
					once.Do(func() { close(done) })
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := sub.SetPendingLimits(-1, -1); err != nil {
				b.Fatal(err)
			}
			flush(b, subc)
			waitSub(b, lf, "hop", true)
			pubc := connect(b, lf, "", nats.ReconnectBufSize(-1))
			payload := make([]byte, size)

			b.SetBytes(size)
			b.ReportAllocs()
			var sent int64
			began := time.Now()
			for b.Loop() {
				if err := pubc.Publish("hop", payload); err != nil {
					b.Fatal(err)
				}
				sent++
				for sent-got.Load() > window {
					time.Sleep(20 * time.Microsecond)
				}
			}
			want.Store(sent)
			if got.Load() >= sent {
				once.Do(func() { close(done) })
			}
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				b.Fatalf("%d of %d messages arrived", got.Load(), sent)
			}
			b.ReportMetric(float64(sent)/time.Since(began).Seconds(), "msgs/s")
			if err := sub.Unsubscribe(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
