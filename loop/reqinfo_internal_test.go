package loop

import "testing"

// TestSetRequestInfo: the header is added to a message without headers,
// replaces one already there (in any case), and keeps the others and the
// body; with a reused buffer it allocates nothing.
func TestSetRequestInfo(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		hdr  int
		want string
	}{
		{"body", 0, "NATS/1.0\r\nNats-Request-Info: {\"acc\":\"A\",\"rtt\":5}\r\n\r\nbody"},
		{"NATS/1.0\r\nX: 1\r\n\r\nbody", 18, "NATS/1.0\r\nX: 1\r\nNats-Request-Info: {\"acc\":\"A\",\"rtt\":5}\r\n\r\nbody"},
		{"NATS/1.0\r\nnats-request-info: {\"acc\":\"B\"}\r\nX: 1\r\n\r\n", 50, "NATS/1.0\r\nX: 1\r\nNats-Request-Info: {\"acc\":\"A\",\"rtt\":5}\r\n\r\n"},
	} {
		if tc.hdr > 0 && tc.msg[tc.hdr-4:tc.hdr] != "\r\n\r\n" {
			t.Fatalf("bad case: header length %d of %q", tc.hdr, tc.msg)
		}
		got, hdr := setRequestInfo(nil, []byte(tc.msg), tc.hdr, appendRequestInfo(nil, "A", 5))
		if string(got) != tc.want {
			t.Errorf("%q: got %q, want %q", tc.msg, got, tc.want)
		}
		if string(got[hdr-4:hdr]) != "\r\n\r\n" || string(got[hdr:]) != tc.msg[tc.hdr:] {
			t.Errorf("%q: header length %d does not end the header block of %q", tc.msg, hdr, got)
		}
	}
	msg := []byte("NATS/1.0\r\nX: 1\r\n\r\nbody")
	buf, info := make([]byte, 0, 256), make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		info = appendRequestInfo(info[:0], "APP", 12345)
		buf, _ = setRequestInfo(buf[:0], msg, 18, info)
	}); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}
