package parser

import (
	"fmt"
	"strings"
	"testing"
)

// readSize is what one gnet read hands the parser at most (ReadBufferCap's
// default), so the batch benchmarks parse one full read per iteration.
const readSize = 64 << 10

// batch repeats op until the next copy would pass readSize.
func batch(op string) ([]byte, int) {
	n := max(1, readSize/len(op))
	return []byte(strings.Repeat(op, n)), n
}

// benchParse parses buf once per iteration and reports the cost per op as
// well as per batch.
func benchParse(b *testing.B, mode Mode, buf []byte, nops int) {
	b.Helper()
	p := &Parser{Mode: mode}
	h := &counter{}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if err := p.Parse(buf, h); err != nil {
			b.Fatal(err)
		}
	}
	if h.n != b.N*nops && b.N > 0 {
		b.Fatalf("%d ops, want %d", h.n, b.N*nops)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nops), "ns/op-parsed")
}

func BenchmarkParsePub(b *testing.B) {
	for _, size := range []int{16, 128, 1024} {
		op := fmt.Sprintf("PUB foo.bar.baz %d\r\n%s\r\n", size, strings.Repeat("x", size))
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			buf, n := batch(op)
			benchParse(b, Client, buf, n)
		})
	}
}

// BenchmarkParsePubSingle parses one small PUB per call, the worst case for
// per-call costs such as the frame pool.
func BenchmarkParsePubSingle(b *testing.B) {
	benchParse(b, Client, []byte("PUB foo.bar.baz 16\r\n0123456789abcdef\r\n"), 1)
}

func BenchmarkParseHPub(b *testing.B) {
	buf, n := batch("HPUB foo.hdr _INBOX.5ozhQnYb0PbJ0ZfBQvHxMx.1 23 39\r\nNATS/1.0\r\nX-Test: 1\r\n\r\n0123456789abcdef\r\n")
	benchParse(b, Client, buf, n)
}

func BenchmarkParseSub(b *testing.B) {
	buf, n := batch("SUB foo.bar.*  1234\r\nSUB svc.echo workers 1235\r\n")
	benchParse(b, Client, buf, 2*n)
}

func BenchmarkParseLMsgQueues(b *testing.B) {
	buf, n := batch("LMSG foo.bar + _INBOX.5ozhQnYb0PbJ0ZfBQvHxMx.1 q1 q2 q3 q4 16\r\n0123456789abcdef\r\n")
	benchParse(b, Leaf, buf, n)
}

// BenchmarkParseSplitPayload feeds messages whose payload always straddles
// two reads, so every message is reassembled in scratch memory.
func BenchmarkParseSplitPayload(b *testing.B) {
	for _, size := range []int{128, 16 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			op := []byte(fmt.Sprintf("PUB foo.bar.baz %d\r\n%s\r\n", size, strings.Repeat("x", size)))
			cut := len(op) / 2
			first, second := op[:cut], op[cut:]
			p := &Parser{}
			h := &counter{}
			b.ReportAllocs()
			b.SetBytes(int64(len(op)))
			for b.Loop() {
				if err := p.Parse(first, h); err != nil {
					b.Fatal(err)
				}
				if err := p.Parse(second, h); err != nil {
					b.Fatal(err)
				}
			}
			if h.n != b.N {
				b.Fatalf("%d ops, want %d", h.n, b.N)
			}
		})
	}
}

// BenchmarkParseSplitLine cuts every read in the middle of a PUB control
// line, which is what a stream of small messages across 64 KiB reads does
// to one op per read.
func BenchmarkParseSplitLine(b *testing.B) {
	op := []byte("PUB foo.bar.baz _INBOX.5ozhQnYb0PbJ0ZfBQvHxMx.1 16\r\n0123456789abcdef\r\n")
	first, second := op[:20], op[20:]
	p := &Parser{}
	h := &counter{}
	b.ReportAllocs()
	b.SetBytes(int64(len(op)))
	for b.Loop() {
		if err := p.Parse(first, h); err != nil {
			b.Fatal(err)
		}
		if err := p.Parse(second, h); err != nil {
			b.Fatal(err)
		}
	}
}
