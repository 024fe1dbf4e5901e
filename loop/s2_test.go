package loop

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"
)

// sink is a transform that keeps what reaches it, from either side.
type sink struct {
	xl  xlink
	got []byte
}

func (s *sink) input(c *client, raw []byte) { s.got = append(s.got, raw...) }
func (s *sink) output(c *client, pieces [][]byte) (int, error) {
	n := 0
	for _, p := range pieces {
		s.got = append(s.got, p...)
		n += len(p)
	}
	return n, nil
}
func (s *sink) holding() bool { return false }
func (s *sink) release()      {}
func (s *sink) link() *xlink  { return &s.xl }

// s2Payloads is a mix the framing must carry intact: empty, tiny,
// repetitive, random, and larger than one block.
func s2Payloads() [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 3<<20)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	return [][]byte{
		nil,
		[]byte("PING\r\n"),
		bytes.Repeat([]byte(`{"sensor":"t1","value":21.5,"unit":"C"}`), 100),
		random[:1000],
		random,
		bytes.Repeat([]byte("abcdefgh"), 400_000),
	}
}

func TestS2OutputReadsWithTheLibrary(t *testing.T) {
	for _, level := range []string{compressUncompressed, compressFast, compressBetter, compressBest} {
		for i, p := range s2Payloads() {
			c := &client{w: &worker{}}
			below := &sink{}
			l := &s2Layer{level: level, writeOn: true}
			l.xl.down = below
			// Split in two pieces, as flushOut hands them.
			h := len(p) / 3
			if _, err := l.output(c, [][]byte{p[:h], p[h:]}); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(s2.NewReader(bytes.NewReader(below.got)))
			if err != nil {
				t.Fatalf("%s payload %d: %v", level, i, err)
			}
			if !bytes.Equal(got, p) {
				t.Fatalf("%s payload %d: %d bytes back for %d", level, i, len(got), len(p))
			}
			if level != compressUncompressed && i == 2 && len(below.got) > len(p)/5 {
				t.Errorf("%s: repetitive JSON of %d bytes framed to %d", level, len(p), len(below.got))
			}
		}
	}
}

func TestS2InputReadsTheLibrary(t *testing.T) {
	opts := map[string][]s2.WriterOption{
		"uncompressed": {s2.WriterConcurrency(1), s2.WriterUncompressed()},
		"fast":         {s2.WriterConcurrency(1)},
		"best":         {s2.WriterConcurrency(1), s2.WriterBestCompression()},
	}
	for name, o := range opts {
		var stream, want bytes.Buffer
		for _, p := range s2Payloads() {
			// One writer per flush, as nats-server does: every flush
			// starts with a stream identifier.
			w := s2.NewWriter(&stream, o...)
			w.Write(p)
			w.Close()
			want.Write(p)
		}
		// Delivered in reads of every size, so chunks split anywhere.
		for _, step := range []int{1, 7, 4096, 1 << 20} {
			if step == 1 && stream.Len() > 1<<20 {
				step = 3
			}
			c := &client{w: &worker{}}
			above := &sink{}
			l := &s2Layer{readOn: true}
			l.xl.up = above
			b := stream.Bytes()
			for len(b) > 0 {
				k := min(step, len(b))
				l.input(c, b[:k])
				b = b[k:]
			}
			if !bytes.Equal(above.got, want.Bytes()) {
				t.Fatalf("%s, reads of %d: %d bytes decoded for %d", name, step, len(above.got), want.Len())
			}
			if len(l.pend) != 0 {
				t.Fatalf("%s: %d bytes left pending", name, len(l.pend))
			}
		}
	}
}

func TestS2InputRefusesCorruption(t *testing.T) {
	var stream bytes.Buffer
	w := s2.NewWriter(&stream, s2.WriterConcurrency(1))
	w.Write(bytes.Repeat([]byte("hello world "), 1000))
	w.Close()
	good := stream.Bytes()
	cases := map[string][]byte{
		"no stream identifier": good[10:],
		"flipped crc":          flip(good, 14),
		"flipped data":         flip(good, len(good)-3),
		"reserved chunk type":  append([]byte(s2StreamID), 0x05, 1, 0, 0, 0),
		"oversized chunk":      append([]byte(s2StreamID), 0x00, 0xff, 0xff, 0xff),
	}
	for name, in := range cases {
		l := &s2Layer{}
		passed := 0
		err := l.decode(in, func(b []byte) bool { passed += len(b); return true })
		if err == nil {
			t.Errorf("%s: accepted (%d bytes passed up)", name, passed)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return c
}

// TestS2PlainManyPieces: uncompressed framing without copies, with more
// chunks than one writev takes and pieces split across chunks.
func TestS2PlainManyPieces(t *testing.T) {
	c := &client{w: &worker{}}
	below := &sink{}
	l := &s2Layer{level: compressUncompressed, writeOn: true}
	l.xl.down = below
	var pieces [][]byte
	var want []byte
	for i := 0; i < 600; i++ {
		p := bytes.Repeat([]byte{byte(i)}, 1+i*97%150_000)
		pieces = append(pieces, p)
		want = append(want, p...)
	}
	n, err := l.output(c, pieces)
	if err != nil || n != len(below.got) {
		t.Fatalf("output: %d, %v (%d bytes below)", n, err, len(below.got))
	}
	got, err := io.ReadAll(s2.NewReader(bytes.NewReader(below.got)))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%d bytes back for %d: %v", len(got), len(want), err)
	}
}
