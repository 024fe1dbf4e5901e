package leaf_test

import (
	"bufio"
	"io"
	"net"
	"strings"
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

// BenchmarkLeafDeliver measures what a hub does with LMSGs from a leaf: a
// raw leaf connection writes pre-encoded 128-byte LMSGs in batches, and a
// raw client on the hub, subscribed to everything, counts the bytes of the
// MSG frames it expects, so that allocs/op is the hub's alone. The jsack
// variant carries the encoded reply of a JetStream delivery, which the hub
// decodes for its client; plain carries an ordinary reply.
func BenchmarkLeafDeliver(b *testing.B) {
	const connectJSON = `{"name":"raw","headers":true,"version":"2.15.2","remote_account":"$G"}`
	payload := strings.Repeat("x", 128)
	for _, k := range []kind{canopyKind, natsKind} {
		for _, v := range []struct{ name, reply, delivered string }{
			{"plain", "_INBOX.reply.1", "MSG hop 1 _INBOX.reply.1 128\r\n"},
			{"jsack", "$JS.ACK.ST.C1.1.2.2.1796512161904540082.0@hop.js",
				"MSG hop.js 1 $JS.ACK.ST.C1.1.2.2.1796512161904540082.0 128\r\n"},
		} {
			b.Run(k.String()+"-"+v.name, func(b *testing.B) {
				hub := start(b, k, hubConfig("hub"))
				frameLen := int64(len(v.delivered) + len(payload) + 2)
				var got atomic.Int64
				sc := dialRawClient(b, hub, "SUB > 1\r\n")
				go func() {
					buf := make([]byte, 64<<10)
					var total int64
					for {
						n, err := sc.Read(buf)
						total += int64(n)
						got.Store(total / frameLen)
						if err != nil {
							return
						}
					}
				}()
				r := dialRawLeaf(b, hub)
				r.handshake(connectJSON)
				// Drain what the hub sends (interest, pings) so that it never
				// waits on this connection.
				go func() { _, _ = io.Copy(io.Discard, r.conn) }()
				const batch = 256
				frame := "LMSG hop " + v.reply + " 128\r\n" + payload + "\r\n"
				buf := []byte(strings.Repeat(frame, batch))

				b.SetBytes(128)
				b.ReportAllocs()
				var sent int64
				for b.Loop() {
					if sent%batch == 0 {
						for sent-got.Load() > 16<<10 {
							time.Sleep(20 * time.Microsecond)
						}
						if _, err := r.conn.Write(buf); err != nil {
							b.Fatal(err)
						}
					}
					sent++
				}
				// Whole batches were written; wait for all of them.
				sent = (sent + batch - 1) / batch * batch
				deadline := time.Now().Add(30 * time.Second)
				for got.Load() < sent {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d messages arrived", got.Load(), sent)
					}
					time.Sleep(100 * time.Microsecond)
				}
			})
		}
	}
}

// dialRawClient connects to s's client port as a bare protocol client,
// sends proto after CONNECT, and returns once the server has answered a
// PING after it, with the INFO and PONG read.
func dialRawClient(b *testing.B, s server, proto string) net.Conn {
	b.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL(), "nats://"), 2*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, "CONNECT {\"verbose\":false}\r\n"+proto+"PING\r\n"); err != nil {
		b.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReaderSize(conn, 1)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			b.Fatalf("raw client: %v", err)
		}
		if line == "PONG\r\n" {
			break
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn
}
