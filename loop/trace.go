package loop

import (
	"bytes"
	"regexp"
	"strconv"

	"github.com/canopy-nats/canopy/parser"
)

// Protocol tracing (-V, trace: true) logs every op a connection sends and
// the control lines it is sent, in nats-server's form:
//
//	[TRC] 127.0.0.1:52114 - cid:3 - <<- [PUB foo 5]
//	[TRC] 127.0.0.1:52114 - cid:3 - <<- MSG_PAYLOAD: ["hello"]
//	[TRC] 127.0.0.1:52118 - cid:4 - ->> [MSG foo 1 5]
//
// It is off on the hot path but for one predictable branch per op.

// redact hides secrets in a traced CONNECT, as nats-server does.
var redact = regexp.MustCompile(`"(pass|auth_token)":"(?:[^"\\]|\\.)*"`)

// maxTracedPayload is how much of a payload a trace line shows.
const maxTracedPayload = 256

// traceIn logs an op c sent.
func (c *client) traceIn(op *parser.Op) {
	var b []byte
	b = append(b, opNames[op.Kind]...)
	for _, a := range [][]byte{op.Subject, op.Queue, op.Reply, op.SID, op.Arg} {
		if len(a) > 0 {
			b = append(b, ' ')
			b = append(b, a...)
		}
	}
	for _, q := range op.Queues {
		b = append(b, ' ')
		b = append(b, q...)
	}
	switch op.Kind {
	case parser.HPub, parser.HMsg:
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(op.HdrLen), 10)
		fallthrough
	case parser.Pub, parser.LMsg:
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(op.Msg)), 10)
	case parser.LSub:
		if len(op.Queue) > 0 {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(op.Weight), 10)
		}
	case parser.Unsub:
		if op.Max > 0 {
			b = append(b, ' ')
			b = strconv.AppendInt(b, op.Max, 10)
		}
	}
	if op.Kind == parser.Connect {
		b = redact.ReplaceAll(b, []byte(`"$1":"[REDACTED]"`))
	}
	c.srv.log.Tracef("%s - <<- [%s]", c, b)
	switch op.Kind {
	case parser.Pub, parser.HPub, parser.LMsg, parser.HMsg:
		msg := op.Msg
		if len(msg) > maxTracedPayload {
			msg = msg[:maxTracedPayload]
		}
		c.srv.log.Tracef("%s - <<- MSG_PAYLOAD: [%q]", c, msg)
	}
}

// traceOut logs the control line at the start of what c is sent.
func (c *client) traceOut(frame []byte) {
	if i := bytes.Index(frame, []byte("\r\n")); i >= 0 {
		frame = frame[:i]
	}
	c.srv.log.Tracef("%s - ->> [%s]", c, frame)
}

// opNames are the ops as nats-server traces them.
var opNames = map[parser.Kind]string{
	parser.Connect: "CONNECT", parser.Info: "INFO", parser.Pub: "PUB", parser.HPub: "HPUB",
	parser.Sub: "SUB", parser.Unsub: "UNSUB", parser.Ping: "PING", parser.Pong: "PONG",
	parser.OK: "+OK", parser.Err: "-ERR", parser.LSub: "LS+", parser.LUnsub: "LS-",
	parser.LMsg: "LMSG", parser.HMsg: "HMSG",
}
