package conf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/testcert"
)

// parseArgs runs ParseArgs and returns what it wrote too.
func parseArgs(t *testing.T, args ...string) (*Options, Command, string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	o, cmd, err := ParseArgs(args, &stdout, &stderr)
	return o, cmd, stdout.String(), stderr.String(), err
}

func mustArgs(t *testing.T, args ...string) (*Options, Command) {
	t.Helper()
	o, cmd, _, _, err := parseArgs(t, args...)
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", args, err)
	}
	return o, cmd
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help"}} {
		o, cmd, out, _, err := parseArgs(t, args...)
		if err != nil || o != nil || cmd.Action != ActionHelp || !strings.Contains(out, "Usage: canopy [options]") {
			t.Errorf("%q: action %v err %v out %q", args, cmd.Action, err, out)
		}
		for _, flag := range []string{"--config", "--signal", "--loops", "-DVV", "--auth", "--http_port"} {
			if !strings.Contains(out, flag) {
				t.Errorf("usage does not mention %s", flag)
			}
		}
	}
	for _, args := range [][]string{{"-v"}, {"--version"}, {"version"}, {"-c", "testdata/does-not-exist.conf", "-v"}} {
		o, cmd, out, _, err := parseArgs(t, args...)
		if err != nil || o != nil || cmd.Action != ActionVersion || out != "" {
			t.Errorf("%q: action %v err %v", args, cmd.Action, err)
		}
	}
}

func TestBadArguments(t *testing.T) {
	_, _, _, stderr, err := parseArgs(t, "--no-such-flag")
	if err == nil || !strings.Contains(stderr, "flag provided but not defined: -no-such-flag") {
		t.Errorf("unknown flag: %v, stderr %q", err, stderr)
	}
	_, _, _, _, err = parseArgs(t, "-p", "x")
	if err == nil {
		t.Error("non-numeric port accepted")
	}
	_, _, _, _, err = parseArgs(t, "frobnicate")
	if err == nil || err.Error() != `unrecognized command: "frobnicate"` {
		t.Errorf("positional argument: %v", err)
	}
	_, _, _, _, err = parseArgs(t, "-c", "testdata/does-not-exist.conf")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing config: %v", err)
	}
}

func TestFlagsWithoutConfig(t *testing.T) {
	o, cmd := mustArgs(t, "-a", "127.0.0.1", "-p", "5222", "-n", "srv", "-m", "8300",
		"-D", "-V", "-l", "/tmp/c.log", "-P", "/tmp/c.pid", "-s", "-r", "udp://h:514",
		"--user", "u", "--pass", "p", "--loops", "3")
	if cmd.Action != ActionRun || len(cmd.Warnings) != 0 {
		t.Errorf("command %+v", cmd)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"host", o.Host == "127.0.0.1"},
		{"port", o.Port == 5222},
		{"server name", o.ServerName == "srv"},
		{"http", o.HTTPHost == "127.0.0.1" && o.HTTPPort == 8300},
		{"debug and trace", o.Debug && o.Trace && !o.TraceVerbose},
		{"log file", o.LogFile == "/tmp/c.log"},
		{"pid file", o.PidFile == "/tmp/c.pid"},
		{"syslog", o.Syslog && o.RemoteSyslog == "udp://h:514"},
		{"logtime default", o.Logtime && !o.NoLogtime},
		{"user", o.Authorization.Username == "u" && o.Authorization.Password == "p"},
		{"loops", o.Loops == 3},
		{"normalized", o.MaxPayload == DefaultMaxPayload && o.ConfigFile == ""},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: unexpected options %+v", c.name, o)
		}
	}
}

func TestFlagAliases(t *testing.T) {
	tests := []struct {
		args  []string
		check func(*Options) bool
	}{
		{[]string{"--addr", "10.0.0.1"}, func(o *Options) bool { return o.Host == "10.0.0.1" }},
		{[]string{"--net", "10.0.0.2"}, func(o *Options) bool { return o.Host == "10.0.0.2" }},
		{[]string{"--port", "1234"}, func(o *Options) bool { return o.Port == 1234 }},
		{[]string{"--port=-1"}, func(o *Options) bool { return o.Port == -1 }},
		{[]string{"--name", "a"}, func(o *Options) bool { return o.ServerName == "a" }},
		{[]string{"--server_name", "b"}, func(o *Options) bool { return o.ServerName == "b" }},
		{[]string{"--http_port", "8001"}, func(o *Options) bool { return o.HTTPPort == 8001 }},
		{[]string{"--debug"}, func(o *Options) bool { return o.Debug && !o.Trace }},
		{[]string{"--trace"}, func(o *Options) bool { return o.Trace && !o.Debug }},
		{[]string{"-VV"}, func(o *Options) bool { return o.Trace && o.TraceVerbose && !o.Debug }},
		{[]string{"-DV"}, func(o *Options) bool { return o.Trace && o.Debug && !o.TraceVerbose }},
		{[]string{"-DVV"}, func(o *Options) bool { return o.Trace && o.Debug && o.TraceVerbose }},
		{[]string{"-T=false"}, func(o *Options) bool { return !o.Logtime && o.NoLogtime }},
		{[]string{"--logtime=false"}, func(o *Options) bool { return !o.Logtime && o.NoLogtime }},
		{[]string{"-T"}, func(o *Options) bool { return o.Logtime }},
		{[]string{"--log", "/tmp/x"}, func(o *Options) bool { return o.LogFile == "/tmp/x" }},
		{[]string{"--pid", "/tmp/p"}, func(o *Options) bool { return o.PidFile == "/tmp/p" }},
		{[]string{"--syslog"}, func(o *Options) bool { return o.Syslog }},
		{[]string{"--remote_syslog", "udp://x:1"}, func(o *Options) bool { return o.RemoteSyslog == "udp://x:1" }},
		{[]string{"--auth", "tok"}, func(o *Options) bool { return o.Authorization.Token == "tok" }},
		{[]string{"--loops=1"}, func(o *Options) bool { return o.Loops == 1 }},
		{[]string{"--tls=false"}, func(o *Options) bool { return true }},
	}
	for _, tt := range tests {
		o, _ := mustArgs(t, tt.args...)
		if !tt.check(o) {
			t.Errorf("%q: unexpected options %+v", tt.args, o)
		}
	}
}

// TestFlagsOverrideFile checks that flags win over the file, including
// flags that switch something off.
func TestFlagsOverrideFile(t *testing.T) {
	o, cmd := mustArgs(t, "-c", "testdata/full.conf", "-p", "9999", "-a", "10.1.1.1",
		"--debug=false", "-T", "-n", "from-flag", "-m", "9222", "-l", "/tmp/flag.log")
	if cmd.Action != ActionRun {
		t.Errorf("action %v", cmd.Action)
	}
	if o.Port != 9999 || o.Host != "10.1.1.1" || o.ServerName != "from-flag" || o.LogFile != "/tmp/flag.log" {
		t.Errorf("flags did not override: %s:%d %q %q", o.Host, o.Port, o.ServerName, o.LogFile)
	}
	if o.Debug {
		t.Error("--debug=false did not override debug: true")
	}
	if !o.Logtime || o.NoLogtime {
		t.Error("-T did not override logtime: false")
	}
	if o.HTTPPort != 9222 || o.HTTPHost != "127.0.0.1" {
		t.Errorf("http %s:%d, want the file's host and the flag's port", o.HTTPHost, o.HTTPPort)
	}
	// What the flags do not mention stays as the file has it.
	if o.MaxPayload != 2<<20 || !o.TraceVerbose || o.ConfigFile != "testdata/full.conf" || len(o.LeafNode.Remotes) != 2 {
		t.Errorf("file values lost: payload %d verbose %v file %q", o.MaxPayload, o.TraceVerbose, o.ConfigFile)
	}

	o, _ = mustArgs(t, "--config", "testdata/seed_hub.conf", "--auth", "other")
	if o.Authorization.Token != "other" {
		t.Errorf("--auth did not override the token: %q", o.Authorization.Token)
	}
	// A flag can make the file's settings conflict; the check names the key.
	_, _, _, _, err := parseArgs(t, "-c", "testdata/seed_hub.conf", "--user", "u", "--pass", "p")
	if err == nil || err.Error() != "testdata/seed_hub.conf:4:1: cannot have both a token and a user/password" {
		t.Errorf("conflict: %v", err)
	}
}

func TestCheckConfig(t *testing.T) {
	o, cmd := mustArgs(t, "-t", "-c", "testdata/seed_leaf.conf")
	if cmd.Action != ActionCheckConfig || o == nil || o.Port != 4111 {
		t.Errorf("check of a good file: %+v", cmd)
	}

	bad := filepath.Join(t.TempDir(), "bad.conf")
	if err := os.WriteFile(bad, []byte("port: 4222\nmax_payload: nope\nnope: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, _, _, _, err := parseArgs(t, "-t", "-c", bad)
	want := bad + `:2:1: invalid value for "max_payload": cannot read size "nope"` + "\n" + bad + `:3:1: unknown field "nope"`
	if err == nil || err.Error() != want || o != nil {
		t.Errorf("check of a bad file: %v\nwant %s", err, want)
	}

	_, _, _, _, err = parseArgs(t, "-t")
	if !errors.Is(err, ErrNoConfigToCheck) {
		t.Errorf("-t without -c: %v", err)
	}

	// Warnings fail a check, as in nats-server, but not a start.
	warn := filepath.Join(t.TempDir(), "warn.conf")
	if err := os.WriteFile(warn, []byte("port: 4222\ncluster { port: 6222 }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantWarn := warn + `:2:1: "cluster" is not supported by Canopy, ignored`
	o, cmd, _, _, err = parseArgs(t, "-t", "-c", warn)
	if o != nil || err == nil || err.Error() != wantWarn {
		t.Errorf("check with warnings: %v", err)
	}
	o, cmd = mustArgs(t, "-c", warn)
	if o == nil || cmd.Action != ActionRun || len(cmd.Warnings) != 1 || cmd.Warnings[0].Error() != wantWarn {
		t.Errorf("start with warnings: %v", cmd.Warnings)
	}
}

func TestSignalFlag(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "canopy.pid")
	if err := os.WriteFile(pidFile, []byte("4321\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		signal string
		pid    string
	}{
		{[]string{"--signal", "reload"}, "reload", ""},
		{[]string{"-sl", "stop=1234"}, "stop", "1234"},
		{[]string{"-sl", "quit=" + pidFile}, "quit", "4321"},
		{[]string{"--signal=ldm"}, "ldm", ""},
		{[]string{"--signal", "reopen", "-c", "testdata/does-not-exist.conf"}, "reopen", ""},
		{[]string{"--signal", "term"}, "term", ""},
	}
	for _, tt := range tests {
		o, cmd := mustArgs(t, tt.args...)
		if o != nil || cmd.Action != ActionSignal || cmd.Signal != tt.signal || cmd.PID != tt.pid {
			t.Errorf("%q: %+v", tt.args, cmd)
		}
	}
	for _, bad := range []string{"kill", "stop=abc", "stop=1=2", "stop=0"} {
		if _, _, _, _, err := parseArgs(t, "--signal", bad); err == nil {
			t.Errorf("--signal %s accepted", bad)
		}
	}
}

func TestTLSFlags(t *testing.T) {
	s, x := certs(t)
	cert, key, ca := s.Server.CertFile, s.Server.KeyFile, s.CA.CertFile

	o, _ := mustArgs(t, "--tls", "--tlscert", cert, "--tlskey", key)
	if want := (&TLS{CertFile: cert, KeyFile: key}); !reflect.DeepEqual(o.TLS, want) {
		t.Errorf("--tls: %+v", o.TLS)
	}
	// Any flag whose name starts with tls turns TLS on, --tlsverify too.
	o, _ = mustArgs(t, "--tlsverify", "--tlscert", cert, "--tlskey", key, "--tlscacert", ca)
	if want := (&TLS{CertFile: cert, KeyFile: key, CAFile: ca, Verify: true}); !reflect.DeepEqual(o.TLS, want) {
		t.Errorf("--tlsverify: %+v", o.TLS)
	}
	o, _ = mustArgs(t, "--tlscert", cert, "--tlskey", key)
	if o.TLS == nil {
		t.Error("--tlscert/--tlskey without --tls left TLS off")
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls"}, "TLS Server certificate must be present and valid"},
		{[]string{"--tlsverify", "--tlscert", cert}, "TLS Server private key must be present and valid"},
		{[]string{"--tlscacert", ca, "--tlskey", key}, "TLS Server certificate must be present and valid"},
		{[]string{"--tlscert", cert, "--tlskey", s.CA.KeyFile}, "tls: private key does not match public key"},
		{[]string{"-ms", "8443"}, "TLS cert and key required for HTTPS"},
	} {
		_, _, _, _, err := parseArgs(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.args, err, tt.want)
		}
	}

	// --tls=false turns TLS off, the file's block and the other flags too.
	file := filepath.Join(t.TempDir(), "tls.conf")
	block := x("tls { cert_file: \"$CERT\", key_file: \"$KEY\", timeout: 3, verify_and_map: true, handshake_first: auto, min_version: \"1.3\" }\n")
	if err := os.WriteFile(file, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	o, _ = mustArgs(t, "-c", file, "--tls=false", "--tlscert", cert, "--tlskey", key)
	if o.TLS != nil {
		t.Errorf("--tls=false: %+v", o.TLS)
	}
	o, _ = mustArgs(t, "-c", file)
	if o.TLS == nil || o.TLS.MinVersion != tls.VersionTLS13 {
		t.Fatalf("file block: %+v", o.TLS)
	}
	// The flags replace the file's certificate settings and keep its
	// handshake settings, as nats-server's separate fields do.
	other := s.Issue(t, "flag", testcert.Spec{Subject: pkix.Name{CommonName: "flag"}})
	o, _ = mustArgs(t, "-c", file, "--tlscert", other.CertFile, "--tlskey", other.KeyFile)
	want := &TLS{CertFile: other.CertFile, KeyFile: other.KeyFile, Timeout: 3 * time.Second,
		VerifyAndMap: true, HandshakeFirst: true, FallbackDelay: DefaultTLSFallback}
	if !reflect.DeepEqual(o.TLS, want) {
		t.Errorf("flags over file:\n%+v\nwant\n%+v", o.TLS, want)
	}

	o, _ = mustArgs(t, "-c", file, "-ms", "8443")
	if o.HTTPSPort != 8443 || o.HTTPHost != DefaultHost {
		t.Errorf("-ms: %d %q", o.HTTPSPort, o.HTTPHost)
	}
	o, _ = mustArgs(t, "--https_port", "-1", "--tls", "--tlscert", cert, "--tlskey", key)
	if o.HTTPSPort != -1 {
		t.Errorf("--https_port: %d", o.HTTPSPort)
	}
	if _, _, _, _, err := parseArgs(t, "-c", file, "-ms", "8443", "-m", "8222"); err == nil || !strings.Contains(err.Error(), "can't specify both HTTP (8222) and HTTPs (8443) ports") {
		t.Errorf("-ms with -m: %v", err)
	}

	// -t accepts a valid TLS configuration.
	if _, cmd, _, _, err := parseArgs(t, "-t", "-c", file); err != nil || cmd.Action != ActionCheckConfig {
		t.Errorf("-t: %v %v", cmd.Action, err)
	}

	_, cmd, out, _, err := parseArgs(t, "--help_tls")
	if err != nil || cmd.Action != ActionHelp || !strings.Contains(out, "--tlscert") || !strings.Contains(out, "pinned_certs") {
		t.Errorf("--help_tls: %v %v %q", cmd.Action, err, out)
	}
}

func TestIgnoredFlagsWarn(t *testing.T) {
	o, cmd := mustArgs(t, "--cluster", "nats://0.0.0.0:6222", "-js", "--routes", "nats://a:6222", "-p", "4333")
	if o.Port != 4333 {
		t.Errorf("port %d", o.Port)
	}
	var got []string
	for _, w := range cmd.Warnings {
		got = append(got, w.Error())
	}
	want := "flag -routes is not supported by Canopy, ignored|flag -cluster is not supported by Canopy, ignored|flag -js is not supported by Canopy, ignored"
	if strings.Join(got, "|") != want {
		t.Errorf("warnings %q", got)
	}
}

func TestFlagsKeepFileDurations(t *testing.T) {
	o, _ := mustArgs(t, "-c", "testdata/full.conf")
	if o.PingInterval != 30*time.Second || o.LeafNode.ReconnectInterval != 2*time.Second {
		t.Errorf("durations %v %v", o.PingInterval, o.LeafNode.ReconnectInterval)
	}
}
