package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSuiteEndToEnd runs the whole suite with the test binary itself standing
// in for nats-server as both A and B (see TestMain), on tiny counts: the
// servers are real child processes started from config files, with a hub
// and a leaf each for the leaf cases and a fresh one for the memory case.
func TestSuiteEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child server processes")
	}
	t.Setenv(asServerEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	dir := t.TempDir()
	rep, err := RunSuite(context.Background(), SuiteOptions{
		A:     ServerSpec{Name: "first", Cmd: []string{exe}},
		B:     ServerSpec{Name: "second", Cmd: []string{exe}},
		Quick: true,
		Scale: 0.0001,
		Conns: 50,
		// 50 again is the headline count, and runs once.
		ConnCurve: []int{20, 50, 20},
		Dir:       dir,
		Log:       &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) > 0 {
		t.Fatalf("failures: %v\nlog:\n%s", rep.Failures, log.String())
	}
	cases := map[string]bool{}
	for _, r := range rep.Rows {
		cases[r.Case] = true
		if r.Metric == MetricCPU {
			// The test's runs are too short for the kernel's 10 ms CPU
			// accounting to see; TestServerCPU covers the figure.
			continue
		}
		if r.Ratio <= 0 || r.AMedian <= 0 || r.BMedian <= 0 || len(r.A) != 1 || len(r.B) != 1 {
			t.Errorf("row %s %s has no numbers: %+v", r.Case, r.Metric, r)
		}
	}
	for _, k := range CaseKeys() {
		if !cases[k] {
			t.Errorf("case %s missing from the report", k)
		}
	}
	// The TLS cases ran on the certificates made in the suite's folder,
	// with the same tls blocks for both servers.
	if _, err := os.Stat(filepath.Join(dir, "tls", "ca.pem")); err != nil {
		t.Errorf("no CA in the suite's folder: %v", err)
	}
	for _, name := range []string{"tls-pubsub-16-1.conf", "tls-leaf-down-1-hub.conf", "tls-leaf-down-1-leaf.conf"} {
		a, errA := os.ReadFile(filepath.Join(dir, "a-first-"+name))
		b, errB := os.ReadFile(filepath.Join(dir, "b-second-"+name))
		if errA != nil || errB != nil {
			t.Fatalf("configs of %s: %v %v", name, errA, errB)
		}
		if !bytes.Contains(a, []byte("tls {")) || !bytes.Equal(withoutNames(a), withoutNames(b)) {
			t.Errorf("A and B configs of %s differ or lack TLS:\n%s\n%s", name, a, b)
		}
	}
	// Every run is kept, the curve's too: the conns case at 20 and at 50
	// connections, one pair each.
	perCount := map[int]int{}
	for _, run := range rep.Runs {
		if run.Case == "conns" {
			perCount[run.Result.Conns.Opened]++
		}
	}
	if want := (map[int]int{20: 2, 50: 2}); len(perCount) != 2 || perCount[20] != 2 || perCount[50] != 2 {
		t.Errorf("conns runs per count: %v, want %v", perCount, want)
	}
	var page bytes.Buffer
	if err := WriteSuiteHTML(&page, rep); err != nil || !strings.Contains(page.String(), chartConnMem) {
		t.Errorf("HTML report of the run: %v", err)
	}
	if rep.Machine.Cores <= 0 {
		t.Errorf("machine not described: %+v", rep.Machine)
	}
	var buf bytes.Buffer
	if err := WriteSuiteJSON(&buf, rep); err != nil || !json.Valid(buf.Bytes()) {
		t.Fatalf("suite JSON: %v", err)
	}
	buf.Reset()
	if err := WriteSuiteTable(&buf, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"B/A", "pub/sub 1:1, 16 B", "leaf hop leaf -> hub", "idle connections", "mem/conn",
		"TLS pub/sub 1:1, 16 B", "leaf hop hub -> leaf over TLS, plain clients", "idle TLS connections", "conns/s"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("suite table lacks %q:\n%s", want, buf.String())
		}
	}
}

// withoutNames drops the comment line and the ports from a config, which
// are all that may differ between A's and B's.
func withoutNames(conf []byte) []byte {
	var out []byte
	for line := range bytes.Lines(conf) {
		if bytes.HasPrefix(line, []byte("#")) {
			continue
		}
		if i := bytes.Index(line, []byte("127.0.0.1:")); i >= 0 {
			line = line[:i]
		}
		out = append(out, line...)
	}
	return out
}

func TestSuiteReportsAServerThatWillNotStart(t *testing.T) {
	t.Setenv(asServerEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunSuite(context.Background(), SuiteOptions{
		A:     ServerSpec{Name: "good", Cmd: []string{exe}},
		B:     ServerSpec{Name: "bad", Cmd: []string{exe, "--no-such-flag"}},
		Quick: true, Scale: 0.0001, Only: []string{"pubsub-16"}, Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0], "exited at start") {
		t.Fatalf("failures: %v", rep.Failures)
	}
	if _, err := RunSuite(context.Background(), SuiteOptions{A: ServerSpec{Cmd: []string{exe}}}); !errors.Is(err, ErrOptions) {
		t.Fatalf("suite without B: want ErrOptions, got %v", err)
	}
}

// TestServerCPU: runTarget.cpu reads a live process's CPU time from /proc,
// and it grows while the process works.
func TestServerCPU(t *testing.T) {
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	rt := &runTarget{procs: []*process{{pid: cmd.Process.Pid}}}
	first := rt.cpu()
	if first < 0 {
		t.Fatal("could not read /proc")
	}
	deadline := time.Now().Add(10 * time.Second)
	for rt.cpu() <= first {
		if time.Now().After(deadline) {
			t.Fatal("the busy process's CPU time never grew")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if (&runTarget{procs: []*process{{pid: 1 << 30}}}).cpu() != -1 {
		t.Fatal("a missing process should read as -1")
	}
}
