package parser

import (
	"bytes"
	"math"
)

const (
	// DefaultMaxControlLine is the limit on a control line's argument bytes
	// when Parser.MaxControlLine is 0 (nats-server's max_control_line).
	DefaultMaxControlLine = 4096
	// DefaultMaxPayload is the limit on a message's total size when
	// Parser.MaxPayload is 0 (nats-server's max_payload).
	DefaultMaxPayload = 1 << 20
)

// Parser reads the NATS protocol from a stream of byte slices, one per read,
// and hands each complete op to a Handler.
//
// The zero value, with Mode set, is ready to use. A Parser is not safe for
// concurrent use; it belongs to the goroutine that reads its connection.
type Parser struct {
	// Mode selects which ops are accepted.
	Mode Mode
	// NeedConnect, while true, makes any op other than CONNECT fail with
	// ErrNotConnected. The Handler clears it once CONNECT succeeds; Parse
	// reads it afresh before every op, so the change applies to the very
	// next op of the same buffer.
	NeedConnect bool

	// The one-byte state sits beside Mode and NeedConnect so that all five
	// share a word: a server may hold 100,000 Parsers.
	state uint8 // one of the st constants
	pos   uint8 // letters of the op name matched so far, in stName
	kind  Kind  // the op being read, once its name is known

	// MaxControlLine limits the argument bytes of one control line: what
	// follows the op name and its separating whitespace, without the line
	// end. 0 means DefaultMaxControlLine. Callers pass 16 times the
	// configured value for leaf links, as nats-server does.
	MaxControlLine int
	// MaxPayload limits the total size (headers and body) declared by PUB,
	// HPUB, LMSG and HMSG. 0 means DefaultMaxPayload; a negative value means
	// no limit beyond the nine-digit size format, like nats-server's -1.
	MaxPayload int

	// argLen and size describe a payload op held in sc: sc.b[:argLen] is
	// its argument text and sc.b[argLen:] the payload bytes read so far,
	// of size in all.
	argLen int
	size   int

	// sc holds the unfinished tail of an op split across reads; nil
	// otherwise, so an idle connection pins no scratch memory.
	sc *chunk

	// end is where in the buffer being parsed the op handed to the
	// Handler ends, for Rest.
	end int
}

// Parser states. Only the states that can be left unfinished at the end of
// a buffer need a name; everything else happens within one step.
const (
	stStart   uint8 = iota // expecting the first letter of an op
	stP                    // "P" read: PUB, PING or PONG follows
	stH                    // "H" read: HPUB or HMSG follows
	stL                    // "L" read: LS+, LS- or LMSG follows
	stLS                   // "LS" read: "+" or "-" follows
	stName                 // matching the rest of names[kind]; pos letters done
	stSep                  // the name must be followed by a space or tab
	stSpace                // skipping whitespace before the argument text
	stArg                  // reading argument text up to LF
	stSkip                 // ignoring the rest of a PING, PONG or +OK line
	stPayload              // reading a payload into sc
	stEndCR                // payload read, expecting its CR
	stEndLF                // CR read, expecting the LF
)

// names spells each op in lower case, to be compared with a byte or'ed with
// 0x20. Name matching only ever reaches the letters of these names (the "+"
// and "-" are matched by explicit cases), and for a lower-case letter x,
// c|0x20 == x holds exactly when c is x or its upper-case form.
var names = [...]string{
	Connect: "connect",
	Info:    "info",
	Pub:     "pub",
	HPub:    "hpub",
	Sub:     "sub",
	Unsub:   "unsub",
	Ping:    "ping",
	Pong:    "pong",
	OK:      "+ok",
	Err:     "-err",
	LSub:    "ls+",
	LUnsub:  "ls-",
	LMsg:    "lmsg",
	HMsg:    "hmsg",
}

// Parse consumes all of buf and calls h.Op for each op completed in it, in
// order. An op whose end is not in buf is kept and finished by later calls.
//
// The *Op passed to h, and every slice in it, are valid only until h.Op
// returns: they point into buf, into scratch memory the parser reuses, or
// both. Parse keeps no reference to buf once it returns, so the caller may
// reuse buf at once.
//
// Parse returns the first error: one of this package's sentinels, or an error
// from h.Op returned unchanged. Parsing stops there, and the Parser is left
// in no defined state; the connection should be closed and, after Release,
// the Parser discarded.
func (p *Parser) Parse(buf []byte, h Handler) error {
	var f *frame
	err := p.parse(buf, h, &f)
	if f != nil {
		putFrame(f)
	}
	return err
}

// Rest is what the last Parse of buf left unparsed when a handler returned
// ErrStop: the bytes that followed the op it stopped at, a slice of buf.
// Call it right after that Parse, with the same buf; copy the result to
// keep it. The Parser is in its start state, ready for those bytes (or
// others) in a later Parse.
func (p *Parser) Rest(buf []byte) []byte {
	if p.end > len(buf) {
		return nil
	}
	return buf[p.end:]
}

// Pending returns how many bytes of a split op the Parser currently holds in
// scratch memory: the argument text of an unfinished control line, or the
// argument text and payload bytes of an unfinished message.
func (p *Parser) Pending() int {
	if p.sc == nil {
		return 0
	}
	return len(p.sc.b)
}

// Release gives any scratch memory back to its pool and resets the parse
// state, leaving the Parser as if new (its exported fields are kept). Call it
// when the connection closes. It is safe to call more than once.
func (p *Parser) Release() {
	p.drop()
	p.state, p.pos, p.kind = stStart, 0, 0
	p.argLen, p.size = 0, 0
}

func (p *Parser) drop() {
	if p.sc != nil {
		putChunk(p.sc)
		p.sc = nil
	}
}

func (p *Parser) maxControlLine() int {
	if p.MaxControlLine <= 0 {
		return DefaultMaxControlLine
	}
	return p.MaxControlLine
}

func (p *Parser) maxPayload() int {
	switch {
	case p.MaxPayload == 0:
		return DefaultMaxPayload
	case p.MaxPayload < 0:
		return math.MaxInt
	}
	return p.MaxPayload
}

// named moves on from a fully matched op name.
func (p *Parser) named() {
	switch p.kind {
	case Connect, Info:
		// nats-server requires no separator here; whatever follows the name,
		// after optional whitespace, is the argument.
		p.state = stSpace
	case Ping, Pong, OK:
		p.state = stSkip
	case Sub, Unsub:
		// On a leaf link nats-server hands SUB and UNSUB to its LS+ and LS-
		// code, so they take that grammar and mean the same.
		if p.Mode == Leaf {
			if p.kind == Sub {
				p.kind = LSub
			} else {
				p.kind = LUnsub
			}
		}
		p.state = stSep
	default:
		p.state = stSep
	}
}

// Op names as little-endian words of lower-case letters, for quickName.
const (
	wordPub  = 'p' | 'u'<<8 | 'b'<<16
	wordSub  = 's' | 'u'<<8 | 'b'<<16
	wordHPub = 'h' | 'p'<<8 | 'u'<<16 | 'b'<<24
	wordLMsg = 'l' | 'm'<<8 | 's'<<16 | 'g'<<24
	wordHMsg = 'h' | 'm'<<8 | 's'<<16 | 'g'<<24
)

// quickName recognises PUB, HPUB and SUB, and on a leaf link LMSG and HMSG,
// each with its separator, at the start of b (five bytes). It returns the
// kind and how many bytes the name and separator take, or 0 bytes when b
// starts with anything else. Or'ing each byte with 0x20 folds case without
// false matches because every byte compared is a letter.
func (p *Parser) quickName(b []byte) (Kind, int) {
	w := (uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24) | 0x20202020
	switch {
	case w&0xffffff == wordPub && isSpace(b[3]):
		return Pub, 4
	case w&0xffffff == wordSub && isSpace(b[3]):
		if p.Mode == Leaf {
			return LSub, 4
		}
		return Sub, 4
	case w == wordHPub && isSpace(b[4]):
		return HPub, 5
	case p.Mode == Leaf && w == wordLMsg && isSpace(b[4]):
		return LMsg, 5
	case p.Mode == Leaf && w == wordHMsg && isSpace(b[4]):
		return HMsg, 5
	}
	return 0, 0
}

func (p *Parser) name(k Kind, matched uint8) {
	p.kind, p.pos, p.state = k, matched, stName
}

func (p *Parser) parse(buf []byte, h Handler, fp **frame) error {
	i := 0
	for i < len(buf) {
		switch p.state {
		case stStart:
			// Nearly every op arrives whole, and most are messages or
			// subscriptions, so those names and their separator are matched
			// in one step; anything else takes the byte-at-a-time path.
			if !p.NeedConnect && len(buf)-i >= 5 {
				if k, n := p.quickName(buf[i : i+5]); n > 0 {
					p.kind, p.state = k, stSpace
					i += n
					// Straight on to the arguments, without going round the
					// state switch once per step.
					for i < len(buf) && isSpace(buf[i]) {
						i++
					}
					if i < len(buf) {
						p.state = stArg
						var err error
						if i, err = p.arg(buf, i, h, fp); err != nil {
							return err
						}
					}
					continue
				}
			}
			c := buf[i]
			if p.NeedConnect && c != 'C' && c != 'c' {
				return ErrNotConnected
			}
			i++
			switch c {
			case 'P', 'p':
				p.state = stP
			case 'H', 'h':
				p.state = stH
			case 'S', 's':
				p.name(Sub, 1)
			case 'U', 'u':
				p.name(Unsub, 1)
			case 'C', 'c':
				p.name(Connect, 1)
			case 'I', 'i':
				p.name(Info, 1)
			case '+':
				p.name(OK, 1)
			case '-':
				p.name(Err, 1)
			case 'L', 'l':
				if p.Mode != Leaf {
					return ErrUnknownOp
				}
				p.state = stL
			default:
				return ErrUnknownOp
			}

		case stP:
			switch buf[i] | 0x20 {
			case 'u':
				p.name(Pub, 2)
			case 'i':
				p.name(Ping, 2)
			case 'o':
				p.name(Pong, 2)
			default:
				return ErrUnknownOp
			}
			i++

		case stH:
			switch buf[i] | 0x20 {
			case 'p':
				p.name(HPub, 2)
			case 'm':
				// HMSG from a client is the server's delivery op sent the wrong
				// way. nats-server happens to swallow one followed directly by
				// CRLF; refusing it outright, as PROTOCOL.md says, loses nothing
				// a real client sends.
				if p.Mode != Leaf {
					return ErrUnknownOp
				}
				p.name(HMsg, 2)
			default:
				return ErrUnknownOp
			}
			i++

		case stL:
			switch buf[i] | 0x20 {
			case 's':
				p.state = stLS
			case 'm':
				p.name(LMsg, 2)
			default:
				return ErrUnknownOp
			}
			i++

		case stLS:
			switch buf[i] {
			case '+':
				p.kind = LSub
			case '-':
				p.kind = LUnsub
			default:
				return ErrUnknownOp
			}
			i++
			p.named()

		case stName:
			name := names[p.kind]
			for int(p.pos) < len(name) {
				if i == len(buf) {
					return nil
				}
				if buf[i]|0x20 != name[p.pos] {
					return ErrUnknownOp
				}
				i++
				p.pos++
			}
			p.named()

		case stSep:
			if !isSpace(buf[i]) {
				return ErrUnknownOp
			}
			i++
			p.state = stSpace

		case stSpace:
			for i < len(buf) && isSpace(buf[i]) {
				i++
			}
			if i == len(buf) {
				return nil
			}
			p.state = stArg
			fallthrough

		case stArg:
			var err error
			if i, err = p.arg(buf, i, h, fp); err != nil {
				return err
			}

		case stSkip:
			n := bytes.IndexByte(buf[i:], '\n')
			if n < 0 {
				// The rest of the line is ignored, so none of it is kept and
				// no length limit is needed, as in nats-server.
				return nil
			}
			i += n + 1
			p.state = stStart
			f := p.frame(fp)
			f.op = Op{Kind: p.kind}
			p.end = i
			if err := h.Op(&f.op); err != nil {
				return err
			}

		case stPayload:
			have := len(p.sc.b) - p.argLen
			n := min(p.size-have, len(buf)-i)
			p.sc.b = append(p.sc.b, buf[i:i+n]...)
			i += n
			if have+n == p.size {
				p.state = stEndCR
			}

		case stEndCR:
			if buf[i] != '\r' {
				return ErrTerminator
			}
			i++
			p.state = stEndLF

		case stEndLF:
			if buf[i] != '\n' {
				return ErrTerminator
			}
			i++
			p.end = i
			if err := p.heldMsg(h, fp); err != nil {
				return err
			}

		default:
			panic("parser: invalid state")
		}
	}
	return nil
}

func (p *Parser) frame(fp **frame) *frame {
	if *fp == nil {
		*fp = getFrame()
	}
	return *fp
}

// arg reads argument text starting at buf[i]. If the line ends in buf it
// handles the op, and for a message its payload as far as buf goes;
// otherwise it keeps the text for the next call. It returns where parsing
// continues.
func (p *Parser) arg(buf []byte, i int, h Handler, fp **frame) (int, error) {
	limit := p.maxControlLine()
	held := 0
	if p.sc != nil {
		held = len(p.sc.b)
	}
	n := bytes.IndexByte(buf[i:], '\n')
	if n < 0 {
		return len(buf), p.hold(buf[i:], limit)
	}
	var line []byte
	if p.sc == nil {
		line = buf[i : i+n]
	} else {
		// Check before copying, so scratch never grows past the limit.
		if held+n-1 > limit {
			return 0, ErrControlLine
		}
		p.grow(held + n)
		p.sc.b = append(p.sc.b, buf[i:i+n]...)
		line = p.sc.b
	}
	i += n + 1
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	// nats-server measures the argument text alone, without the op name,
	// the whitespace after it, or the line end.
	if len(line) > limit {
		return 0, ErrControlLine
	}

	f := p.frame(fp)
	size, err := parseLine(f, p.kind, line)
	if err != nil {
		return 0, err
	}
	switch p.kind {
	case Pub, HPub, LMsg, HMsg:
	default:
		p.state = stStart
		p.end = i
		err := h.Op(&f.op)
		p.drop()
		return i, err
	}

	// The limit is checked on the declared size, before any payload is read,
	// so a peer cannot make the server buffer an oversized message.
	if size > p.maxPayload() {
		return 0, ErrPayload
	}
	if rest := buf[i:]; len(rest) >= size+2 {
		// The whole message is here: answer from buf without copying.
		if rest[size] != '\r' || rest[size+1] != '\n' {
			return 0, ErrTerminator
		}
		f.op.Msg = rest[:size]
		p.state = stStart
		p.end = i + size + 2
		err := h.Op(&f.op)
		p.drop()
		return i + size + 2, err
	}

	// The message is split. Keep its argument text and the payload read so
	// far together in one chunk; the fields are parsed again from there when
	// the message is complete, so nothing of buf is referenced in between.
	argLen := len(line)
	need := argLen + size
	if p.sc == nil {
		p.sc = getChunk(need)
		p.sc.b = append(p.sc.b, line...)
	} else {
		p.sc.b = p.sc.b[:argLen]
		p.grow(need)
	}
	n = min(size, len(buf)-i)
	p.sc.b = append(p.sc.b, buf[i:i+n]...)
	p.argLen, p.size = argLen, size
	p.state = stPayload
	if n == size {
		p.state = stEndCR
	}
	return i + n, nil
}

// hold keeps the unfinished argument text b of a control line until the
// next call. The limit is enforced here too, so a peer trickling an endless
// line cannot make the parser buffer without bound; a trailing CR is not
// counted because it may turn out to be the line end.
func (p *Parser) hold(b []byte, limit int) error {
	held := 0
	if p.sc != nil {
		held = len(p.sc.b)
	}
	total := held + len(b)
	counted := total
	if b[len(b)-1] == '\r' {
		counted--
	}
	if counted > limit {
		return ErrControlLine
	}
	p.grow(total)
	p.sc.b = append(p.sc.b, b...)
	return nil
}

// grow makes sure sc exists and has room for n bytes in all, moving its
// contents to a larger chunk when needed so that append never reallocates
// outside the pools.
func (p *Parser) grow(n int) {
	if p.sc == nil {
		p.sc = getChunk(n)
		return
	}
	if cap(p.sc.b) >= n {
		return
	}
	c := getChunk(n)
	c.b = append(c.b, p.sc.b...)
	putChunk(p.sc)
	p.sc = c
}

// heldMsg delivers a message that was split across reads, now complete in
// sc, and releases the chunk.
func (p *Parser) heldMsg(h Handler, fp **frame) error {
	f := p.frame(fp)
	// The line was valid when it arrived, and parsing is deterministic.
	if _, err := parseLine(f, p.kind, p.sc.b[:p.argLen]); err != nil {
		panic("parser: held line no longer parses")
	}
	f.op.Msg = p.sc.b[p.argLen:]
	p.state = stStart
	err := h.Op(&f.op)
	p.drop()
	return err
}
