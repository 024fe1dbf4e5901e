// Package parser is Canopy's zero-copy NATS protocol parser: a resumable byte
// state machine over the bytes the event loop already holds.
//
// The parser slices its caller's buffer while an op is complete inside it and
// copies only the tail of an op split across reads, into scratch memory it
// takes from a pool and gives back once the op is done. It performs no I/O,
// knows nothing of connections, and emits each op through Handler.
package parser

import "errors"

// Mode selects which ops a connection may send and how they are read.
type Mode uint8

const (
	// Client is the server side of a client connection.
	Client Mode = iota
	// Leaf is either side of a leaf link: it adds LS+, LS-, LMSG and the
	// leaf form of HMSG.
	Leaf
)

// Kind names an op.
type Kind uint8

// The ops. HMsg is the leaf form of a header message; a client never sends
// one.
const (
	Connect Kind = iota + 1
	Info
	Pub
	HPub
	Sub
	Unsub
	Ping
	Pong
	OK
	Err
	LSub   // LS+, and SUB on a leaf link (nats-server reads both alike)
	LUnsub // LS-, and UNSUB on a leaf link
	LMsg   // LMSG
	HMsg   // HMSG on a leaf link
)

// Op is one parsed operation. Its byte slices point into the buffer given to
// Parse or into the parser's scratch memory: they stay valid only until the
// Handler returns. Copy anything you keep.
type Op struct {
	Kind Kind

	Subject []byte // PUB, HPUB, SUB, LS+, LS-, LMSG, HMSG
	Reply   []byte // PUB, HPUB, LMSG, HMSG; nil when absent
	Queue   []byte // SUB, LS+, LS-; nil when absent
	SID     []byte // SUB, UNSUB

	// Arg is the control line's argument text as it arrived, after the op
	// name and the whitespace after it, without the line end: the JSON of
	// CONNECT and INFO, the text of -ERR (quotes included, as sent), and for
	// the other ops what a protocol trace shows ("foo  1" for a SUB without
	// a queue, as nats.go sends it). Nil for ops without arguments.
	Arg []byte

	// Msg is the message: header block then body, without the trailing CRLF.
	Msg []byte
	// HdrLen is how many leading bytes of Msg are the header block (HPUB and
	// HMSG); 0 for PUB and LMSG, and for an HPUB that declares 0.
	HdrLen int

	Max    int64    // UNSUB: the max messages argument; 0 when absent or not a number
	Weight int32    // LS+ with a queue: the weight (1 when 0 or not a number of at most 9 digits)
	Queues [][]byte // LMSG and HMSG: the queue groups listed after "+ reply" or "|"
}

// Handler receives parsed ops. An error it returns stops Parse, which
// returns that error unchanged.
type Handler interface {
	Op(op *Op) error
}

// Errors. Each tells the connection what to say before it closes (see the
// -ERR catalogue in PROTOCOL.md section 2.8).
var (
	// ErrUnknownOp: -ERR 'Unknown Protocol Operation', then close.
	ErrUnknownOp = errors.New("parser: unknown protocol operation")
	// ErrTerminator: a payload not followed by CRLF; nats-server answers it
	// like an unknown op.
	ErrTerminator = errors.New("parser: payload not terminated by CRLF")
	// ErrControlLine: -ERR 'maximum control line exceeded', then close.
	ErrControlLine = errors.New("parser: maximum control line exceeded")
	// ErrPayload: -ERR 'Maximum Payload Violation', then close.
	ErrPayload = errors.New("parser: maximum payload exceeded")
	// ErrArgs: wrong argument count, bad size or marker; close without -ERR.
	ErrArgs = errors.New("parser: invalid arguments")
	// ErrNotConnected: the first op of a connection awaiting authentication
	// is not CONNECT; -ERR 'Authorization Violation', then close.
	ErrNotConnected = errors.New("parser: expected CONNECT")
	// ErrStop is not a protocol error: a handler returns it to stop right
	// after the op it was given (to finish that op asynchronously, say).
	// Parse returns it, and Rest gives the bytes not yet parsed; the Parser
	// stays usable.
	ErrStop = errors.New("parser: stopped by the handler")
)
