package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// logLine is nats-server's log line: pid, local time with microseconds,
// level tag.
var logLine = regexp.MustCompile(`^\[\d+\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} \[(INF|WRN|ERR|FTL|DBG|TRC)\] `)

func signalsConf(port, httpPort int, bobPub, extra string) string {
	return fmt.Sprintf(`
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
authorization {
  users: [
    { user: alice, password: a }
    { user: bob, password: b, permissions: { publish: %s, subscribe: ">" } }
  ]
}
%s
`, port, httpPort, bobPub, extra)
}

// httpGet returns the status and body of a monitoring request.
func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestSignals runs the binary with a config file, a pid file and the
// monitor, and drives it with signals as an operator would: reload through
// --signal reload=<pid file> (a good file applies, a broken one is refused
// and logged), lame-duck mode through --signal ldm=<pid file> (SIGTERM is
// then ignored, as by nats-server), and SIGINT to stop.
func TestSignals(t *testing.T) {
	dir := t.TempDir()
	port, httpPort := freePort(t), freePort(t)
	pidFile := filepath.Join(dir, "canopy.pid")
	cfg := writeFile(t, dir, "canopy.conf", signalsConf(port, httpPort, `"bob.>"`, ""))
	s := startServer(t, "-c", cfg, "-P", pidFile)
	mon := s.waitFor(t, "Starting http monitor on")
	if !strings.HasSuffix(mon, fmt.Sprintf("Starting http monitor on 127.0.0.1:%d", httpPort)) {
		t.Errorf("monitor line: %q", mon)
	}
	s.waitFor(t, "Listening for client connections")
	s.waitFor(t, "Server is ready")
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)

	alice, err := nats.Connect(url, nats.UserInfo("alice", "a"), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	bobErrs := make(chan error, 10)
	bob, err := nats.Connect(url, nats.UserInfo("bob", "b"), nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { bobErrs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	more, _ := alice.SubscribeSync("more.>")
	alice.Flush()

	var v struct {
		Connections int               `json:"connections"`
		ReqStats    map[string]uint64 `json:"http_req_stats"`
	}
	if code, b := httpGet(t, base+"/varz"); code != 200 || json.Unmarshal(b, &v) != nil || v.Connections != 2 {
		t.Fatalf("/varz: %d %s", code, b)
	}

	bob.Publish("more.x", []byte("denied"))
	bob.Flush()
	select {
	case err := <-bobErrs:
		if !strings.Contains(err.Error(), "Permissions Violation for Publish") {
			t.Fatalf("bob's error: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no publish violation before the reload")
	}

	// A good file: bob may now publish to more.>, on the same connection.
	writeFile(t, dir, "canopy.conf", signalsConf(port, httpPort, `["bob.>", "more.>"]`, "debug: true"))
	if code, _, errOut := runMain("--signal", "reload="+pidFile); code != 0 {
		t.Fatalf("--signal reload: exit %d: %s", code, errOut)
	}
	s.waitFor(t, `Trapped "hangup" signal`)
	s.waitFor(t, "Reloaded server configuration")
	bob.Publish("more.x", []byte("allowed"))
	bob.Flush()
	if m, err := more.NextMsg(5 * time.Second); err != nil || string(m.Data) != "allowed" {
		t.Fatalf("after reload: %v %v", m, err)
	}
	// debug: true took effect: a closing client is logged at [DBG].
	gone, err := nats.Connect(url, nats.UserInfo("alice", "a"))
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	s.waitFor(t, "[DBG]")

	// A broken file is refused and the running configuration stays.
	writeFile(t, dir, "canopy.conf", "authorization { users: [ { user: ")
	if code, _, _ := runMain("--signal", "reload="+pidFile); code != 0 {
		t.Fatal("--signal reload failed")
	}
	if l := s.waitFor(t, "Failed to reload server configuration"); !strings.Contains(l, "[ERR]") {
		t.Errorf("refusal not at [ERR]: %q", l)
	}
	bob.Publish("more.x", []byte("still"))
	bob.Flush()
	if _, err := more.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("after a refused reload: %v", err)
	}
	if !alice.IsConnected() || !bob.IsConnected() {
		t.Fatal("a client lost its connection to a reload")
	}

	// Lame duck: new clients are turned away, health fails, SIGTERM is
	// ignored; SIGINT stops at once.
	if code, _, _ := runMain("--signal", "ldm="+pidFile); code != 0 {
		t.Fatal("--signal ldm failed")
	}
	s.waitFor(t, "Entering lame duck mode, stop accepting new clients")
	if code, b := httpGet(t, base+"/healthz"); code != http.StatusInternalServerError || !strings.Contains(string(b), `"status":"error"`) {
		t.Errorf("/healthz in lame-duck mode: %d %s", code, b)
	}
	if nc, err := nats.Connect(url, nats.UserInfo("alice", "a"), nats.Timeout(time.Second)); err == nil {
		nc.Close()
		t.Error("a new client got in during lame-duck mode")
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, `Trapped "terminated" signal`)
	if code, _ := httpGet(t, base+"/healthz"); code != http.StatusInternalServerError {
		t.Errorf("server gone after SIGTERM in lame-duck mode: /healthz %d", code)
	}
	if code := s.stop(t, syscall.SIGINT); code != 0 {
		t.Errorf("exit %d after SIGINT", code)
	}
	for _, l := range s.log {
		if !logLine.MatchString(l) {
			t.Errorf("not nats-server's log format: %q", l)
		}
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
}

// TestReopenLogFile: SIGUSR1 reopens the -l file, so a rotated log goes on
// in a new file.
func TestReopenLogFile(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "canopy.log")
	port := freePort(t)
	s := startServer(t, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-l", logFile)
	waitFile(t, logFile, "Server is ready")
	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFile(t, logFile, "[INF] File log re-opened")
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
	old, _ := os.ReadFile(logFile + ".1")
	if !strings.Contains(string(old), `Trapped "user defined signal 1" signal`) {
		t.Errorf("rotated file lacks the trap line:\n%s", old)
	}
}

// waitFile polls a log file (the server writes nothing else to wait on)
// until it contains want.
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in 10s:\n%s", path, want, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRemoteSyslog: -r sends the log to a syslog server as nats-server
// does: the level in the severity (Notice for [INF]), no tag in the text.
func TestRemoteSyslog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := freePort(t)
	s := startServer(t, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-r", "udp://"+pc.LocalAddr().String())
	buf := make([]byte, 4096)
	deadline := time.Now().Add(10 * time.Second)
	for {
		pc.SetReadDeadline(deadline)
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no \"Server is ready\" datagram: %v", err)
		}
		msg := string(buf[:n])
		if !strings.Contains(msg, "Server is ready") {
			continue
		}
		// Priority 5: facility 0, severity Notice.
		if !strings.HasPrefix(msg, "<5>") || strings.Contains(msg, "[INF]") {
			t.Errorf("syslog datagram: %q", msg)
		}
		break
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestLogTimeOff: -T=false drops the time stamp, as nats-server's does:
// "[pid] [INF] ...".
func TestLogTimeOff(t *testing.T) {
	port := freePort(t)
	s := startServer(t, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-T=false", "-D")
	l := s.waitFor(t, "Server is ready")
	if !regexp.MustCompile(`^\[\d+\] \[INF\] Server is ready$`).MatchString(l) {
		t.Errorf("line %q", l)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}
