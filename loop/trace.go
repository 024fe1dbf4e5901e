package loop

import (
	"bytes"
	"regexp"

	"github.com/canopy-nats/canopy/parser"
)

// Protocol tracing (-V, trace: true) logs every op a connection sends and
// the control lines it is sent, as nats-server v2.15.2 writes them: the
// arguments exactly as they arrived (nats.go's "SUB foo  1" keeps its two
// spaces, "UNSUB 1 " its trailing one), each payload on a line of its own,
// and the removal of a subscription:
//
//	[TRC] 127.0.0.1:52114 - cid:3 - "v1.37.0:go" - <<- [SUB foo  1]
//	[TRC] 127.0.0.1:52114 - cid:3 - "v1.37.0:go" - <<- [PUB foo 5]
//	[TRC] 127.0.0.1:52114 - cid:3 - "v1.37.0:go" - <<- MSG_PAYLOAD: ["hello"]
//	[TRC] 127.0.0.1:52114 - cid:3 - "v1.37.0:go" - ->> [MSG foo 1 5]
//	[TRC] 127.0.0.1:52114 - cid:3 - "v1.37.0:go" - ->> MSG_PAYLOAD: ["hello"]
//	[TRC] 127.0.0.1:52114 - cid:3 - "v1.37.0:go" - <-> [DELSUB 1]
//
// The client's version, language and name join the connection's name once
// its CONNECT is accepted (see client.String). Tracing costs the hot path
// one predictable branch per op while it is off.

// secretsInTrace finds the values a traced CONNECT must not show: those of
// keys that start with pass or auth_token (pass, password, auth_token),
// and of nkey, sig and proxy_sig, as nats-server hides them.
var secretsInTrace = regexp.MustCompile(`"(?:pass[a-z_]*|auth_token[a-z_]*|nkey|sig|proxy_sig)"\s*:\s*"?([^",\r\n}]*)`)

// redactSecrets returns line with every secret value replaced by
// [REDACTED]; line itself is not changed.
func redactSecrets(line []byte) []byte {
	m := secretsInTrace.FindAllSubmatchIndex(line, -1)
	if m == nil {
		return line
	}
	out := make([]byte, 0, len(line)+len(m)*10)
	at := 0
	for _, s := range m {
		out = append(out, line[at:s[2]]...)
		out = append(out, "[REDACTED]"...)
		at = s[3]
	}
	return append(out, line[at:]...)
}

// traceIn logs an op c sent.
func (c *client) traceIn(op *parser.Op) {
	name := opNames[op.Kind]
	switch {
	case op.Arg == nil:
		c.srv.log.Tracef("%s - <<- [%s]", c, name)
	case op.Kind == parser.Connect:
		c.srv.log.Tracef("%s - <<- [%s %s]", c, name, redactSecrets(op.Arg))
	default:
		c.srv.log.Tracef("%s - <<- [%s %s]", c, name, op.Arg)
	}
	switch op.Kind {
	case parser.Pub, parser.HPub, parser.LMsg, parser.HMsg:
		// nats-server writes no payload line for an empty message.
		if len(op.Msg) > 0 {
			c.srv.log.Tracef("%s - <<- MSG_PAYLOAD: [%q]", c, op.Msg)
		}
	}
}

// traceOut logs what c is sent: a control line as nats-server names it
// ("PONG", "OK", "-ERR text"), or a whole frame, whose first line is
// traced and, for a message, its payload after it.
func (c *client) traceOut(frame []byte) {
	line, rest, _ := bytes.Cut(frame, []byte("\r\n"))
	c.srv.log.Tracef("%s - ->> [%s]", c, line)
	if bytes.HasPrefix(line, []byte("MSG ")) || bytes.HasPrefix(line, []byte("HMSG ")) || bytes.HasPrefix(line, []byte("LMSG ")) {
		if msg := bytes.TrimSuffix(rest, []byte("\r\n")); len(msg) > 0 {
			c.srv.log.Tracef("%s - ->> MSG_PAYLOAD: [%q]", c, msg)
		}
	}
}

// traceDelSub logs the removal of one of c's subscriptions, as nats-server
// does for an UNSUB, an auto-unsubscribe that reached its max, an LS-, and
// each subscription of a connection that closes, but not at shutdown.
func (c *client) traceDelSub(sub *subscription) {
	if c.srv.tracing.Load() && !c.srv.shutdown.Load() {
		c.srv.log.Tracef("%s - <-> [DELSUB %s]", c, sub.sid)
	}
}

// opNames are the ops as nats-server traces them.
var opNames = map[parser.Kind]string{
	parser.Connect: "CONNECT", parser.Info: "INFO", parser.Pub: "PUB", parser.HPub: "HPUB",
	parser.Sub: "SUB", parser.Unsub: "UNSUB", parser.Ping: "PING", parser.Pong: "PONG",
	parser.OK: "+OK", parser.Err: "-ERR", parser.LSub: "LS+", parser.LUnsub: "LS-",
	parser.LMsg: "LMSG", parser.HMsg: "HMSG",
}
