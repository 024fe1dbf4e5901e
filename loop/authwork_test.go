package loop_test

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestCostlyAuthDefersTraffic: with a bcrypt password the CONNECT is
// checked off the event loop, and what the client sent right behind it in
// the same write (a subscription, a publish, a PING) is processed after,
// in order, as if it had been checked inline.
func TestCostlyAuthDefersTraffic(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	s, url := startCanopy(t, "authorization { users: [ {user: u, password: \""+string(hash)+"\"} ] }")
	c := dialRaw(t, s.ClientAddr().String())
	c.send(`CONNECT {"verbose":false,"pedantic":false,"user":"u","pass":"pw"}` + "\r\nSUB x 1\r\nPUB x 2\r\nhi\r\nPING\r\n")
	c.expect("MSG x 1 2\r\nhi\r\nPONG\r\n")

	bad := dialRaw(t, s.ClientAddr().String())
	bad.send(`CONNECT {"verbose":false,"user":"u","pass":"wrong"}` + "\r\nPING\r\n")
	if out := bad.closedWithin(wait); !strings.HasPrefix(out, "-ERR 'Authorization Violation'") {
		t.Fatalf("wrong password: got %q", out)
	}

	// And nats.go, which waits for its PONG.
	nc := connect(t, strings.Replace(url, "nats://", "nats://u:pw@", 1))
	flush(t, nc)
}
