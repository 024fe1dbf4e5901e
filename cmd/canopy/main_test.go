package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/loop"
)

// asServer makes the test binary act as the canopy command: the tests
// that need a real process (signals, exit codes) run it with this variable
// set, so no separate build is needed.
const asServer = "CANOPY_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asServer) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runMain calls run in-process and returns its exit code and output.
func runMain(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestVersion: -v starts as nats-server's own "nats-server: v2.15.2", so
// the ways client test suites read a server's version (the first
// "v<semver>", the first semver, what follows the first " v" or
// "version ") find the compatible version, and it still says it is Canopy
// and which.
func TestVersion(t *testing.T) {
	want := fmt.Sprintf("nats-server: v%s (canopy v%s)\n", loop.CompatVersion, loop.Version)
	for _, arg := range []string{"-v", "--version", "version"} {
		code, out, errOut := runMain(arg)
		if code != 0 || out != want || errOut != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, out, errOut)
		}
	}
	_, out, _ := runMain("-v")
	semver := regexp.MustCompile(`\d+\.\d+\.\d+`)
	readers := map[string]func(string) string{
		`first v<semver>`: func(s string) string {
			if m := regexp.MustCompile(`v(\d+\.\d+\.\d+)`).FindStringSubmatch(s); m != nil {
				return m[1]
			}
			return ""
		},
		"first semver": func(s string) string { return semver.FindString(s) },
		`after the first " v"`: func(s string) string {
			if _, rest, ok := strings.Cut(s, " v"); ok {
				return semver.FindString(rest)
			}
			return ""
		},
		`after "version ", else the first semver`: func(s string) string {
			if _, rest, ok := strings.Cut(s, "version "); ok {
				return semver.FindString(rest)
			}
			return semver.FindString(s)
		},
	}
	for name, read := range readers {
		if v := read(out); v != loop.CompatVersion {
			t.Errorf("%s reads %q from %q, want %s", name, v, out, loop.CompatVersion)
		}
	}
	if !strings.HasPrefix(out, "nats-server: v"+loop.CompatVersion) || !strings.Contains(out, "canopy v"+loop.Version) {
		t.Errorf("-v printed %q", out)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		code, out, _ := runMain(arg)
		if code != 0 {
			t.Errorf("%s: exit %d", arg, code)
		}
		for _, flag := range []string{"Usage: canopy [options]", "-c, --config", "-a, --addr", "-p, --port",
			"-n, --name", "-m, --http_port", "-t ", "-l, --log", "-D, --debug", "-V, --trace", "-DV", "-v, --version"} {
			if !strings.Contains(out, flag) {
				t.Errorf("%s: usage lacks %q", arg, flag)
			}
		}
	}
	if code, _, errOut := runMain("--no-such-flag"); code == 0 || !strings.Contains(errOut, "no-such-flag") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, errOut)
	}
}

// TestCheckSeedConfigs: -t accepts the seed's configs (the tutorial's
// hub and leafs, as conf/testdata keeps them).
func TestCheckSeedConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "conf", "testdata", "seed_*.conf"))
	if err != nil || len(files) < 3 {
		t.Fatalf("seed configs: %v %v", files, err)
	}
	for _, f := range files {
		code, out, errOut := runMain("-t", "-c", f)
		if code != 0 || out != "" || errOut != "canopy: configuration file "+f+" is valid\n" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", f, code, out, errOut)
		}
	}
}

// badConfigs are config files that must not start a server, with what the
// error must say besides the file name: its line and the key.
var badConfigs = []struct {
	name, text string
	want       []string
}{
	{"unknown key", "port: 4222\nmax_payloads: 1MB\n", []string{":2:", `"max_payloads"`}},
	{"bad size", "port: 4222\nmax_payload: \"lots\"\n", []string{":2:", `"max_payload"`, "lots"}},
	{"bad duration", "\n\nping_interval: \"soon\"\n", []string{":3:", `"ping_interval"`}},
	{"bad port", "port: \"x\"\n", []string{":1:", `"port"`}},
	{"bad key in a block", "authorization {\n  token: \"t\"\n  tokn: \"u\"\n}\n", []string{":3:", `"tokn"`}},
	// A cross-key check points at the block, as nats-server does.
	{"token and user", "\nauthorization {\n  token: \"t\"\n  user: u\n  password: p\n}\n", []string{":2:", "token", "user/password"}},
	{"syntax", "port: 4222\nauthorization {\n  token: \"t\"\n", []string{}},
}

// TestCheckBadConfigs: -t refuses bad files, naming file, line and key.
func TestCheckBadConfigs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range badConfigs {
		f := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".conf", tc.text)
		code, out, errOut := runMain("-t", "-c", f)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "canopy: "+f) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", tc.name, code, out, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: %q lacks %q", tc.name, errOut, w)
			}
		}
	}
	if code, _, errOut := runMain("-t"); code != 1 || !strings.Contains(errOut, "must specify [-c, --config]") {
		t.Errorf("-t without -c: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runMain("-t", "-c", filepath.Join(dir, "missing.conf")); code != 1 || !strings.Contains(errOut, "missing.conf") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
}

// TestBadConfigFailsStartup: without -t a bad file stops start-up with the
// same message, before anything listens.
func TestBadConfigFailsStartup(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	f := writeFile(t, dir, "bad.conf", fmt.Sprintf("listen: 127.0.0.1:%d\nmax_pending: -5MB\nwrite_deadlin: 1s\n", port))
	code, _, errOut := runMain("-c", f)
	if code != 1 || !strings.Contains(errOut, f+":3:") || !strings.Contains(errOut, `"write_deadlin"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		c.Close()
		t.Fatal("something listens on the port of a config that failed")
	}
}

// server is the test binary started as the canopy command.
type server struct {
	cmd   *exec.Cmd
	lines chan string // stderr, a line at a time; closed at exit
	log   []string
}

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asServer+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, lines: make(chan string, 256)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return s
}

// waitFor reads the server's log until a line contains want.
func (s *server) waitFor(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("server exited before %q; log:\n%s", want, strings.Join(s.log, "\n"))
			}
			s.log = append(s.log, l)
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q in 10s; log:\n%s", want, strings.Join(s.log, "\n"))
		}
	}
}

// stop sends sig and returns the exit code, failing if the server does
// not exit in time.
func (s *server) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for l := range s.lines {
			s.log = append(s.log, l)
		}
		done <- s.cmd.Wait()
	}()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(15 * time.Second):
		t.Fatalf("server still running 15s after %v; log:\n%s", sig, strings.Join(s.log, "\n"))
		return -1
	}
}

// TestServeSeedHub runs the binary on the tutorial's hub config (its
// leafnode port moved to a free one), with flags over the file, serves a
// nats.go client with the token, and stops on SIGTERM.
func TestServeSeedHub(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "conf", "testdata", "seed_hub.conf"))
	if err != nil {
		t.Fatal(err)
	}
	port, leafPort := freePort(t), freePort(t)
	text := strings.Replace(string(b), "port: 7422", fmt.Sprintf("host: 127.0.0.1\nport: %d", leafPort), 1)
	f := writeFile(t, t.TempDir(), "hub.conf", text)
	s := startServer(t, "-c", f, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-n", "hub1")
	// nats-server's order: the leafnode listener, then the client's.
	s.waitFor(t, fmt.Sprintf("Listening for leafnode connections on 127.0.0.1:%d", leafPort))
	s.waitFor(t, fmt.Sprintf("Listening for client connections on 127.0.0.1:%d", port))
	s.waitFor(t, "Server is ready")

	url := fmt.Sprintf("nats://s3cr3t@127.0.0.1:%d", port)
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.ConnectedServerName(); got != "hub1" {
		t.Errorf("server name %q, want hub1 from -n", got)
	}
	sub, err := nc.SubscribeSync("hello")
	if err != nil {
		t.Fatal(err)
	}
	nc.Publish("hello", []byte("world"))
	if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != "world" {
		t.Fatalf("round trip: %v %v", m, err)
	}
	if _, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port), nats.Timeout(5*time.Second)); err == nil {
		t.Error("a client without the token got in")
	}
	nc.Close()

	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	log := strings.Join(s.log, "\n")
	for _, want := range []string{`Trapped "terminated" signal`, "Server Exiting.."} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestServeLogFile: -l writes the log to a file, -DV adds debug lines, and
// SIGINT stops the server cleanly.
func TestServeLogFile(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "canopy.log")
	port := freePort(t)
	s := startServer(t, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-l", logFile, "-DV")
	// The log goes to the file, so there is no line to wait for: nats.go
	// retries the connection until the server listens, and says when.
	connected := make(chan struct{}, 1)
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(250),
		nats.ConnectHandler(func(*nats.Conn) { connected <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("no connection to the server in 10s")
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if code := s.stop(t, syscall.SIGINT); code != 0 {
		t.Errorf("exit %d after SIGINT", code)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{"[INF] Server is ready", "[DBG]", "Client connection closed", `Trapped "interrupt" signal`, "Server Exiting.."} {
		if !strings.Contains(log, want) {
			t.Errorf("log file lacks %q:\n%s", want, log)
		}
	}
	if len(s.log) != 0 {
		t.Errorf("stderr got lines with -l: %q", s.log)
	}
}
