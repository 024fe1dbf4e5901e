package loop

import (
	"errors"
	"hash/crc32"

	"github.com/klauspost/compress/s2"
)

// Leaf links compress with S2, the way nats-server does (PROTOCOL.md 4.6):
// once negotiated, each direction is an S2 framed stream, which this layer
// produces and reads on the transport seam, inside TLS when the link has
// it. The compression itself is klauspost/compress/s2's, nats-server's
// own; the framing around its blocks (a stream identifier, then chunks of
// a type byte, a 3-byte length, a masked CRC-32C and the block) is small
// enough to do here, which lets the loop decode whatever part of a chunk
// has arrived without a reader goroutine, and keeps the buffers per loop
// rather than per link.

// The compression levels of a link, in nats-server's words.
const (
	compressOff          = "off"
	compressAccept       = "accept"
	compressNotSupported = "not supported"
	compressAuto         = "s2_auto"
	compressUncompressed = "s2_uncompressed"
	compressFast         = "s2_fast"
	compressBetter       = "s2_better"
	compressBest         = "s2_best"
)

const (
	s2StreamID = "\xff\x06\x00\x00S2sTwO"
	// s2BlockMax is the most plaintext one chunk carries, as nats-server's
	// writer's default block.
	s2BlockMax = 1 << 20
	// s2ChunkMax bounds a chunk this side accepts: s2 readers take blocks
	// of up to 4 MiB, and a compressed one may be a little larger.
	s2ChunkMax = 4<<20 + 4<<10

	s2ChunkCompressed   = 0x00
	s2ChunkUncompressed = 0x01
	s2ChunkPadding      = 0xfe
	s2ChunkStreamID     = 0xff
)

var (
	errS2Chunk = errors.New("s2: corrupt input")
	errS2CRC   = errors.New("s2: corrupt input, crc mismatch")
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// s2CRC is the framing format's checksum: CRC-32C, masked.
func s2CRC(b []byte) uint32 {
	return s2Mask(crc32.Update(0, crcTable, b))
}

// s2Mask turns a CRC-32C into the framing format's checksum: rotated and
// offset.
func s2Mask(c uint32) uint32 {
	return (c>>15 | c<<17) + 0xa282ead8
}

// s2Layer is one link's compression. Reading and writing switch on at
// different moments of the negotiation, hence two flags.
type s2Layer struct {
	xl      xlink
	level   string // what output uses: s2_uncompressed, s2_fast, s2_better, s2_best
	writeOn bool
	readOn  bool
	pend    []byte // input: a chunk not complete yet
	dec     []byte // input: a decompressed block
	started bool   // input: the stream identifier was seen
}

func (l *s2Layer) link() *xlink  { return &l.xl }
func (l *s2Layer) holding() bool { return false }
func (l *s2Layer) release()      { l.pend, l.dec = nil, nil }

func (l *s2Layer) input(c *client, raw []byte) {
	if !l.readOn {
		l.xl.pass(c, raw)
		return
	}
	err := l.decode(raw, func(b []byte) bool {
		// A block may hold a megabyte of messages: hand it on in pieces
		// the size of one socket read, writing what each caused before
		// the next, as if they had come in reads of their own. Receivers'
		// buffers then stay the size the plaintext path gives them.
		for len(b) > readBufferCap && !c.closed.Load() {
			l.xl.pass(c, b[:readBufferCap])
			b = b[readBufferCap:]
			c.w.flush()
		}
		if !c.closed.Load() {
			l.xl.pass(c, b)
		}
		return !c.closed.Load()
	})
	if err != nil {
		l.pend = nil
		c.srv.log.Errorf("%s - Leafnode decompression error: %v", c, err)
		c.closeWith(reasonReadError, "")
	}
}

// decode reads the chunks that raw completes, handing each one's
// plaintext to deliver until it says stop, and keeps what is left of an
// incomplete chunk for the next call. Plaintext is only valid during the
// call.
func (l *s2Layer) decode(raw []byte, deliver func([]byte) bool) error {
	data := raw
	if len(l.pend) > 0 {
		l.pend = append(l.pend, raw...)
		data = l.pend
	}
	for len(data) >= 4 {
		typ := data[0]
		n := int(data[1]) | int(data[2])<<8 | int(data[3])<<16
		if n > s2ChunkMax {
			return errS2Chunk
		}
		if len(data) < 4+n {
			break
		}
		body := data[4 : 4+n]
		data = data[4+n:]
		plain, err := l.chunk(typ, body)
		if err != nil {
			return err
		}
		if plain != nil && !deliver(plain) {
			l.pend = nil
			return nil
		}
	}
	switch {
	case len(data) == 0:
		l.pend = l.pend[:0]
		if cap(l.pend) > maxKeptOut {
			l.pend = nil
		}
	case len(l.pend) > 0:
		// data is the tail of pend: move it to the front, unless nothing
		// was taken (a large chunk arriving in small reads must not be
		// copied again at every read).
		if len(data) < len(l.pend) {
			k := copy(l.pend, data)
			l.pend = l.pend[:k]
		}
	default:
		l.pend = append(l.pend[:0], data...)
	}
	return nil
}

// chunk decodes one chunk: its type and its body (after the 4-byte
// header). It returns nil plaintext for chunks that carry none.
func (l *s2Layer) chunk(typ byte, body []byte) ([]byte, error) {
	switch {
	case typ == s2ChunkStreamID:
		if string(body) != s2StreamID[4:] && string(body) != "sNaPpY" {
			return nil, errS2Chunk
		}
		l.started = true
		return nil, nil
	case !l.started:
		return nil, errS2Chunk
	case typ == s2ChunkCompressed, typ == s2ChunkUncompressed:
		if len(body) < 4 {
			return nil, errS2Chunk
		}
		sum := uint32(body[0]) | uint32(body[1])<<8 | uint32(body[2])<<16 | uint32(body[3])<<24
		plain := body[4:]
		if typ == s2ChunkCompressed {
			n, err := s2.DecodedLen(plain)
			if err != nil || n > 4<<20 {
				return nil, errS2Chunk
			}
			if cap(l.dec) < n {
				l.dec = make([]byte, n)
			}
			if plain, err = s2.Decode(l.dec[:n], plain); err != nil {
				return nil, errS2Chunk
			}
		}
		if s2CRC(plain) != sum {
			return nil, errS2CRC
		}
		return plain, nil
	case typ >= 0x80:
		// Skippable, and padding.
		return nil, nil
	}
	// Reserved unskippable chunk types.
	return nil, errS2Chunk
}

// output frames pieces as one S2 stream: the identifier, then a chunk per
// block of up to s2BlockMax bytes, compressed at the link's level unless
// that does not make it smaller.
func (l *s2Layer) output(c *client, pieces [][]byte) (int, error) {
	if !l.writeOn {
		return l.xl.emitv(c, pieces)
	}
	if l.level == compressUncompressed && (l.xl.down != nil || c.conn.OutboundBuffered() == 0) {
		// (With gnet's buffer backed up, gnet would queue every slice as
		// a node of its own: the framing below assembles one instead, as
		// flushOut does for plaintext.)
		return l.outputPlain(c, pieces)
	}
	w := c.w
	out := append(w.s2out[:0], s2StreamID...)
	block := w.s2in[:0]
	for _, p := range pieces {
		for len(p) > 0 {
			if len(block) == 0 && len(p) >= s2BlockMax {
				out = l.frame(out, p[:s2BlockMax])
				p = p[s2BlockMax:]
				continue
			}
			k := min(len(p), s2BlockMax-len(block))
			block = append(block, p[:k]...)
			p = p[k:]
			if len(block) == s2BlockMax {
				out = l.frame(out, block)
				block = block[:0]
			}
		}
	}
	if len(block) > 0 {
		out = l.frame(out, block)
	}
	n, err := l.xl.emit(c, out)
	if cap(out) <= maxKeptBatch {
		w.s2out = out[:0]
	}
	if cap(block) <= maxKeptBatch {
		w.s2in = block[:0]
	}
	return n, err
}

// frame appends one chunk holding b.
func (l *s2Layer) frame(out, b []byte) []byte {
	sum := s2CRC(b)
	start := len(out)
	out = append(out, 0, 0, 0, 0, byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24))
	typ := byte(s2ChunkUncompressed)
	if l.level != compressUncompressed {
		need := start + 8 + s2.MaxEncodedLen(len(b))
		if cap(out) < need {
			grown := make([]byte, len(out), need+need/4)
			copy(grown, out)
			out = grown
		}
		var enc []byte
		dst := out[start+8 : cap(out)]
		switch l.level {
		case compressBest:
			enc = s2.EncodeBest(dst, b)
		case compressBetter:
			enc = s2.EncodeBetter(dst, b)
		default:
			enc = s2.Encode(dst, b)
		}
		if len(enc) < len(b) {
			typ = s2ChunkCompressed
			out = out[:start+8+len(enc)]
		}
	}
	if typ == s2ChunkUncompressed {
		out = append(out, b...)
	}
	n := len(out) - start - 4
	out[start] = typ
	out[start+1], out[start+2], out[start+3] = byte(n), byte(n>>8), byte(n>>16)
	return out
}

// s2PlainChunk is the most one uncompressed chunk carries: small enough
// that the reader mostly finds whole chunks in one read, so it seldom has
// to gather one before checking its CRC.
const s2PlainChunk = 64 << 10

// outputPlain frames pieces in uncompressed chunks without copying them:
// only the headers (with each chunk's CRC, computed over the pieces as they
// are) are written into scratch, and the pieces go down between them in
// one vectored write. This is s2_uncompressed, what s2_auto picks on a
// fast link, so it is the common case.
func (l *s2Layer) outputPlain(c *client, pieces [][]byte) (int, error) {
	w := c.w
	total := 0
	for _, p := range pieces {
		total += len(p)
	}
	if total == 0 {
		return 0, nil
	}
	// Every header's room is taken before any is sliced, so the slices
	// stay valid: the scratch never grows under them.
	need := len(s2StreamID) + 8*(total/s2PlainChunk+len(pieces)+1)
	hdrs := w.s2out[:0]
	if cap(hdrs) < need {
		hdrs = make([]byte, 0, need)
	}
	hdrs = append(hdrs, s2StreamID...)
	iov := w.s2iov[:0]
	written := 0
	var (
		head = -1 // index in iov of the open chunk's header slice
		at   int  // where in hdrs its 8 bytes start
		n    int  // its data so far
		sum  uint32
		seal = func() {
			m := s2Mask(sum)
			h := hdrs[at : at+8]
			h[0] = s2ChunkUncompressed
			h[1], h[2], h[3] = byte(n+4), byte((n+4)>>8), byte((n+4)>>16)
			h[4], h[5], h[6], h[7] = byte(m), byte(m>>8), byte(m>>16), byte(m>>24)
		}
	)
	for _, p := range pieces {
		for len(p) > 0 {
			if head < 0 {
				at = len(hdrs)
				hdrs = append(hdrs, 0, 0, 0, 0, 0, 0, 0, 0)
				start := at
				if at == len(s2StreamID) {
					start = 0 // the stream identifier rides with the first header
				}
				head = len(iov)
				iov = append(iov, hdrs[start:at+8])
				n, sum = 0, 0
			}
			k := min(len(p), s2PlainChunk-n)
			sum = crc32.Update(sum, crcTable, p[:k])
			iov = append(iov, p[:k])
			n += k
			p = p[k:]
			if n == s2PlainChunk {
				seal()
				head = -1
				if len(iov) >= maxIOV {
					// Within what one writev takes: send what is sealed.
					k, err := l.xl.emitv(c, iov)
					written += k
					clear(iov)
					iov = iov[:0]
					if err != nil {
						return written, err
					}
				}
			}
		}
	}
	if head >= 0 {
		seal()
	}
	k, err := l.xl.emitv(c, iov)
	written += k
	clear(iov)
	w.s2iov = iov[:0]
	if cap(hdrs) <= maxKeptBatch {
		w.s2out = hdrs[:0]
	}
	return written, err
}
