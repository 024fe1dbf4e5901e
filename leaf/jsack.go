package leaf

// JSAckPrefix starts the reply subject of every message a JetStream
// consumer delivers; acknowledgements are published to it.
const JSAckPrefix = "$JS.ACK."

// jsAckDots is how many dots an ack reply has before the '@': its nine
// tokens are $JS, ACK, stream, consumer, delivered count, stream and
// consumer sequence, timestamp and pending count.
const jsAckDots = 8

// IsJSAck reports whether reply is a JetStream ack subject. It is the
// cheap test that a hot path makes before SplitJSAck.
func IsJSAck(reply []byte) bool {
	return len(reply) > len(JSAckPrefix) && string(reply[:len(JSAckPrefix)]) == JSAckPrefix
}

// SplitJSAck undoes the encoding JetStream deliveries take across a leaf
// link. A consumer's deliveries match the interest of its deliver subject
// (an inbox) but are shown to the client under the stream subject; a link
// carries only one subject, so nats-server appends the stream subject to
// the ack reply after an '@': "$JS.ACK.<8 tokens>@<subject>". The '@' is
// the first one after the eighth dot, since stream, consumer and subject
// names may contain '@' themselves.
//
// Only the server whose JetStream sends a delivery encodes it (nats-server
// does it for the messages of its internal JetStream client alone), so
// Canopy, which runs no JetStream, never encodes: what arrives encoded is
// passed on to other links as it came, and decoded only for clients.
//
// When reply has that form and a subject follows the '@', SplitJSAck
// returns the subject and the ack reply before the '@', both sub-slices of
// reply, and ok. Otherwise it returns ok false.
func SplitJSAck(reply []byte) (subject, ack []byte, ok bool) {
	if !IsJSAck(reply) {
		return nil, nil, false
	}
	dots := 0
	for i, b := range reply {
		switch {
		case b == '.':
			dots++
		case b == '@' && dots >= jsAckDots:
			if i == len(reply)-1 {
				return nil, nil, false
			}
			return reply[i+1:], reply[:i], true
		}
	}
	return nil, nil, false
}
