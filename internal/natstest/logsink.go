package natstest

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogSink keeps a server's log lines, each as "[LVL] text", so a test can
// wait for one and compare them. It is both a loop.Logger and a
// nats-server Logger, so the same test reads both servers' lines alike.
type LogSink struct {
	prefix string
	echo   bool

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced at every new line
}

// NewLogSink makes a sink; with echo, lines also go to stderr, after
// prefix (the server's kind), for debugging.
func NewLogSink(prefix string, echo bool) *LogSink {
	return &LogSink{prefix: prefix, echo: echo, changed: make(chan struct{})}
}

func (l *LogSink) add(level, format string, v ...any) {
	line := level + " " + fmt.Sprintf(format, v...)
	if l.echo {
		fmt.Fprintf(os.Stderr, "%s %s %s\n", time.Now().Format("15:04:05.000"), l.prefix, line)
	}
	l.mu.Lock()
	l.lines = append(l.lines, line)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *LogSink) Noticef(format string, v ...any) { l.add("[INF]", format, v...) }
func (l *LogSink) Warnf(format string, v ...any)   { l.add("[WRN]", format, v...) }
func (l *LogSink) Errorf(format string, v ...any)  { l.add("[ERR]", format, v...) }
func (l *LogSink) Fatalf(format string, v ...any)  { l.add("[FTL]", format, v...) }
func (l *LogSink) Debugf(format string, v ...any)  { l.add("[DBG]", format, v...) }
func (l *LogSink) Tracef(format string, v ...any)  { l.add("[TRC]", format, v...) }

// Lines is a copy of the lines logged so far.
func (l *LogSink) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// Count is the number of lines containing s.
func (l *LogSink) Count(s string) int {
	n := 0
	for _, line := range l.Lines() {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// Wait blocks until a line containing s has been logged and returns it; it
// fails the test after timeout.
func (l *LogSink) Wait(t testing.TB, s string, timeout time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		l.mu.Lock()
		for _, line := range l.lines[seen:] {
			if strings.Contains(line, s) {
				l.mu.Unlock()
				return line
			}
		}
		seen = len(l.lines)
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Logf("%s log:\n%s", l.prefix, strings.Join(l.Lines(), "\n"))
			t.Fatalf("%s log: no line with %q after %v", l.prefix, s, timeout)
		}
	}
}

// WaitCount blocks until at least n lines containing s have been logged,
// and fails the test after timeout.
func (l *LogSink) WaitCount(t testing.TB, s string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		got := 0
		for _, line := range l.lines {
			if strings.Contains(line, s) {
				got++
			}
		}
		ch := l.changed
		l.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s log: %d lines with %q after %v, want %d", l.prefix, got, s, timeout, n)
		}
	}
}
