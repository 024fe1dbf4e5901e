package loop_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/logger"
	"github.com/canopy-nats/canopy/loop"
)

// syncBuffer is a log destination safe to read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTrace: with trace on, the ops a client sends and the lines it is
// sent are logged as nats-server logs them, with the password redacted.
func TestTrace(t *testing.T) {
	var out syncBuffer
	opts := &conf.Options{Host: "127.0.0.1", Port: -1, Trace: true, Loops: 1,
		Authorization: conf.Authorization{Username: "u", Password: "secret"}}
	s, err := loop.New(opts, logger.NewWriter(&out, logger.Options{Trace: true}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c := dialRaw(t, s.ClientAddr().String())
	c.send(`CONNECT {"verbose":false,"user":"u","pass":"secret"}` + "\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n")
	c.expect("MSG foo 1 5\r\nhello\r\nPONG\r\n")
	want := []string{
		`<<- [CONNECT {"verbose":false,"user":"u","pass":"[REDACTED]"}]`,
		"<<- [SUB foo 1]",
		"<<- [PUB foo 5]",
		`<<- MSG_PAYLOAD: ["hello"]`,
		"->> [MSG foo 1 5]",
		"<<- [PING]",
		"->> [PONG]",
	}
	// Each line is logged on the loop before the bytes it traces are
	// written, so the PONG above means they are all there.
	log := out.String()
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("trace line %q missing", w)
		}
	}
	if strings.Contains(log, "secret") {
		t.Errorf("the password reached the log")
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}
