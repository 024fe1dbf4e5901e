package bench

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"

	"github.com/nats-io/nats.go"
)

// Every message the harness sends carries a 16-byte tag: what kind of message
// it is, which run sent it, which publisher, and the publisher's sequence
// number. Messages of at least tagLen bytes carry it at the start of the
// payload, which costs nothing on the wire; smaller ones carry it hex-encoded
// in a header, so that even a 0-byte message is checked.
//
//	[0]     kind
//	[1:4]   run id (24 bits), so that a stray message from another run is seen
//	[4:8]   publisher id, big-endian
//	[8:16]  sequence number, big-endian, from 1
const (
	tagLen    = 16
	tagHeader = "Canopy-Bench-Tag"
)

type msgKind byte

const (
	kindData msgKind = iota + 1
	kindWarmup
	kindProbe
)

type tag struct {
	kind msgKind
	run  uint32
	pub  uint32
	seq  uint64
}

func (t tag) put(b []byte) {
	_ = b[tagLen-1]
	binary.BigEndian.PutUint32(b[0:4], t.run&0xffffff)
	b[0] = byte(t.kind)
	binary.BigEndian.PutUint32(b[4:8], t.pub)
	binary.BigEndian.PutUint64(b[8:16], t.seq)
}

func parseTag(b []byte) (tag, bool) {
	if len(b) < tagLen {
		return tag{}, false
	}
	t := tag{
		kind: msgKind(b[0]),
		run:  binary.BigEndian.Uint32(b[0:4]) & 0xffffff,
		pub:  binary.BigEndian.Uint32(b[4:8]),
		seq:  binary.BigEndian.Uint64(b[8:16]),
	}
	if t.kind < kindData || t.kind > kindProbe {
		return tag{}, false
	}
	return t, true
}

// newRunID returns a random non-zero 24-bit run id.
func newRunID() uint32 {
	return rand.Uint32N(0xffffff) + 1
}

// tagIn reads the tag of a received message, from the payload when the run's
// messages are large enough to hold it and from the header otherwise.
func tagIn(m *nats.Msg, inPayload bool) (tag, bool) {
	if inPayload {
		return parseTag(m.Data)
	}
	v := m.Header.Get(tagHeader)
	var b [tagLen]byte
	if len(v) != 2*tagLen {
		return tag{}, false
	}
	if _, err := hex.Decode(b[:], []byte(v)); err != nil {
		return tag{}, false
	}
	return parseTag(b[:])
}

// sender builds the messages of one publisher. It owns one payload buffer
// that it rewrites before every publish: nats.go copies the bytes into its
// write buffer inside Publish, so the buffer can be reused at once and the
// publish path does not allocate.
type sender struct {
	inPayload bool
	payload   []byte
	tag       tag
	msg       nats.Msg
	hdr       [2 * tagLen]byte
}

func newSender(o *Options, run, pub uint32) *sender {
	s := &sender{
		inPayload: o.Size >= tagLen,
		payload:   makePayload(o.Pattern, o.Size),
		tag:       tag{run: run, pub: pub},
	}
	if !s.inPayload {
		s.msg.Header = nats.Header{}
	}
	return s
}

// publish sends message seq of the given kind on subject through nc.
func (s *sender) publish(nc *nats.Conn, subject string, kind msgKind, seq uint64) error {
	s.tag.kind, s.tag.seq = kind, seq
	if s.inPayload {
		s.tag.put(s.payload)
		return nc.Publish(subject, s.payload)
	}
	var b [tagLen]byte
	s.tag.put(b[:])
	hex.Encode(s.hdr[:], b[:])
	s.msg.Subject = subject
	s.msg.Data = s.payload
	s.msg.Header.Set(tagHeader, string(s.hdr[:]))
	return nc.PublishMsg(&s.msg)
}

// requestMsg builds message seq of the given kind for a request. In payload
// mode the message borrows the sender's buffer: it is valid until the next
// call on s.
func (s *sender) requestMsg(subject string, kind msgKind, seq uint64) *nats.Msg {
	s.tag.kind, s.tag.seq = kind, seq
	m := &nats.Msg{Subject: subject}
	if s.inPayload {
		s.tag.put(s.payload)
		m.Data = s.payload
		return m
	}
	var b [tagLen]byte
	s.tag.put(b[:])
	hex.Encode(s.hdr[:], b[:])
	m.Data = s.payload
	m.Header = nats.Header{}
	m.Header.Set(tagHeader, string(s.hdr[:]))
	return m
}

// makePayload returns size bytes filled with the pattern. The random pattern
// uses a fixed seed so that both servers of a comparison see the same bytes.
func makePayload(p Pattern, size int) []byte {
	b := make([]byte, size)
	switch p {
	case PatternZero:
	case PatternText:
		const text = "the quick brown fox jumps over the lazy dog 0123456789 "
		for i := range b {
			b[i] = text[i%len(text)]
		}
	default:
		r := rand.New(rand.NewPCG(0x63616e6f7079, 0x62656e6368))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
	return b
}
