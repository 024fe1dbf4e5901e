package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"

	"github.com/canopy-nats/canopy/logger"
)

// startProfiler serves Go's pprof endpoints on their own listener, as
// nats-server's prof_port does, so a running server can be profiled under
// real load (go tool pprof http://host:port/debug/pprof/profile).
func startProfiler(log *logger.Logger, host string, port int) error {
	if port < 0 {
		port = 0
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("profiling port: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Noticef("profiling port: %d", ln.Addr().(*net.TCPAddr).Port)
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}
