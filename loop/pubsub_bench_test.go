package loop_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/internal/testcert"
)

// The in-process pub/sub benchmarks drive a real server over loopback TCP
// with raw protocol clients: publishers write pre-encoded PUB batches,
// subscribers count the bytes of the MSG frames they expect, and a
// PING/PONG barrier ends each publisher. Both Canopy and nats-server run
// the same workload in the same binary, so the figures sit side by side.

type benchServer struct {
	name string
	addr string
	tls  *tls.Config // clients upgrade after INFO; nil: plaintext
}

func benchServers(b *testing.B) []benchServer {
	c := natstest.StartCanopy(b, "max_payload: 8MB\nmax_pending: 256MB")
	n := natstest.StartNATS(b, "max_payload: 8MB\nmax_pending: 256MB")
	return []benchServer{{"canopy", c.ClientAddr().String(), nil}, {"nats-server", n.Addr().String(), nil}}
}

func benchDial(b *testing.B, srv benchServer, proto string) (net.Conn, *bufio.Reader) {
	b.Helper()
	nc, err := net.Dial("tcp", srv.addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	r := bufio.NewReaderSize(nc, 256<<10)
	if _, err := r.ReadString('\n'); err != nil {
		b.Fatal(err)
	}
	if srv.tls != nil {
		tc := tls.Client(nc, srv.tls)
		if err := tc.Handshake(); err != nil {
			b.Fatal(err)
		}
		nc = tc
		r = bufio.NewReaderSize(nc, 256<<10)
	}
	if _, err := io.WriteString(nc, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"+proto+"PING\r\n"); err != nil {
		b.Fatal(err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if line == "PONG\r\n" {
			return nc, r
		}
	}
}

// benchPubSub publishes b.N messages of size bytes, split over pubs
// publishers, to subs subscribers of one subject (none: publish only, the
// parse and sublist-miss path).
func benchPubSub(b *testing.B, srv benchServer, size, pubs, subs int) {
	payload := bytes.Repeat([]byte("x"), size)
	frame := []byte("PUB bench " + strconv.Itoa(size) + "\r\n" + string(payload) + "\r\n")
	msgLen := len("MSG bench 1 "+strconv.Itoa(size)+"\r\n") + size + 2
	perPub := b.N / pubs
	if perPub == 0 {
		perPub = 1
	}
	total := perPub * pubs
	done := make(chan error, subs)
	for i := 0; i < subs; i++ {
		_, r := benchDial(b, srv, "SUB bench 1\r\n")
		go func() {
			want := int64(total) * int64(msgLen)
			n, err := io.CopyN(io.Discard, r, want)
			if err == nil && n != want {
				err = fmt.Errorf("got %d of %d bytes", n, want)
			}
			done <- err
		}()
	}
	conns := make([]net.Conn, pubs)
	readers := make([]*bufio.Reader, pubs)
	for i := range conns {
		conns[i], readers[i] = benchDial(b, srv, "")
	}
	const batch = 256
	buf := bytes.Repeat(frame, batch)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	pubDone := make(chan error, pubs)
	for i := range conns {
		go func(nc net.Conn, r *bufio.Reader) {
			left := perPub
			for left > 0 {
				k := min(left, batch)
				if _, err := nc.Write(buf[:k*len(frame)]); err != nil {
					pubDone <- err
					return
				}
				left -= k
			}
			io.WriteString(nc, "PING\r\n")
			_, err := r.ReadString('\n')
			pubDone <- err
		}(conns[i], readers[i])
	}
	for range conns {
		if err := <-pubDone; err != nil {
			b.Fatal(err)
		}
	}
	timeout := time.After(60 * time.Second)
	for i := 0; i < subs; i++ {
		select {
		case err := <-done:
			if err != nil {
				b.Fatal(err)
			}
		case <-timeout:
			b.Fatal("subscribers did not receive everything")
		}
	}
	b.StopTimer()
}

func BenchmarkPubSub(b *testing.B) {
	cases := []struct {
		name             string
		size, pubs, subs int
	}{
		{"pub-16B", 16, 1, 0},
		{"1to1-16B", 16, 1, 1},
		{"1to1-128B", 128, 1, 1},
		{"fanout1to4-128B", 128, 1, 4},
		{"fanin4to1-128B", 128, 4, 1},
		{"1to1-1KiB", 1024, 1, 1},
		{"1to1-64KiB", 64 << 10, 1, 1},
	}
	for _, srv := range benchServers(b) {
		for _, tc := range cases {
			b.Run(srv.name+"/"+tc.name, func(b *testing.B) {
				benchPubSub(b, srv, tc.size, tc.pubs, tc.subs)
			})
		}
	}
}

// BenchmarkPubSubTLS is BenchmarkPubSub with every client on TLS 1.3
// (upgraded after INFO, as nats.go does).
func BenchmarkPubSubTLS(b *testing.B) {
	cs := testcert.New(b, b.TempDir())
	cfg := &tls.Config{RootCAs: cs.Pool(), ServerName: "127.0.0.1"}
	block := fmt.Sprintf("max_payload: 8MB\nmax_pending: 256MB\ntls { cert_file: %q, key_file: %q }", cs.Server.CertFile, cs.Server.KeyFile)
	c := natstest.StartCanopy(b, block)
	n := natstest.StartNATS(b, block)
	cases := []struct {
		name             string
		size, pubs, subs int
	}{
		{"1to1-16B", 16, 1, 1},
		{"1to1-1KiB", 1024, 1, 1},
		{"fanout1to4-128B", 128, 1, 4},
		{"1to1-64KiB", 64 << 10, 1, 1},
	}
	for _, srv := range []benchServer{{"canopy", c.ClientAddr().String(), cfg}, {"nats-server", n.Addr().String(), cfg}} {
		for _, tc := range cases {
			b.Run(srv.name+"/"+tc.name, func(b *testing.B) {
				benchPubSub(b, srv, tc.size, tc.pubs, tc.subs)
			})
		}
	}
}
