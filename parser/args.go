package parser

// This file turns a complete control line's argument text into Op fields.
// The line never contains the LF, nor the CR dropped before it.

import "encoding/binary"

// maxSizeDigits is the longest size nats-server accepts. Nine digits keep
// every size below a billion, so it fits an int32 on any platform and no
// overflow check is needed.
const maxSizeDigits = 9

// parseSize reads an unsigned decimal of one to nine digits. It returns -1
// for anything else, including a sign, so callers test one condition.
func parseSize(d []byte) int {
	if len(d) == 0 || len(d) > maxSizeDigits {
		return -1
	}
	n := 0
	for _, c := range d {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// split cuts line into fields separated by runs of spaces and tabs. It
// stores the first len(dst) fields and returns how many fields there are in
// all, so a caller with a fixed array on its stack can tell "too many"
// without the array ever growing onto the heap.
func split(line []byte, dst [][]byte) int {
	n := 0
	for i := 0; ; {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return n
		}
		start := i
		i = fieldEnd(line, i)
		if n < len(dst) {
			dst[n] = line[start:i]
		}
		n++
	}
}

// fieldEnd returns the index of the first space or tab in line at or after
// i, or len(line). Field bytes are nearly always above ' ', so one compare
// settles most of them.
func fieldEnd(line []byte, i int) int {
	// Eight bytes at a time while none of them is a control byte or a
	// space (a subject seldom holds one): a word has a byte under 0x21
	// exactly when subtracting 0x21 from every byte borrows into a high
	// bit that the byte itself did not have.
	for ; i+8 <= len(line); i += 8 {
		x := binary.LittleEndian.Uint64(line[i:])
		if (x-0x2121212121212121)&^x&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(line); i++ {
		if c := line[i]; c <= ' ' && isSpace(c) {
			break
		}
	}
	return i
}

// appendFields appends every field of line to dst. Leaf message lines carry
// an unbounded list of queue names, so they cannot use a fixed array.
func appendFields(dst [][]byte, line []byte) [][]byte {
	for i := 0; ; {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return dst
		}
		start := i
		i = fieldEnd(line, i)
		dst = append(dst, line[start:i])
	}
}

// parseLine fills f.op from the argument text of a control line of the given
// kind. For the ops that carry a payload it returns the declared total size;
// the caller checks it against MaxPayload, because a reparse of a line held
// across reads must not fail on a limit changed in between.
func parseLine(f *frame, kind Kind, line []byte) (size int, err error) {
	op := &f.op
	if kind == Pub {
		// The op most often parsed by far: it sets only the fields a PUB
		// has, and clears the others only when another kind of op left
		// them set, instead of clearing the whole Op every time.
		if f.dirty {
			*op = Op{}
			f.dirty = false
		}
		op.Kind = Pub
		op.Arg = line
		return parsePub(op, line)
	}
	*op = Op{Kind: kind, Arg: line}
	f.dirty = true
	switch kind {
	case Connect, Info, Err:
	case HPub:
		var a [4][]byte
		var hdr int
		switch split(line, a[:]) {
		case 3:
			op.Subject, hdr, size = a[0], parseSize(a[1]), parseSize(a[2])
		case 4:
			op.Subject, op.Reply, hdr, size = a[0], a[1], parseSize(a[2]), parseSize(a[3])
		default:
			return 0, ErrArgs
		}
		if hdr < 0 || size < 0 || hdr > size {
			return 0, ErrArgs
		}
		op.HdrLen = hdr
	case Sub:
		var a [3][]byte
		switch split(line, a[:]) {
		case 2:
			op.Subject, op.SID = a[0], a[1]
		case 3:
			op.Subject, op.Queue, op.SID = a[0], a[1], a[2]
		default:
			return 0, ErrArgs
		}
	case Unsub:
		var a [2][]byte
		switch split(line, a[:]) {
		case 1:
			op.SID = a[0]
		case 2:
			op.SID = a[0]
			// nats-server reads a malformed max as "no max", which unsubscribes
			// at once, exactly as an absent one does; it is not a parse error.
			op.Max = int64(max(parseSize(a[1]), 0))
		default:
			return 0, ErrArgs
		}
	case LSub:
		var a [3][]byte
		switch split(line, a[:]) {
		case 1:
			op.Subject = a[0]
		case 3:
			op.Subject, op.Queue = a[0], a[1]
			// A missing, zero or malformed weight still stands for one member,
			// as in nats-server; nine digits cannot overflow an int32.
			op.Weight = int32(max(parseSize(a[2]), 1))
		default:
			return 0, ErrArgs
		}
	case LUnsub:
		var a [2][]byte
		switch split(line, a[:]) {
		case 1:
			op.Subject = a[0]
		case 2:
			op.Subject, op.Queue = a[0], a[1]
		default:
			return 0, ErrArgs
		}
	case LMsg, HMsg:
		return parseLeafMsg(f, kind, line)
	}
	return size, nil
}

// parsePub reads a PUB's "subject [reply] size" into op and returns the
// size. It works from both ends, so that the size is read once, as its
// digits are found, and the fields need no array: the same fields and
// errors as split would give.
func parsePub(op *Op, line []byte) (int, error) {
	e := len(line)
	for e > 0 && isSpace(line[e-1]) {
		e--
	}
	d := e
	for d > 0 && !isSpace(line[d-1]) {
		d--
	}
	r := d
	for r > 0 && isSpace(line[r-1]) {
		r--
	}
	if r == 0 {
		// One field, or none.
		return 0, ErrArgs
	}
	s := 0
	for isSpace(line[s]) {
		s++
	}
	se := fieldEnd(line[:r], s)
	op.Subject, op.Reply = line[s:se], nil
	if se < r {
		rs := se
		for isSpace(line[rs]) {
			rs++
		}
		if fieldEnd(line[:r], rs) != r {
			return 0, ErrArgs
		}
		op.Reply = line[rs:r]
	}
	size := parseSize(line[d:e])
	if size < 0 {
		return 0, ErrArgs
	}
	return size, nil
}

// parseLeafMsg reads
//
//	LMSG subject [reply | + reply queue... | "|" queue...] size
//	HMSG subject [reply | + reply queue... | "|" queue...] hdr size
//
// With two (LMSG) or three (HMSG) fields after the subject, the middle one is
// the reply whatever it looks like, as in nats-server; only a longer line
// must start with a "+" or "|" marker.
func parseLeafMsg(f *frame, kind Kind, line []byte) (size int, err error) {
	op := &f.op
	args := appendFields(f.fields[:0], line)
	f.fields = args
	sizes := 1
	if kind == HMsg {
		sizes = 2
	}
	n := len(args)
	switch {
	case n < 1+sizes:
		return 0, ErrArgs
	case n == 1+sizes:
	case n == 2+sizes:
		op.Reply = args[1]
	default:
		if len(args[1]) != 1 {
			return 0, ErrArgs
		}
		first := 2
		switch args[1][0] {
		case '+':
			op.Reply = args[2]
			first = 3
		case '|':
		default:
			return 0, ErrArgs
		}
		if q := args[first : n-sizes : n-sizes]; len(q) > 0 {
			op.Queues = q
		}
	}
	size = parseSize(args[n-1])
	if kind == HMsg {
		hdr := parseSize(args[n-2])
		if hdr < 0 || size < 0 || hdr > size {
			return 0, ErrArgs
		}
		op.HdrLen = hdr
	}
	if size < 0 {
		return 0, ErrArgs
	}
	op.Subject = args[0]
	return size, nil
}
