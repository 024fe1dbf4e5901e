package loop_test

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// session sends script on a fresh connection, then a PING, and returns
// everything after the INFO line up to the PONG, or up to the close.
func session(t *testing.T, addr, script string) (string, bool) {
	t.Helper()
	c := dialRaw(t, addr)
	c.send(script + "PING\r\n")
	c.conn.SetReadDeadline(time.Now().Add(wait))
	var b []byte
	for !bytes.HasSuffix(b, []byte("PONG\r\n")) {
		x, err := c.r.ReadByte()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%q: no PONG and no close; read %q", script, b)
			}
			// EOF or a reset: the server closed.
			return string(b), true
		}
		b = append(b, x)
	}
	return string(b), false
}

// TestDifferential runs short scripts on Canopy and on nats-server v2.15.2
// and wants the same bytes back from both, and the same close or not: odd
// inputs whose answer PROTOCOL.md does not spell out are settled by the
// reference itself.
func TestDifferential(t *testing.T) {
	scripts := []string{
		// verbose and pedantic in every combination with errors
		`CONNECT {"verbose":true,"pedantic":true}` + "\r\nPUB foo.* 1\r\nx\r\n",
		`CONNECT {"verbose":true,"pedantic":true}` + "\r\nSUB foo.* 1\r\nPUB foo.* 1\r\nx\r\n",
		`CONNECT {"verbose":true}` + "\r\nPUB foo _R_.x 1\r\nx\r\n",
		`CONNECT {"verbose":true}` + "\r\nPUB _GR_.x 1\r\nx\r\n",
		`CONNECT {"verbose":true}` + "\r\nSUB foo 1\r\nSUB foo 1\r\n",
		`CONNECT {"verbose":true}` + "\r\nUNSUB 9\r\nUNSUB 9 3\r\n",
		`CONNECT {"verbose":true}` + "\r\nSUB foo..x 1\r\n",
		`CONNECT {"verbose":true}` + "\r\nSUB foo q 1\r\nPUB foo 1\r\nx\r\n",
		`CONNECT {"verbose":true}` + "\r\nPING\r\nPONG\r\n",
		`CONNECT {"verbose":true,"protocol":1}` + "\r\n",
		`CONNECT {"verbose":true,"protocol":2}` + "\r\n",
		`CONNECT {"verbose":true,"headers":true}` + "\r\nSUB foo 1\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
		`CONNECT {"verbose":true,"headers":true,"no_responders":true}` + "\r\nSUB r 1\r\nPUB nobody r 0\r\n\r\n",
		`CONNECT {"verbose":false,"headers":true,"no_responders":true}` + "\r\nSUB r 1\r\nHPUB nobody r 12 12\r\nNATS/1.0\r\n\r\n\r\n",
		`CONNECT {"verbose":false,"echo":false}` + "\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n",
		`CONNECT {"verbose":false,"echo":false,"headers":true,"no_responders":true}` + "\r\nSUB foo 1\r\nSUB r 2\r\nPUB foo r 1\r\nx\r\n",
		`CONNECT {"verbose":false}` + "\r\nSUB foo 1\r\nUNSUB 1 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nSUB foo 1\r\nPUB foo 1\r\nc\r\n",
		`CONNECT {"verbose":false}` + "\r\nSUB foo 1\r\nPUB foo 0\r\n\r\nPUB foo 2\r\n\r\n\r\n",
		`CONNECT {"verbose":false}` + "\r\nSUB foo 1\r\nPUB foo 2\r\nxyz\r\n",
		`CONNECT {"verbose":false}` + "\r\nSUB foo 1\r\nPUB foo 2\r\nx\r\r\n",
		`CONNECT {"verbose":false}` + "\r\nSUB foo 1\r\nPUB foo 1\r\nx\n",
		`CONNECT {"verbose":false}` + "\r\nPUB foo 1 2\r\nx\r\n",
		`CONNECT {"verbose":false}` + "\r\nSUB\r\n",
		`CONNECT {"verbose":false}` + "\r\nSUB \r\n",
		`CONNECT {"verbose":false}` + "\r\nPUB\r\n",
		`CONNECT {"verbose":false}` + "\r\nPUBX foo 1\r\n",
		`CONNECT {"verbose":false}` + "\r\nPINGPONG\r\n",
		`CONNECT {"verbose":false}` + "\r\nP\r\n",
		`CONNECT {"verbose":false}` + "\r\n\r\n",
		`CONNECT {"verbose":false}` + "\r\n \r\n",
		`CONNECT {"verbose":false}` + "\r\n+OKAY\r\n",
		`CONNECT {"verbose":false}` + "\r\n-ERRx\r\n",
		`CONNECT {"verbose":false}` + "\r\nINFO\r\n",
		`CONNECT {"verbose":false}` + "\r\nCONNECT\r\n",
		`CONNECT {"verbose":false}` + "\r\nCONNECT {}\r\n",
		`CONNECT {"verbose":false,"echo":false}` + "\r\nCONNECT {\"pedantic\":false}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n",
		`CONNECT {"verbose":false,"headers":true,"no_responders":true}` + "\r\nCONNECT {}\r\nSUB r 1\r\nPUB nobody r 0\r\n\r\n",
		`CONNECT {"verbose":false}` + "\r\nINFO {}\r\nINFO {\"server_id\":\"x\"}\r\n",
		`CONNECT {"verbose":false}` + "\r\nINFO [1]\r\n",
		`CONNECT {"verbose":false}` + "\r\nINFO nope\r\n",
		`CONNECT {"verbose":false}` + "\r\nUNSUB 1 -1\r\n",
		`CONNECT {"verbose":false}` + "\r\nUNSUB 1 x\r\n",
		`CONNECT {"verbose":false}` + "\r\nSUB foo 1\r\nUNSUB 1 1000000000\r\nPUB foo 1\r\nx\r\n",
		`CONNECT {"verbose":false,"headers":true}` + "\r\nHPUB foo 12 x\r\n",
		`CONNECT {"verbose":false,"headers":true}` + "\r\nHPUB foo x 12\r\n",
		`CONNECT {"verbose":false,"headers":true}` + "\r\nSUB foo 1\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n",
		`CONNECT {"verbose":false}` + "\r\nSUB foo 1\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n",
		"CONNECT {\"verbose\":false,\"name\":\"x\",\"unknown_field\":[1,2]}\r\n",
		"CONNECT {\"verbose\":\"yes\"}\r\n",
		"CONNECT []\r\n",
		"CONNECT\r\n",
		"connect {\"verbose\":false}\r\nsub foo 1\r\npub foo 1\r\nx\r\n",
		"SUB foo 1\r\nPUB foo 1\r\nx\r\n",
		"PUB foo.* 1\r\nx\r\n",
	}
	differ(t, "", scripts)
	differ(t, `authorization { token: "s3cr3t" }`, []string{
		"PING\r\n",
		"PUB foo 1\r\nx\r\n",
		"CONNECT {}\r\n",
		"CONNECT {\"auth_token\":\"s3cr3t\"}\r\n",
		"CONNECT {\"auth_token\":\"s3cr3t\",\"verbose\":false}\r\nCONNECT {\"auth_token\":\"x\"}\r\n",
		"CONNECT {\"user\":\"s3cr3t\"}\r\n",
		"connect {\"auth_token\":\"s3cr3t\"}\r\n",
		"CONNECT {\"auth_token\":\"s3cr3t\",\"protocol\":3}\r\n",
		"CONNECT {\"auth_token\":\"s3cr3t\",\"account\":\"A\"}\r\n",
		"\r\n",
		"C\r\n",
		"CONNECTX {}\r\n",
	})
	differ(t, `authorization { user: u, password: p }`, []string{
		"CONNECT {\"user\":\"u\",\"pass\":\"p\"}\r\n",
		"CONNECT {\"user\":\"u\"}\r\n",
		"CONNECT {\"pass\":\"p\"}\r\n",
		"CONNECT {\"auth_token\":\"p\"}\r\n",
	})
	differ(t, "max_payload: 10\nmax_control_line: 32", []string{
		"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 10\r\n0123456789\r\n",
		"CONNECT {\"verbose\":false}\r\nPUB foo 11\r\n",
		"CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo 12 12\r\n",
		"CONNECT {\"verbose\":false}\r\nSUB 0123456789012345678901234567890 1\r\n",
		"CONNECT {\"verbose\":false}\r\nSUB 012345678901234567890123456789 1\r\n",
		"CONNECT {\"verbose\":false,\"name\":\"a CONNECT is also a control line, longer than 32\"}\r\n",
	})
}

// differ runs scripts on Canopy and nats-server started with config.
func differ(t *testing.T, config string, scripts []string) {
	t.Helper()
	c := natstest.StartCanopy(t, config)
	n := natstest.StartNATS(t, config)
	for _, sc := range scripts {
		got, gotClosed := session(t, c.ClientAddr().String(), sc)
		want, wantClosed := session(t, n.Addr().String(), sc)
		if got != want || gotClosed != wantClosed {
			t.Errorf("%s: %q:\n canopy      %q closed=%v\n nats-server %q closed=%v", config, sc, got, gotClosed, want, wantClosed)
		}
	}
}
