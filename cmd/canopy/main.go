// Command canopy is the Canopy server: a NATS-protocol message server that
// real NATS clients use unchanged, with nats-server's flags and config files.
//
// With no arguments it serves clients on 0.0.0.0:4222.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/logger"
	"github.com/canopy-nats/canopy/loop"
	"github.com/canopy-nats/canopy/monitor"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, cmd, err := conf.ParseArgs(args, stdout, stderr)
	for _, w := range cmd.Warnings {
		if cmd.Action != conf.ActionRun {
			fmt.Fprintf(stderr, "canopy: warning: %s\n", w)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "canopy: %s\n", err)
		return 1
	}
	switch cmd.Action {
	case conf.ActionHelp:
		return 0
	case conf.ActionVersion:
		fmt.Fprintln(stdout, versionLine())
		return 0
	case conf.ActionCheckConfig:
		fmt.Fprintf(stderr, "canopy: configuration file %s is valid\n", opts.ConfigFile)
		return 0
	case conf.ActionSignal:
		if err := sendSignal(cmd); err != nil {
			fmt.Fprintf(stderr, "canopy: %s\n", err)
			return 1
		}
		return 0
	}

	log, err := logger.New(logOptions(opts))
	if err != nil {
		fmt.Fprintf(stderr, "canopy: %s\n", err)
		return 1
	}
	defer log.Close()
	// Signals are caught from here on: one that came before the server
	// could act on it would otherwise kill the process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP)
	defer signal.Stop(sigs)

	srv, err := loop.New(opts, log)
	if err != nil {
		log.Fatalf("%s", err)
		return 1
	}
	logStartup(log, srv, opts, cmd.Warnings)
	// nats-server starts its monitor before its listeners, so the log
	// reads in the same order.
	// The monitor also builds the system account's answers, so it exists
	// even when it serves no HTTP port.
	mon := monitor.New(srv, log)
	if opts.HTTPPort != 0 || opts.HTTPSPort != 0 {
		if err := startMonitor(mon, opts); err != nil {
			log.Fatalf("%s", err)
			return 1
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = mon.Shutdown(ctx)
		}()
	}
	if opts.ProfPort != 0 {
		if err := startProfiler(log, opts.Host, opts.ProfPort); err != nil {
			log.Fatalf("%s", err)
			return 1
		}
	}
	if err := srv.Start(); err != nil {
		log.Fatalf("%s", err)
		return 1
	}
	cur := opts
	writePidFile(log, "", cur.PidFile)
	defer func() {
		if cur.PidFile != "" {
			os.Remove(cur.PidFile)
		}
	}()

	for {
		select {
		case <-srv.Done():
			return 0
		case sig := <-sigs:
			log.Noticef("Trapped %q signal", sig)
			switch sig {
			case syscall.SIGUSR1:
				switch err := log.Reopen(); {
				case err != nil:
					log.Errorf("%s", err)
				case log.ToFile():
					log.Noticef("File log re-opened")
				default:
					log.Warnf("File log re-open ignored, not a file logger")
				}
			case syscall.SIGHUP:
				next, err := reload(args, cur, srv, log)
				if err != nil {
					log.Errorf("Failed to reload server configuration: %s", err)
					continue
				}
				cur = next
			case syscall.SIGUSR2:
				go srv.LameDuck()
			case syscall.SIGTERM:
				if srv.LameDuckMode() {
					// As nats-server: a lame-duck shutdown already
					// under way is left to finish.
					continue
				}
				fallthrough
			default:
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := srv.Shutdown(ctx)
				cancel()
				if err != nil && !errors.Is(err, loop.ErrNotRunning) {
					log.Errorf("%s", err)
					return 1
				}
				return 0
			}
		}
	}
}

// logStartup writes the banner and what the configuration calls for, in
// nats-server's order: the banner, the plaintext password warning, the
// configuration file with its digest, the trusted operators, the warnings
// nats-server finds in the options, then the warnings about the
// configuration file. nats-server prints the file's warnings on stderr
// before its log starts (so a log file or syslog never sees them); Canopy
// logs them after its own option warnings, before the listeners start.
func logStartup(log *logger.Logger, srv *loop.Server, opts *conf.Options, warnings []error) {
	log.Noticef("Starting canopy")
	log.Noticef("  Version:  %s (NATS protocol of nats-server %s)", loop.Version, loop.CompatVersion)
	log.Noticef("  Git:      [%s]", gitCommit())
	log.Debugf("  Go build: %s", runtime.Version())
	log.Noticef("  Name:     %s", srv.Name())
	log.Noticef("  ID:       %s", srv.ID())
	logFileLimit(log, opts)
	if opts.PlaintextPasswords() {
		log.Warnf("Plaintext passwords detected, use nkeys or bcrypt")
	}
	if opts.ConfigFile != "" {
		// The space before an empty digest is nats-server's.
		digest := ""
		if opts.ConfigDigest != "" {
			digest = "(" + opts.ConfigDigest + ")"
		}
		log.Noticef("Using configuration file: %s %s", opts.ConfigFile, digest)
	}
	logOperators(log, opts.TrustedOperators)
	if opts.MaxPayload > maxPayloadAdvised {
		log.Warnf("Maximum payloads over 8.00 MB are generally discouraged and could lead to poor performance")
	}
	for _, w := range warnings {
		log.Warnf("%s", w)
	}
}

// maxPayloadAdvised is the largest max_payload nats-server starts without
// a warning.
const maxPayloadAdvised = 8 << 20

// logOperators lists the trusted operators as nats-server does at start.
// The JWTs were decoded and checked when the configuration was loaded.
func logOperators(log *logger.Logger, ops []string) {
	if len(ops) > 0 {
		log.Noticef("Trusted Operators")
	}
	for _, tok := range ops {
		oc, err := jwt.DecodeOperatorClaims(tok)
		if err != nil {
			continue
		}
		log.Noticef("  System  : %q", oc.Audience)
		log.Noticef("  Operator: %q", oc.Name)
		log.Noticef("  Issued  : %v", time.Unix(oc.IssuedAt, 0))
		if oc.Expires == 0 {
			log.Noticef("  Expires : Never")
		} else {
			log.Noticef("  Expires : %v", time.Unix(oc.Expires, 0))
		}
	}
}

// gitCommit is the commit the binary was built from, as the Go toolchain
// stamps it (the first 7 hex digits, as nats-server's release builds
// show theirs), or "not set" as in nats-server without one.
func gitCommit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "not set"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			return s.Value[:min(7, len(s.Value))]
		}
	}
	return "not set"
}

// versionLine is what -v prints. Client test suites run "nats-server -v"
// and take the first "v<semver>" (or what follows "version ") as the
// server's version, to skip the checks of features it lacks: the
// compatible nats-server version comes first for them, Canopy's own after
// it for people.
func versionLine() string {
	return fmt.Sprintf("nats-server: v%s (canopy v%s)", loop.CompatVersion, loop.Version)
}

// logOptions are the logger's settings from the server options.
func logOptions(o *conf.Options) logger.Options {
	return logger.Options{
		File:    o.LogFile,
		Syslog:  o.Syslog,
		Remote:  o.RemoteSyslog,
		Time:    o.Logtime,
		Debug:   o.Debug,
		Trace:   o.Trace,
		Verbose: o.TraceVerbose,
		Pid:     true,
	}
}

// startMonitor serves monitoring over HTTP, or over HTTPS with the
// top-level tls block's certificate (Validate has already refused both
// ports at once, and HTTPS without TLS).
func startMonitor(mon *monitor.Monitor, opts *conf.Options) error {
	if opts.HTTPPort != 0 {
		return mon.Start(opts.HTTPHost, opts.HTTPPort)
	}
	cfg, err := opts.TLS.ServerConfig()
	if err != nil {
		return fmt.Errorf("https monitor: %w", err)
	}
	return mon.StartTLS(opts.HTTPHost, opts.HTTPSPort, cfg)
}

// reload reads the configuration again, with the command line over it as
// at start, and applies it (SIGHUP). A file that does not load, or asks
// for a change the server cannot make, leaves everything as it was.
func reload(args []string, cur *conf.Options, srv *loop.Server, log *logger.Logger) (*conf.Options, error) {
	if cur.ConfigFile == "" {
		return nil, loop.ErrReloadNoFile
	}
	next, cmd, err := conf.ParseArgs(args, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	for _, w := range cmd.Warnings {
		log.Warnf("%s", w)
	}
	if err := srv.Reload(next); err != nil {
		return nil, err
	}
	// The log destination belongs to the command, not to the server.
	if err := log.Configure(logOptions(next)); err != nil {
		log.Errorf("Reloaded: log settings not applied: %v", err)
	}
	if next.PidFile != cur.PidFile {
		writePidFile(log, cur.PidFile, next.PidFile)
	}
	return next, nil
}

// writePidFile writes the pid to path and removes the previous file.
func writePidFile(log *logger.Logger, prev, path string) {
	if prev != "" {
		os.Remove(prev)
	}
	if path == "" {
		return
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o660); err != nil {
		log.Errorf("Could not write pid file: %v", err)
	}
}

// sendSignal delivers -sl/--signal to a running server.
func sendSignal(cmd conf.Command) error {
	sigs := map[string]syscall.Signal{
		"stop": syscall.SIGKILL, "quit": syscall.SIGINT, "term": syscall.SIGTERM,
		"reopen": syscall.SIGUSR1, "reload": syscall.SIGHUP, "ldm": syscall.SIGUSR2,
	}
	sig, ok := sigs[cmd.Signal]
	if !ok {
		return fmt.Errorf("unknown signal %q", cmd.Signal)
	}
	pidStr := cmd.PID
	if pidStr == "" {
		// As nats-server: without a pid, the one process of this name.
		found, err := findProcess(filepath.Base(os.Args[0]))
		if err != nil {
			return err
		}
		pidStr = found
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil {
		b, rerr := os.ReadFile(pidStr)
		if rerr != nil {
			return fmt.Errorf("could not read pid file: %w", rerr)
		}
		if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return fmt.Errorf("bad pid in %s: %w", pidStr, err)
		}
	}
	return syscall.Kill(pid, sig)
}

// findProcess returns the pid of the only other running process called
// name, as read from /proc.
func findProcess(name string) (string, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return "", fmt.Errorf("no pid given and no /proc to look for %s: %w", name, err)
	}
	// /proc/PID/comm holds at most 15 bytes of the name.
	comm := name
	if len(comm) > 15 {
		comm = comm[:15]
	}
	self := strconv.Itoa(os.Getpid())
	var pids []string
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil || d.Name() == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(b)) == comm {
			pids = append(pids, d.Name())
		}
	}
	switch len(pids) {
	case 0:
		return "", fmt.Errorf("no %s processes running", name)
	case 1:
		return pids[0], nil
	}
	return "", fmt.Errorf("multiple %s processes running:\n%s", name, strings.Join(pids, "\n"))
}
