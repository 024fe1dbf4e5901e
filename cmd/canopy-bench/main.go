// Command canopy-bench is the command line of the bench package: a load
// generator for any NATS server (nats-server or Canopy), and the suite behind
// `make bench-compare`.
//
// Usage:
//
//	canopy-bench SCENARIO [flags]        one scenario against one server
//	canopy-bench SCENARIO --compare URL  the same against two, A B A B ...
//	canopy-bench suite --a CMD --b CMD   every scenario, two servers it starts
//	canopy-bench certs --dir DIR         a CA and a 127.0.0.1 server certificate
//
// Run `canopy-bench help` for the flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/canopy-nats/canopy/bench"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit codes: 1 for a failed run (including lost, duplicated or reordered
// messages), 2 for a command line that cannot be run.
const (
	exitFail  = 1
	exitUsage = 2
)

const usage = `canopy-bench: a load generator for NATS servers (nats-server, Canopy).

Usage:
  canopy-bench SCENARIO [flags]
  canopy-bench SCENARIO [flags] --compare URL2 [--pairs N]
  canopy-bench suite --a "CMD [ARGS]" --b "CMD [ARGS]" [--quick] [flags]
  canopy-bench certs [--dir DIR]
  canopy-bench report --from SUITE.json [--plot FILE.html]

Scenarios:
  pub      publish only
  pubsub   N publishers, M subscribers (1:1, fan-out 1:M, fan-in N:1)
  queue    N publishers, M queue-group members; each message delivered once
  reqrep   N requesters, M responders (queue group); latency p50..max
  leaf     publish on --url, subscribe on --sub-url (the leaf hop; swap the
           URLs for the other direction)
  conns    open --conns idle connections (the opening rate), time PING/PONG
           on a random sample of them; with --server-pid, the server's
           memory per connection

Every message carries its publisher and sequence number; a lost, duplicated
or reordered message fails the run with exit status 1.

With --tls-ca (or a tls:// URL, or --tls-cert) every connection speaks TLS,
the idle ones of conns too: each does a full handshake, --dialers at once,
and conns/s is the rate at which they complete. "certs" writes a new CA
(ca.pem) and a server certificate for 127.0.0.1 and localhost
(server-cert.pem, server-key.pem) into --dir, for a server's tls block.

The suite starts each server command with "-c FILE" (nats-server's config
format) on free 127.0.0.1 ports, and for the leaf cases a hub and a leaf of
each; it prints medians and B/A ratios. The tls-* cases run against a CA
and server certificate it makes in --dir/tls at the start, with the same tls
blocks for both servers. Its cases: %s. With --json-file it also writes
a self-contained HTML report with charts beside the JSON (FILE.html);
"report" draws that page again from a suite's JSON. --plot FILE writes the
same kind of page for a single run or a --compare.

Examples:
  canopy-bench pubsub --url nats://127.0.0.1:4222 --size 16 --count 1000000
  canopy-bench pubsub --pubs 1 --subs 4 --compare nats://127.0.0.1:4333
  canopy-bench reqrep --pubs 4 --subs 2 --duration 10s --json
  canopy-bench conns --conns 50000 --conn-sub --server-pid $(pidof nats-server)
  canopy-bench pubsub --url tls://127.0.0.1:4222 --tls-ca ca.pem --size 1024
  canopy-bench suite --a .cache/bin/nats-server --b bin/canopy --quick
  canopy-bench suite --a nats-server --b bin/canopy --only conns --conns 19800 --conn-curve 1000,5000,10000
  canopy-bench reqrep --duration 10s --plot reqrep.html

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// cli holds the parsed command line.
type cli struct {
	o          bench.Options
	scenario   string
	compare    string
	compareSub string
	compareLbl string
	pairs      int
	jsonOut    bool
	csvOut     bool
	jsonFile   string
	plotFile   string
	fromFile   string
	noProgress bool

	suite bench.SuiteOptions
	aCmd  string
	bCmd  string
	only  []string
}

func newFlags(c *cli) *pflag.FlagSet {
	fs := pflag.NewFlagSet("canopy-bench", pflag.ContinueOnError)
	fs.SortFlags = false
	o := &c.o
	fs.StringVarP(&o.URL, "url", "s", "nats://127.0.0.1:4222", "server URL for publishers, requesters and idle connections")
	fs.StringVar(&o.SubURL, "sub-url", "", "server URL for subscribers and responders (default --url; required by leaf)")
	fs.StringVar(&o.Label, "label", "", "name of the server in the output (default the URL)")
	fs.StringVar(&o.Auth.Token, "token", "", "authentication token")
	fs.StringVar(&o.Auth.User, "user", "", "user name")
	fs.StringVar(&o.Auth.Password, "password", "", "password")
	fs.StringVar(&o.Auth.CredsFile, "creds", "", "credentials file (user JWT and nkey seed)")
	fs.StringVar(&o.TLS.CAFile, "tls-ca", "", "connect over TLS, verifying the server against these PEM CA certificates (a tls:// URL alone uses the system's)")
	fs.StringVar(&o.TLS.CertFile, "tls-cert", "", "client certificate (PEM) for servers that verify clients; turns TLS on")
	fs.StringVar(&o.TLS.KeyFile, "tls-key", "", "private key (PEM) of --tls-cert")
	fs.StringVar(&o.Subject, "subject", "canopy.bench", "subject to publish on")
	fs.IntVar(&o.Size, "size", 128, "payload size in bytes (below 16 the check travels in a header)")
	fs.Int64VarP(&o.Count, "count", "n", 0, "messages (requests) to send in all, split over the publishers (default 100000)")
	fs.DurationVarP(&o.Duration, "duration", "d", 0, "send for this long instead of a count")
	fs.IntVar(&o.Pubs, "pubs", 1, "publishers (requesters for reqrep)")
	fs.IntVar(&o.Subs, "subs", 1, "subscribers (queue members for queue, responders for reqrep)")
	fs.StringVar((*string)(&o.Pattern), "pattern", "random", "payload pattern: random, zero or text")
	fs.Float64Var(&o.Rate, "rate", 0, "total publish rate limit in messages per second (0: none)")
	fs.Int64Var(&o.Warmup, "warmup", 0, "warm-up messages sent and awaited before measuring")
	fs.DurationVar(&o.Timeout, "timeout", 0, "wait for readiness, stragglers and replies (default 10s)")
	fs.IntVar(&o.Conns, "conns", 0, "conns: idle connections to open (default 1000; suite default 10000)")
	fs.BoolVar(&o.ConnSub, "conn-sub", false, "conns (and the suite's conns cases): give each idle connection a subscription")
	fs.DurationVar(&o.Hold, "hold", 0, "conns: keep the connections open this long, answering PINGs")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "conns: pid of the server, to report its memory per connection")
	fs.IntVar(&o.SourceIPs, "source-ips", 0, "conns: spread over 127.0.0.1..N (default: enough for the ephemeral ports)")
	fs.IntVar(&o.Dialers, "dialers", 0, "conns: connections opened at once (default 64)")
	fs.IntVar(&o.PingSample, "ping-sample", 0, "conns: time a PING/PONG on this many connections picked at random (default 1000; -1: none)")
	fs.StringVar(&c.compare, "compare", "", "also run against this URL, alternating A B A B ...")
	fs.StringVar(&c.compareSub, "compare-sub-url", "", "subscriber URL of the compared server (leaf)")
	fs.StringVar(&c.compareLbl, "compare-label", "", "name of the compared server in the output")
	fs.IntVar(&c.pairs, "pairs", 0, "A/B pairs for --compare and suite (default 3)")
	fs.BoolVar(&c.jsonOut, "json", false, "print JSON instead of the table")
	fs.BoolVar(&c.csvOut, "csv", false, "print CSV instead of the table")
	fs.StringVar(&c.jsonFile, "json-file", "", "also write the JSON to this file (the suite writes its HTML report beside it)")
	fs.StringVar(&c.plotFile, "plot", "", "also write a self-contained HTML report with charts to this file")
	fs.StringVar(&c.fromFile, "from", "", "report: the suite's JSON file to draw the HTML report from")
	fs.BoolVar(&c.noProgress, "no-progress", false, "no progress bar even on a terminal")
	fs.StringVar(&c.aCmd, "a", "", "suite: command of server A, the baseline (e.g. the nats-server binary)")
	fs.StringVar(&c.bCmd, "b", "", "suite: command of server B, the candidate (e.g. bin/canopy)")
	fs.StringVar(&c.suite.A.Name, "a-name", "", "suite: name of server A (default the program's base name)")
	fs.StringVar(&c.suite.B.Name, "b-name", "", "suite: name of server B (default the program's base name)")
	fs.BoolVar(&c.suite.Quick, "quick", false, "suite: one pair per case, a quarter of the messages")
	fs.Float64Var(&c.suite.Scale, "scale", 1, "suite: multiply every message count by this")
	fs.StringSliceVar(&c.only, "only", nil, "suite: run only these cases (comma-separated keys)")
	fs.IntSliceVar(&c.suite.ConnCurve, "conn-curve", nil, "suite: also run the conns case at these connection counts, for the report's memory curve (e.g. 1000,5000)")
	fs.StringVar(&c.suite.Dir, "dir", "", "suite: keep server configs, logs and certificates in this folder; certs: write them here (default .)")
	return fs
}

func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{}
	fs := newFlags(c)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, usage, strings.Join(bench.CaseKeys(), ", "))
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, usage, strings.Join(bench.CaseKeys(), ", "))
		fs.PrintDefaults()
		return 0
	}
	c.scenario = args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "canopy-bench: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	if c.jsonOut && c.csvOut {
		fmt.Fprintln(stderr, "canopy-bench: give --json or --csv, not both")
		return exitUsage
	}
	var progress io.Writer
	if !c.noProgress && isTerminal(os.Stdout) && isTerminal(os.Stderr) {
		progress = stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch c.scenario {
	case "suite":
		return c.runSuite(ctx, stdout, stderr, progress)
	case "certs":
		return c.writeCerts(stdout, stderr)
	case "report":
		return c.writeReport(stdout, stderr)
	}
	if !isScenario(c.scenario) {
		fmt.Fprintf(stderr, "canopy-bench: unknown scenario %q (try: canopy-bench help)\n", c.scenario)
		return exitUsage
	}
	c.o.Scenario = bench.Scenario(c.scenario)
	c.o.Progress = progress
	if c.compare != "" {
		return c.runCompare(ctx, stdout, stderr)
	}
	res, err := bench.Run(ctx, c.o)
	if errors.Is(err, bench.ErrOptions) {
		fmt.Fprintf(stderr, "canopy-bench: %v\n", err)
		return exitUsage
	}
	results := []*bench.Result{res}
	werr := c.write(stdout, results, bench.WriteJSON, bench.WriteCSV, bench.WriteTable)
	if werr == nil && c.plotFile != "" {
		werr = writeFile(c.plotFile, func(f io.Writer) error {
			return bench.WriteResultsHTML(f, fmt.Sprintf("canopy-bench %s: %s", res.Scenario, res.Label), results, nil)
		})
	}
	if werr != nil {
		fmt.Fprintf(stderr, "canopy-bench: %v\n", werr)
		return exitFail
	}
	return report(stderr, err)
}

// write prints results in the chosen format and writes the JSON file.
func (c *cli) write(w io.Writer, results []*bench.Result, asJSON, asCSV, asTable func(io.Writer, []*bench.Result) error) error {
	if c.jsonFile != "" {
		if err := writeFile(c.jsonFile, func(f io.Writer) error { return asJSON(f, results) }); err != nil {
			return err
		}
	}
	switch {
	case c.jsonOut:
		return asJSON(w, results)
	case c.csvOut:
		return asCSV(w, results)
	default:
		return asTable(w, results)
	}
}

func (c *cli) runCompare(ctx context.Context, stdout, stderr io.Writer) int {
	b := c.o
	b.URL, b.SubURL, b.Label = c.compare, c.compareSub, c.compareLbl
	if c.o.Scenario == bench.Leaf && b.SubURL == "" {
		fmt.Fprintln(stderr, "canopy-bench: comparing the leaf scenario needs --compare-sub-url as well")
		return exitUsage
	}
	cmp, err := bench.Compare(ctx, c.o, b, c.pairs)
	if errors.Is(err, bench.ErrOptions) {
		fmt.Fprintf(stderr, "canopy-bench: %v\n", err)
		return exitUsage
	}
	if cmp != nil {
		var werr error
		if c.jsonFile != "" {
			werr = writeFile(c.jsonFile, func(f io.Writer) error { return bench.WriteComparisonJSON(f, cmp) })
		}
		if werr == nil && c.plotFile != "" {
			werr = writeFile(c.plotFile, func(f io.Writer) error {
				return bench.WriteResultsHTML(f, fmt.Sprintf("canopy-bench %s: A = %s, B = %s", cmp.Scenario, cmp.A, cmp.B), cmp.ARuns, cmp.BRuns)
			})
		}
		switch {
		case werr != nil:
		case c.jsonOut:
			werr = bench.WriteComparisonJSON(stdout, cmp)
		case c.csvOut:
			werr = bench.WriteComparisonCSV(stdout, cmp)
		default:
			werr = bench.WriteComparisonTable(stdout, cmp)
		}
		if werr != nil {
			fmt.Fprintf(stderr, "canopy-bench: %v\n", werr)
			return exitFail
		}
	}
	return report(stderr, err)
}

func (c *cli) runSuite(ctx context.Context, stdout, stderr, progress io.Writer) int {
	s := c.suite
	s.A.Cmd, s.B.Cmd = strings.Fields(c.aCmd), strings.Fields(c.bCmd)
	if s.A.Name == "" && len(s.A.Cmd) > 0 {
		s.A.Name = baseName(s.A.Cmd[0])
	}
	if s.B.Name == "" && len(s.B.Cmd) > 0 {
		s.B.Name = baseName(s.B.Cmd[0])
	}
	if s.A.Name == s.B.Name {
		s.A.Name, s.B.Name = s.A.Name+"(A)", s.B.Name+"(B)"
	}
	s.Pairs, s.Conns, s.Only = c.pairs, c.o.Conns, c.only
	s.ConnSub = c.o.ConnSub
	s.Progress = progress
	// Run lines go to stderr, so stdout holds only the report.
	s.Log = stderr
	rep, err := bench.RunSuite(ctx, s)
	if errors.Is(err, bench.ErrOptions) {
		fmt.Fprintf(stderr, "canopy-bench: %v\n", err)
		return exitUsage
	}
	if rep != nil {
		var werr error
		if c.jsonFile != "" {
			werr = writeFile(c.jsonFile, func(f io.Writer) error { return bench.WriteSuiteJSON(f, rep) })
		}
		for _, path := range c.suiteHTMLFiles() {
			if werr == nil {
				werr = writeFile(path, func(f io.Writer) error { return bench.WriteSuiteHTML(f, rep) })
				fmt.Fprintf(stderr, "canopy-bench: report in %s\n", path)
			}
		}
		if werr == nil && c.jsonOut {
			werr = bench.WriteSuiteJSON(stdout, rep)
		} else if werr == nil {
			fmt.Fprintln(stdout)
			werr = bench.WriteSuiteTable(stdout, rep)
		}
		if werr != nil {
			fmt.Fprintf(stderr, "canopy-bench: %v\n", werr)
			return exitFail
		}
		if err == nil && len(rep.Failures) > 0 {
			err = fmt.Errorf("%d suite run(s) failed", len(rep.Failures))
		}
	}
	return report(stderr, err)
}

// suiteHTMLFiles are where the suite's HTML report goes: beside its JSON
// file, with .html for .json, and to --plot.
func (c *cli) suiteHTMLFiles() []string {
	var paths []string
	if c.jsonFile != "" {
		paths = append(paths, strings.TrimSuffix(c.jsonFile, filepath.Ext(c.jsonFile))+".html")
	}
	if c.plotFile != "" && !slices.Contains(paths, c.plotFile) {
		paths = append(paths, c.plotFile)
	}
	return paths
}

// writeReport draws the HTML report of a suite JSON file again, to --plot
// or beside it.
func (c *cli) writeReport(stdout, stderr io.Writer) int {
	if c.fromFile == "" {
		fmt.Fprintln(stderr, "canopy-bench: report needs --from SUITE.json")
		return exitUsage
	}
	b, err := os.ReadFile(c.fromFile)
	if err != nil {
		fmt.Fprintf(stderr, "canopy-bench: %v\n", err)
		return exitFail
	}
	var rep bench.SuiteReport
	if err := json.Unmarshal(b, &rep); err != nil {
		fmt.Fprintf(stderr, "canopy-bench: %s: %v\n", c.fromFile, err)
		return exitFail
	}
	out := c.plotFile
	if out == "" {
		out = strings.TrimSuffix(c.fromFile, filepath.Ext(c.fromFile)) + ".html"
	}
	if err := writeFile(out, func(f io.Writer) error { return bench.WriteSuiteHTML(f, &rep) }); err != nil {
		fmt.Fprintf(stderr, "canopy-bench: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(stdout, out)
	return 0
}

// writeCerts makes a CA and a server certificate, and shows the config that
// uses them.
func (c *cli) writeCerts(stdout, stderr io.Writer) int {
	dir := c.suite.Dir
	if dir == "" {
		dir = "."
	}
	f, err := bench.MakeCerts(dir)
	if err != nil {
		fmt.Fprintf(stderr, "canopy-bench: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "# server config:\ntls {\n  cert_file: %q\n  key_file: %q\n}\n", f.Cert, f.Key)
	fmt.Fprintf(stdout, "# clients: canopy-bench SCENARIO --url tls://127.0.0.1:4222 --tls-ca %s\n", f.CA)
	return 0
}

// report prints a failure loudly and picks the exit code.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, bench.ErrIntegrity) {
		fmt.Fprintf(stderr, "\nFAIL: %v\n", err)
	} else {
		fmt.Fprintf(stderr, "\ncanopy-bench: %v\n", err)
	}
	return exitFail
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func isScenario(s string) bool {
	for _, sc := range bench.Scenarios {
		if string(sc) == s {
			return true
		}
	}
	return false
}

func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
