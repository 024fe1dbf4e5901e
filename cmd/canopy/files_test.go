package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
)

func TestFileLimitLogged(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.conf", fmt.Sprintf("port: %d\nmax_connections: %d\n", freePort(t), rl.Max+1))
	s := startServer(t, "-c", cfg)
	line := s.waitFor(t, "  Files:    ")
	if want := fmt.Sprintf("Files:    %d open at most", rl.Max); !strings.Contains(line, want) {
		t.Fatalf("start-up line %q does not say %q", line, want)
	}
	line = s.waitFor(t, "max_connections is")
	if want := fmt.Sprintf("max_connections is %d but the open file limit (%d)", rl.Max+1, rl.Max); !strings.Contains(line, want) {
		t.Fatalf("warning %q does not say %q", line, want)
	}
	s.waitFor(t, "Server is ready")
}
