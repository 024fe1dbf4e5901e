package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func startServer(t *testing.T, edit func(*server.Options)) string {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	if edit != nil {
		edit(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommandLine(t *testing.T) {
	url := startServer(t, func(o *server.Options) { o.Authorization = "tok" })

	code, out, errs := runCLI("pubsub", "-s", url, "--token", "tok", "-n", "500", "--subs", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rs []map[string]any
	if err := json.Unmarshal([]byte(out), &rs); err != nil || len(rs) != 1 || rs[0]["received"].(float64) != 1000 {
		t.Fatalf("JSON output wrong (%v): %s", err, out)
	}

	code, out, _ = runCLI("reqrep", "-s", url, "--token", "tok", "-n", "100", "--csv")
	if rows, err := csv.NewReader(strings.NewReader(out)).ReadAll(); code != 0 || err != nil || len(rows) != 2 {
		t.Fatalf("CSV output wrong (exit %d, %v): %s", code, err, out)
	}

	code, out, _ = runCLI("pub", "-s", url, "--token", "tok", "-n", "100", "--compare", url, "--pairs", "2")
	if code != 0 || !strings.Contains(out, "B/A") {
		t.Fatalf("compare (exit %d): %s", code, out)
	}

	code, _, errs = runCLI("pubsub", "-s", url, "--token", "wrong", "-n", "10")
	if code != exitFail || !strings.Contains(strings.ToLower(errs), "authorization violation") {
		t.Fatalf("wrong token: exit %d, stderr %q", code, errs)
	}
	for _, args := range [][]string{
		{"nosuch"},
		{"pubsub", "--nosuchflag"},
		{"pubsub", "--size", "-3"},
		{"leaf", "-s", url},
		{"pubsub", "--json", "--csv"},
		{"suite", "--a", "x"},
	} {
		if code, _, _ := runCLI(args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, out, _ := runCLI("help"); code != 0 || !strings.Contains(out, "Scenarios:") {
		t.Fatalf("help: exit %d", code)
	}
}

// TestCommandLineTLS makes certificates with the certs command, starts a
// server on them and runs a scenario and idle connections over TLS.
func TestCommandLineTLS(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runCLI("certs", "--dir", dir)
	if code != 0 || !strings.Contains(out, "cert_file") {
		t.Fatalf("certs: exit %d: %s %s", code, out, errs)
	}
	ca := filepath.Join(dir, "ca.pem")
	url := startServer(t, func(o *server.Options) {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: filepath.Join(dir, "server-cert.pem"), KeyFile: filepath.Join(dir, "server-key.pem"),
		})
		if err != nil {
			t.Fatal(err)
		}
		o.TLSConfig = tc
	})
	if code, _, errs := runCLI("pubsub", "-s", url, "--tls-ca", ca, "-n", "500", "--subs", "2"); code != 0 {
		t.Fatalf("pubsub over TLS: exit %d: %s", code, errs)
	}
	code, out, errs = runCLI("conns", "-s", url, "--tls-ca", ca, "--conns", "20", "--dialers", "4", "--json")
	if code != 0 || !strings.Contains(out, `"tls": true`) {
		t.Fatalf("conns over TLS: exit %d: %s %s", code, out, errs)
	}
	if code, _, errs := runCLI("pubsub", "-s", url, "-n", "10", "--timeout", "2s"); code != exitFail || !strings.Contains(errs, "certificate") {
		t.Fatalf("without the CA: exit %d: %s", code, errs)
	}
	if code, _, _ := runCLI("pubsub", "-s", url, "--tls-cert", ca); code != exitUsage {
		t.Fatalf("--tls-cert without --tls-key: exit %d, want %d", code, exitUsage)
	}
}

// TestCommandLineReports writes the HTML report of a single run, of a
// comparison, and again from a recorded suite's JSON.
func TestCommandLineReports(t *testing.T) {
	url := startServer(t, nil)
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"reqrep.html":  {"reqrep", "-s", url, "-n", "200"},
		"compare.html": {"pub", "-s", url, "-n", "200", "--compare", url, "--pairs", "1"},
	} {
		path := filepath.Join(dir, name)
		if code, _, errs := runCLI(append(args, "--plot", path)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		page, err := os.ReadFile(path)
		if err != nil || !bytes.Contains(page, []byte(`<img src="data:image/png;base64,`)) {
			t.Fatalf("%s: no chart in the page (%v)", name, err)
		}
	}

	fixture, err := os.ReadFile("../../bench/testdata/suite.json")
	if err != nil {
		t.Fatal(err)
	}
	from := filepath.Join(dir, "suite.json")
	if err := os.WriteFile(from, fixture, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("report", "--from", from)
	want := filepath.Join(dir, "suite.html")
	if code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("report: exit %d, out %q, stderr %s", code, out, errs)
	}
	if page, err := os.ReadFile(want); err != nil || bytes.Count(page, []byte("<img ")) != 6 {
		t.Fatalf("the suite's page has not its six charts (%v)", err)
	}
	if code, _, _ := runCLI("report"); code != exitUsage {
		t.Fatalf("report without --from: exit %d, want %d", code, exitUsage)
	}
}
