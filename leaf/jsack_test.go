package leaf

import "testing"

func TestSplitJSAck(t *testing.T) {
	tests := []struct {
		reply, subject, ack string
		ok                  bool
	}{
		{"$JS.ACK.ST.C1.1.2.2.1796512161904540082.0@cn.js.b", "cn.js.b", "$JS.ACK.ST.C1.1.2.2.1796512161904540082.0", true},
		// An '@' in the stream or consumer name is part of the name.
		{"$JS.ACK.S@T.C@1.1.2.2.17.0@a.b", "a.b", "$JS.ACK.S@T.C@1.1.2.2.17.0", true},
		// The subject may contain '@': only the first one after the
		// eighth dot separates.
		{"$JS.ACK.ST.C1.1.2.2.17.0@a@b.c", "a@b.c", "$JS.ACK.ST.C1.1.2.2.17.0", true},
		// The older 11-token form with a domain and account hash.
		{"$JS.ACK.hub.AHASH.ST.C1.1.2.2.17.0.tok@x", "x", "$JS.ACK.hub.AHASH.ST.C1.1.2.2.17.0.tok", true},
		{"$JS.ACK.ST.C1.1.2.2.17.0", "", "", false},
		{"$JS.ACK.ST.C1.1.2.2.17.0@", "", "", false},
		{"$JS.ACK.ST.C1@x", "", "", false},
		{"$JS.ACK.", "", "", false},
		{"_INBOX.abc.1.2.3.4.5.6.7.8@x", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		subject, ack, ok := SplitJSAck([]byte(tt.reply))
		if ok != tt.ok || string(subject) != tt.subject || string(ack) != tt.ack {
			t.Errorf("SplitJSAck(%q) = %q, %q, %v; want %q, %q, %v",
				tt.reply, subject, ack, ok, tt.subject, tt.ack, tt.ok)
		}
	}
}

func TestSplitJSAckAllocs(t *testing.T) {
	reply := []byte("$JS.ACK.ST.C1.1.2.2.1796512161904540082.0@cn.js.b")
	if n := testing.AllocsPerRun(1000, func() { SplitJSAck(reply) }); n != 0 {
		t.Fatalf("SplitJSAck allocates %v times", n)
	}
}
