// Package logger writes Canopy's log in the format nats-server uses, so the
// tools and habits built around nats-server's log keep working:
//
//	[4711] 2026/11/24 15:44:12.123456 [INF] Server is ready
//
// Levels carry the same tags: [INF], [WRN], [ERR], [FTL], [DBG], [TRC].
// To syslog (-s, -r) the level is the message's severity instead, as
// nats-server sends it: Notice for [INF] and [TRC], Warning, Err, Crit for
// [FTL], Debug; the tag is the program's name.
// A Logger is safe for concurrent use.
package logger

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Options selects where the log goes and what it includes.
type Options struct {
	File    string // append to this file; "" means stderr
	Syslog  bool   // the local syslog daemon
	Remote  string // a remote syslog address (udp://host:port, tcp://..., unix://...)
	Time    bool   // prefix each line with the date and time
	Debug   bool   // include [DBG] lines
	Trace   bool   // include [TRC] lines
	Verbose bool   // -VV, which nats-server uses to trace its system account's internal clients too; Canopy traces none of those, so it is -V here
	Pid     bool   // prefix each line with [pid] (default in the binary)
}

// Logger writes leveled log lines.
type Logger struct {
	mu    sync.Mutex
	opts  Options
	out   io.Writer
	file  *os.File
	sys   *syslog.Writer
	pfx   []byte
	buf   []byte
	clock func() time.Time
}

// New opens the destination the options name.
func New(o Options) (*Logger, error) {
	l := &Logger{opts: o, clock: time.Now}
	if o.Pid {
		l.pfx = append(l.pfx, '[')
		l.pfx = strconv.AppendInt(l.pfx, int64(os.Getpid()), 10)
		l.pfx = append(l.pfx, "] "...)
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

// NewWriter logs to w; tests use it.
func NewWriter(w io.Writer, o Options) *Logger {
	l := &Logger{opts: o, out: w, clock: time.Now}
	return l
}

func (l *Logger) open() error {
	switch {
	case l.opts.Remote != "":
		// As nats-server: the remote logger sends at debug priority and
		// lets the severity of each message speak.
		network, addr := splitSyslogURL(l.opts.Remote)
		w, err := syslog.Dial(network, addr, syslog.LOG_DEBUG, syslogTag())
		if err != nil {
			return fmt.Errorf("logger: remote syslog %q: %w", l.opts.Remote, err)
		}
		l.sys = w
	case l.opts.Syslog:
		w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_NOTICE, syslogTag())
		if err != nil {
			return fmt.Errorf("logger: syslog: %w", err)
		}
		l.sys = w
	case l.opts.File != "":
		f, err := os.OpenFile(l.opts.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o660)
		if err != nil {
			return fmt.Errorf("logger: log file: %w", err)
		}
		l.file, l.out = f, f
	default:
		l.out = os.Stderr
	}
	return nil
}

// syslogTag is the program's name, which nats-server tags syslog lines
// with.
func syslogTag() string {
	return filepath.Base(os.Args[0])
}

func splitSyslogURL(s string) (network, addr string) {
	for _, n := range []string{"udp", "tcp", "unix"} {
		p := n + "://"
		if len(s) > len(p) && s[:len(p)] == p {
			return n, s[len(p):]
		}
	}
	return "udp", s
}

// Reopen closes and reopens the log file, for log rotation (SIGUSR1). It
// does nothing when the log does not go to a file.
func (l *Logger) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	old := l.file
	if err := l.open(); err != nil {
		return err
	}
	return old.Close()
}

// ToFile reports whether the log goes to a file.
func (l *Logger) ToFile() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file != nil
}

// Configure applies new options, as a configuration reload does: levels
// and time stamps at once, and a new destination (file, syslog, remote
// syslog) when it changed. If the new destination cannot be opened, the
// logger keeps the old one and returns the error. The pid prefix is kept.
func (l *Logger) Configure(o Options) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	o.Pid = l.opts.Pid
	if o.File == l.opts.File && o.Syslog == l.opts.Syslog && o.Remote == l.opts.Remote {
		l.opts = o
		return nil
	}
	prev, file, sys, out := l.opts, l.file, l.sys, l.out
	l.opts, l.file, l.sys, l.out = o, nil, nil, nil
	if err := l.open(); err != nil {
		l.opts, l.file, l.sys, l.out = prev, file, sys, out
		return err
	}
	if file != nil {
		_ = file.Close()
	}
	if sys != nil {
		_ = sys.Close()
	}
	return nil
}

// Close releases the destination.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sys != nil {
		return l.sys.Close()
	}
	if l.file != nil {
		return l.file.Close()
	}
	return nil
}

// SetLevels changes which optional levels are written (config reload).
func (l *Logger) SetLevels(debug, trace bool) {
	l.mu.Lock()
	l.opts.Debug, l.opts.Trace = debug, trace
	l.mu.Unlock()
}

// DebugEnabled and TraceEnabled let callers skip building costly messages.
func (l *Logger) DebugEnabled() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.opts.Debug }

// TraceEnabled reports whether [TRC] lines are written.
func (l *Logger) TraceEnabled() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.opts.Trace }

// Noticef logs at [INF].
func (l *Logger) Noticef(format string, v ...any) { l.write("[INF] ", syslog.LOG_NOTICE, format, v) }

// Warnf logs at [WRN].
func (l *Logger) Warnf(format string, v ...any) { l.write("[WRN] ", syslog.LOG_WARNING, format, v) }

// Errorf logs at [ERR].
func (l *Logger) Errorf(format string, v ...any) { l.write("[ERR] ", syslog.LOG_ERR, format, v) }

// Fatalf logs at [FTL]; the caller decides whether to exit.
func (l *Logger) Fatalf(format string, v ...any) { l.write("[FTL] ", syslog.LOG_CRIT, format, v) }

// Debugf logs at [DBG] when debug is on.
func (l *Logger) Debugf(format string, v ...any) {
	if l.DebugEnabled() {
		l.write("[DBG] ", syslog.LOG_DEBUG, format, v)
	}
}

// Tracef logs at [TRC] when trace is on.
func (l *Logger) Tracef(format string, v ...any) {
	if l.TraceEnabled() {
		l.write("[TRC] ", syslog.LOG_NOTICE, format, v)
	}
}

func (l *Logger) write(tag string, prio syslog.Priority, format string, v []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sys != nil {
		// Syslog carries the level in its severity, so the message goes
		// without the tag, with nats-server's severities: notices and
		// traces as Notice, warnings, errors, fatal errors as Crit,
		// debug as Debug.
		msg := fmt.Sprintf(format, v...)
		switch prio {
		case syslog.LOG_CRIT:
			_ = l.sys.Crit(msg)
		case syslog.LOG_ERR:
			_ = l.sys.Err(msg)
		case syslog.LOG_WARNING:
			_ = l.sys.Warning(msg)
		case syslog.LOG_DEBUG:
			_ = l.sys.Debug(msg)
		default:
			_ = l.sys.Notice(msg)
		}
		return
	}
	b := append(l.buf[:0], l.pfx...)
	if l.opts.Time {
		b = l.clock().AppendFormat(b, "2006/01/02 15:04:05.000000 ")
	}
	b = append(b, tag...)
	b = fmt.Appendf(b, format, v...)
	b = append(b, '\n')
	_, _ = l.out.Write(b)
	if cap(b) <= 64<<10 {
		l.buf = b[:0]
	}
}
