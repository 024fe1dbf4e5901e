package logger

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFormat: lines read as nats-server's, with its level tags, and the
// optional levels stay quiet until switched on.
func TestFormat(t *testing.T) {
	var b bytes.Buffer
	l := NewWriter(&b, Options{Time: true})
	l.clock = func() time.Time { return time.Date(2026, 11, 24, 15, 44, 12, 123456000, time.UTC) }
	l.Noticef("Server is %s", "ready")
	l.Warnf("w")
	l.Errorf("e")
	l.Debugf("hidden")
	l.Tracef("hidden")
	l.SetLevels(true, true)
	l.Debugf("d")
	l.Tracef("t")
	want := "2026/11/24 15:44:12.123456 [INF] Server is ready\n" +
		"2026/11/24 15:44:12.123456 [WRN] w\n" +
		"2026/11/24 15:44:12.123456 [ERR] e\n" +
		"2026/11/24 15:44:12.123456 [DBG] d\n" +
		"2026/11/24 15:44:12.123456 [TRC] t\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestFileAndReopen: with a pid prefix, into a file, and a reopen (log
// rotation) continues in a fresh file at the same path.
func TestFileAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "canopy.log")
	l, err := New(Options{File: path, Pid: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Noticef("one")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Noticef("two")
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	line := regexp.MustCompile(`^\[\d+\] \[INF\] (one|two)\n$`)
	if !line.Match(old) || !strings.Contains(string(old), "one") {
		t.Fatalf("rotated file: %q", old)
	}
	if !line.Match(cur) || !strings.Contains(string(cur), "two") {
		t.Fatalf("new file: %q", cur)
	}
}
