package conf

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Action is what the command line asks the program to do.
type Action int

// The actions ParseArgs can return.
const (
	// ActionRun: start the server with the returned Options.
	ActionRun Action = iota
	// ActionVersion: print the version and exit 0 (-v, --version or the
	// word "version"). conf does not know the version, so the caller
	// prints it.
	ActionVersion
	// ActionHelp: exit 0; the usage has already been written to stdout.
	ActionHelp
	// ActionCheckConfig: the configuration file is valid; report it and
	// exit 0 (-t). A file with errors, or with warnings (as in
	// nats-server), is returned as an error instead.
	ActionCheckConfig
	// ActionSignal: send Command.Signal to the running server and exit
	// (-sl, --signal).
	ActionSignal
)

// Command is what ParseArgs found on the command line besides Options.
type Command struct {
	Action Action
	// Signal is, for ActionSignal, one of stop, quit, reopen, reload,
	// ldm and term.
	Signal string
	// PID is, for ActionSignal, the process to signal: the number given
	// after "=", or read from the pid file named there. "" means none
	// was given and the caller has to find the server.
	PID string
	// Warnings are the configuration file's warnings and those of flags
	// Canopy accepts but ignores. The caller reports them; nats-server
	// prints them to stderr.
	Warnings []error
}

// usage is the help text, in the layout of nats-server's.
const usage = `
Usage: canopy [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -c, --config <file>              Configuration file
        --profile <port>             Profiling HTTP port (Go pprof)
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to canopy process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/canopy.pid)
        --loops <n>                  Number of event loops (default: 0, one per two cores; Canopy only)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -s, --syslog                     Log to syslog
    -r, --remote_syslog <addr>       Syslog server addr (udp://localhost:514)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces system account as well)

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification
    -ms,--https_port <port>          Use port for https monitoring (needs TLS)
        --help_tls                   Show TLS help

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version

nats-server's cluster and JetStream flags are accepted and ignored with a
warning.
`

// usageTLS is the --help_tls text.
const usageTLS = `
TLS Options:
    --tls                 Enable TLS. Any --tls* flag turns TLS on, and
                          --tls=false turns it off, tls block and all.
    --tlscert <file>      Server certificate file (PEM), required
    --tlskey <file>       Private key for the server certificate, required
    --tlsverify           Request and verify client certificates
    --tlscacert <file>    CAs that client certificates must chain to

The flags replace the certificate, key, CA and verify settings of the
configuration file's tls block; its timeout, verify_and_map, pinned_certs
and handshake_first stay. For everything else write a tls block:

tls {
    cert_file: "server-cert.pem"
    key_file:  "server-key.pem"
    ca_file:   "ca.pem"
    verify:    true            # or verify_and_map: true
    timeout:   2               # seconds, or "2s"
    handshake_first: false     # true, "auto" or a fallback delay such as "300ms"
    min_version: "1.2"         # or "1.3"
    cipher_suites: [ ... ]     # Go's names
    curve_preferences: [ ... ] # X25519MLKEM768, X25519, CurveP256, ...
    pinned_certs: [ ... ]      # hex sha256 of the peer's SubjectPublicKeyInfo
}
`

// cli holds the values of the flags before they are applied.
type cli struct {
	help, version, check                bool
	config, signal                      string
	host, name, logFile, remoteSyslog   string
	pidFile, user, pass, token          string
	port, httpPort, httpsPort, loops    int
	profPort                            int
	debug, trace, traceVerbose, logtime bool
	syslog, debugTrace, debugTraceVerb  bool
	tls, tlsVerify, helpTLS             bool
	tlsCert, tlsKey, tlsCA              string
}

// ignoredFlags are nats-server flags for features Canopy does not have.
// They parse, so that existing command lines still start, and each use
// earns a warning.
var ignoredFlags = []struct {
	name    string
	boolean bool
}{
	{"client_advertise", false}, {"logtime_utc", true}, {"ports_file_dir", false},
	{"log_size_limit", false}, {"max_traced_msg_len", false},
	{"routes", false}, {"cluster", false}, {"cluster_listen", false},
	{"cluster_advertise", false}, {"no_advertise", true}, {"connect_retries", false},
	{"cluster_name", false}, {"js", true}, {"jetstream", true}, {"sd", false},
	{"store_dir", false},
}

func (c *cli) define(fs *flag.FlagSet) {
	for _, n := range []string{"h", "help"} {
		fs.BoolVar(&c.help, n, false, "Show this message.")
	}
	for _, n := range []string{"v", "version"} {
		fs.BoolVar(&c.version, n, false, "Print version information.")
	}
	for _, n := range []string{"c", "config"} {
		fs.StringVar(&c.config, n, "", "Configuration file.")
	}
	fs.BoolVar(&c.check, "t", false, "Check configuration and exit.")
	for _, n := range []string{"sl", "signal"} {
		fs.StringVar(&c.signal, n, "", "Send signal to canopy process (ldm, stop, quit, term, reopen, reload).")
	}
	for _, n := range []string{"a", "addr", "net"} {
		fs.StringVar(&c.host, n, "", "Network host to listen on.")
	}
	for _, n := range []string{"p", "port"} {
		fs.IntVar(&c.port, n, 0, "Port to listen on.")
	}
	for _, n := range []string{"n", "name", "server_name"} {
		fs.StringVar(&c.name, n, "", "Server name.")
	}
	for _, n := range []string{"m", "http_port"} {
		fs.IntVar(&c.httpPort, n, 0, "HTTP port for /varz, /connz endpoints.")
	}
	fs.IntVar(&c.profPort, "profile", 0, "Profiling HTTP port.")
	for _, n := range []string{"ms", "https_port"} {
		fs.IntVar(&c.httpsPort, n, 0, "HTTPS port for /varz, /connz endpoints.")
	}
	for _, n := range []string{"P", "pid"} {
		fs.StringVar(&c.pidFile, n, "", "File to store process pid.")
	}
	for _, n := range []string{"l", "log"} {
		fs.StringVar(&c.logFile, n, "", "File to store logging output.")
	}
	for _, n := range []string{"s", "syslog"} {
		fs.BoolVar(&c.syslog, n, false, "Enable syslog as log method.")
	}
	for _, n := range []string{"r", "remote_syslog"} {
		fs.StringVar(&c.remoteSyslog, n, "", "Syslog server addr (udp://127.0.0.1:514).")
	}
	for _, n := range []string{"D", "debug"} {
		fs.BoolVar(&c.debug, n, false, "Enable debug logging.")
	}
	for _, n := range []string{"V", "trace"} {
		fs.BoolVar(&c.trace, n, false, "Enable trace logging.")
	}
	fs.BoolVar(&c.traceVerbose, "VV", false, "Enable verbose trace logging.")
	fs.BoolVar(&c.debugTrace, "DV", false, "Enable debug and trace logging.")
	fs.BoolVar(&c.debugTraceVerb, "DVV", false, "Enable debug and verbose trace logging.")
	for _, n := range []string{"T", "logtime"} {
		fs.BoolVar(&c.logtime, n, true, "Timestamp log entries.")
	}
	fs.StringVar(&c.user, "user", "", "Username required for connection.")
	fs.StringVar(&c.pass, "pass", "", "Password required for connection.")
	fs.StringVar(&c.token, "auth", "", "Authorization token required for connection.")
	fs.IntVar(&c.loops, "loops", 0, "Number of event loops; 0 means one per two cores (Canopy only).")
	fs.BoolVar(&c.tls, "tls", false, "Enable TLS.")
	fs.BoolVar(&c.tlsVerify, "tlsverify", false, "Enable TLS with client verification.")
	fs.StringVar(&c.tlsCert, "tlscert", "", "Server certificate file.")
	fs.StringVar(&c.tlsKey, "tlskey", "", "Private key for server certificate.")
	fs.StringVar(&c.tlsCA, "tlscacert", "", "Client certificate CA for verification.")
	fs.BoolVar(&c.helpTLS, "help_tls", false, "TLS help.")
	for _, f := range ignoredFlags {
		if f.boolean {
			fs.Bool(f.name, false, "Not supported by Canopy, ignored.")
		} else {
			fs.String(f.name, "", "Not supported by Canopy, ignored.")
		}
	}
}

// ParseArgs reads nats-server's command line (args without the program
// name) and, when -c names one, the configuration file. Flags given on the
// command line override the file's values, as in nats-server.
//
// It writes the usage to stdout for -h, and flag syntax errors to stderr;
// everything else is returned. The Options are nil unless the Action is
// ActionRun or ActionCheckConfig; they are normalized and validated. The
// file's warnings are in Command.Warnings; with -t they also make the check
// fail, and the error then lists them before the errors, as nats-server
// does.
func ParseArgs(args []string, stdout, stderr io.Writer) (*Options, Command, error) {
	fs := flag.NewFlagSet("canopy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Run 'canopy --help' for the list of options.")
	}
	var c cli
	c.define(fs)
	if err := fs.Parse(args); err != nil {
		return nil, Command{}, err
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	switch {
	case c.help:
		fmt.Fprint(stdout, usage)
		return nil, Command{Action: ActionHelp}, nil
	case c.helpTLS:
		fmt.Fprint(stdout, usageTLS)
		return nil, Command{Action: ActionHelp}, nil
	case c.version:
		return nil, Command{Action: ActionVersion}, nil
	}
	if rest := fs.Args(); len(rest) > 0 {
		switch strings.ToLower(rest[0]) {
		case "version":
			return nil, Command{Action: ActionVersion}, nil
		case "help":
			fmt.Fprint(stdout, usage)
			return nil, Command{Action: ActionHelp}, nil
		default:
			return nil, Command{}, fmt.Errorf("unrecognized command: %q", rest[0])
		}
	}
	if c.signal != "" {
		cmd, err := parseSignal(c.signal)
		return nil, cmd, err
	}

	var cmd Command
	for _, f := range ignoredFlags {
		if set[f.name] {
			cmd.Warnings = append(cmd.Warnings, fmt.Errorf("flag -%s is not supported by Canopy, ignored", f.name))
		}
	}

	l := &loader{opts: &Options{}, keys: make(map[string]token)}
	if c.config != "" {
		var err error
		if l, err = readFile(c.config); err != nil {
			return nil, Command{}, err
		}
		cmd.Warnings = append(cmd.Warnings, l.warns...)
		// nats-server's -t fails on warnings too, and reports them with the
		// errors: a check is asked to be strict, and here a warning often
		// means part of the file will be ignored.
		switch {
		case c.check && len(l.warns)+len(l.errs) > 0:
			return nil, cmd, joinErrors(slices.Concat(l.warns, l.errs))
		case len(l.errs) > 0:
			return nil, cmd, joinErrors(l.errs)
		}
	} else if c.check {
		return nil, Command{}, ErrNoConfigToCheck
	}
	c.apply(l.opts, set)
	if err := c.applyTLS(l.opts, set); err != nil {
		return nil, cmd, err
	}
	l.opts.Normalize()
	if errs := l.place(l.opts.validate()); len(errs) > 0 {
		return nil, cmd, joinErrors(errs)
	}
	cmd.Action = ActionRun
	if c.check {
		cmd.Action = ActionCheckConfig
	}
	return l.opts, cmd, nil
}

// applyTLS applies the --tls* flags as nats-server does. --tls=false
// turns TLS off, even a tls block of the file, and wins over the other
// flags. Otherwise any flag whose name starts with tls (--tlsverify alone
// too) turns TLS on with the flags' certificate, key, CA and verify, which
// then must name a certificate and a key; the file block's handshake
// settings, timeout, verify_and_map and pins stay, its other settings go,
// since nats-server builds a new tls.Config from the flags alone.
func (c *cli) applyTLS(o *Options, set map[string]bool) error {
	if set["tls"] && !c.tls {
		o.TLS = nil
		return nil
	}
	on := false
	for name := range set {
		if strings.HasPrefix(name, "tls") {
			on = true
		}
	}
	if !on {
		return nil
	}
	switch {
	case c.tlsCert == "":
		return errors.New("TLS Server certificate must be present and valid")
	case c.tlsKey == "":
		return errors.New("TLS Server private key must be present and valid")
	}
	t := &TLS{CertFile: c.tlsCert, KeyFile: c.tlsKey, CAFile: c.tlsCA, Verify: c.tlsVerify}
	if old := o.TLS; old != nil {
		t.Timeout = old.Timeout
		t.VerifyAndMap = old.VerifyAndMap
		t.PinnedCerts = old.PinnedCerts
		t.HandshakeFirst, t.FallbackDelay = old.HandshakeFirst, old.FallbackDelay
	}
	o.TLS = t
	return nil
}

// apply copies the flags that were given onto o, over the file's values.
func (c *cli) apply(o *Options, set map[string]bool) {
	for name := range set {
		switch name {
		case "a", "addr", "net":
			o.Host = c.host
		case "p", "port":
			o.Port = c.port
		case "n", "name", "server_name":
			o.ServerName = c.name
		case "m", "http_port":
			o.HTTPPort = c.httpPort
		case "ms", "https_port":
			o.HTTPSPort = c.httpsPort
		case "profile":
			o.ProfPort = c.profPort
		case "P", "pid":
			o.PidFile = c.pidFile
		case "l", "log":
			o.LogFile = c.logFile
		case "s", "syslog":
			o.Syslog = c.syslog
		case "r", "remote_syslog":
			o.RemoteSyslog = c.remoteSyslog
		case "D", "debug":
			o.Debug = c.debug
		case "V", "trace":
			o.Trace = c.trace
		case "T", "logtime":
			o.Logtime, o.NoLogtime = c.logtime, !c.logtime
		case "user":
			o.Authorization.Username = c.user
		case "pass":
			o.Authorization.Password = c.pass
		case "auth":
			o.Authorization.Token = c.token
		case "loops":
			o.Loops = c.loops
		}
	}
	// The combined switches win over the single ones, as in nats-server,
	// which applies them last.
	if set["VV"] {
		o.Trace, o.TraceVerbose = c.traceVerbose, c.traceVerbose
	}
	if set["DV"] {
		o.Debug, o.Trace = c.debugTrace, c.debugTrace
	}
	if set["DVV"] {
		o.Debug, o.Trace, o.TraceVerbose = c.debugTraceVerb, c.debugTraceVerb, c.debugTraceVerb
	}
}

// parseSignal reads the value of --signal: a command, optionally followed
// by "=" and a pid or the path of a pid file.
func parseSignal(s string) (Command, error) {
	name, pid, hasPID := strings.Cut(s, "=")
	switch name {
	case "stop", "quit", "reopen", "reload", "ldm", "term":
	default:
		return Command{}, fmt.Errorf("unknown signal %q (expected stop, quit, reopen, reload, ldm or term)", name)
	}
	cmd := Command{Action: ActionSignal, Signal: name}
	if !hasPID {
		return cmd, nil
	}
	if strings.Contains(pid, "=") {
		return Command{}, fmt.Errorf("invalid signal parameters: %q", s)
	}
	if data, err := os.ReadFile(pid); err == nil {
		pid = strings.TrimSpace(string(data))
	} else if !errors.Is(err, os.ErrNotExist) {
		if _, convErr := strconv.Atoi(pid); convErr != nil {
			return Command{}, fmt.Errorf("cannot read pid file %q: %w", pid, err)
		}
	}
	if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
		return Command{}, fmt.Errorf("invalid pid %q", pid)
	}
	cmd.PID = pid
	return cmd, nil
}
