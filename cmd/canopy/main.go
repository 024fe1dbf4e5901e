// Command canopy is the Canopy server: a NATS-protocol message server that
// real NATS clients use unchanged, with nats-server's flags and config files.
//
// With no arguments it serves clients on 0.0.0.0:4222.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/logger"
	"github.com/canopy-nats/canopy/loop"
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
		fmt.Fprintf(stdout, "canopy: v%s (NATS protocol of nats-server v%s)\n", loop.Version, loop.CompatVersion)
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

	log, err := logger.New(logger.Options{
		File:    opts.LogFile,
		Syslog:  opts.Syslog,
		Remote:  opts.RemoteSyslog,
		Time:    opts.Logtime,
		Debug:   opts.Debug,
		Trace:   opts.Trace,
		Verbose: opts.TraceVerbose,
		Pid:     true,
	})
	if err != nil {
		fmt.Fprintf(stderr, "canopy: %s\n", err)
		return 1
	}
	defer log.Close()
	for _, w := range cmd.Warnings {
		log.Warnf("%s", w)
	}

	srv, err := loop.New(opts, log)
	if err != nil {
		log.Fatalf("%s", err)
		return 1
	}
	log.Noticef("Starting canopy")
	log.Noticef("  Version:  %s (NATS protocol of nats-server %s)", loop.Version, loop.CompatVersion)
	log.Noticef("  Go:       %s", runtime.Version())
	log.Noticef("  Name:     %s", srv.Name())
	log.Noticef("  ID:       %s", srv.ID())
	if opts.ConfigFile != "" {
		log.Noticef("Using configuration file: %s", opts.ConfigFile)
	}
	if err := srv.Start(); err != nil {
		log.Fatalf("%s", err)
		return 1
	}
	if opts.PidFile != "" {
		if err := os.WriteFile(opts.PidFile, []byte(strconv.Itoa(os.Getpid())), 0o660); err != nil {
			log.Errorf("Could not write pid file: %v", err)
		}
		defer os.Remove(opts.PidFile)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for {
		select {
		case <-srv.Done():
			return 0
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				log.Noticef("Reopening log file")
				if err := log.Reopen(); err != nil {
					log.Errorf("%s", err)
				}
			case syscall.SIGHUP:
				log.Warnf("Configuration reload is not supported yet")
			default:
				log.Noticef("Trapped %q signal", sig)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := srv.Shutdown(ctx)
				cancel()
				if err != nil {
					log.Errorf("%s", err)
					return 1
				}
				return 0
			}
		}
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
		return fmt.Errorf("no pid given: use --signal %s=<pid or pid file>", cmd.Signal)
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
