package conf

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"
	"time"

	natsconf "github.com/nats-io/nats-server/v2/conf"
)

// Load reads the configuration file at path into Options, normalizes them
// and validates them.
//
// It returns the warnings (keys nats-server knows that Canopy ignores, old
// forms that still work) even when it succeeds, and one error joining
// every problem of the file, each as a *Error naming the file, line and key.
// The Options are nil whenever the error is not.
func Load(path string) (*Options, []error, error) {
	l, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	return l.finish()
}

// Parse is Load for a configuration held in memory; path is only used to
// name the file in messages, and ConfigFile is left empty. Include
// directives are resolved from the working directory, as nats-server does
// for configuration strings, so tests that use include should go through
// Load.
func Parse(data []byte, path string) (*Options, []error, error) {
	m, err := natsconf.ParseWithChecks(string(data))
	if err != nil {
		return nil, nil, &Error{File: path, Msg: err.Error()}
	}
	return read(path, m).finish()
}

// readFile parses the file and maps its keys, without normalizing or
// validating, so that command-line flags can still be applied.
func readFile(path string) (*loader, error) {
	m, digest, err := natsconf.ParseFileWithChecksDigest(path)
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			return nil, fmt.Errorf("error opening config file: %w", err)
		}
		return nil, &Error{File: path, Msg: err.Error()}
	}
	l := read(path, m)
	l.opts.ConfigFile = path
	l.opts.ConfigDigest = digest
	return l, nil
}

// finish normalizes and validates what read produced.
func (l *loader) finish() (*Options, []error, error) {
	if len(l.errs) > 0 {
		return nil, l.warns, joinErrors(l.errs)
	}
	l.opts.Normalize()
	if errs := l.place(l.opts.validate()); len(errs) > 0 {
		return nil, l.warns, joinErrors(errs)
	}
	return l.opts, l.warns, nil
}

// loader maps one parsed file onto Options, collecting every error and
// warning instead of stopping at the first.
type loader struct {
	file  string // the file being read, for values whose token has none
	opts  *Options
	errs  []error
	warns []error
	// keys remembers where the keys that cross-key checks talk about were
	// found, by canonical dotted path ("leafnodes.authorization").
	keys map[string]token
	// systemFromOperator is the system account named by the only
	// operator JWT, used when system_account is not set.
	systemFromOperator string
}

func read(file string, m map[string]any) *loader {
	l := &loader{file: file, opts: &Options{}, keys: make(map[string]token)}
	if len(m) == 0 {
		l.warns = append(l.warns, &Error{File: file, Msg: "config has no values or is empty"})
	}
	for _, n := range entries(node{tk: noToken{}}, m) {
		l.top(n)
	}
	if l.opts.SystemAccount == "" && len(l.opts.TrustedOperators) == 1 {
		l.opts.SystemAccount = l.systemFromOperator
	}
	return l
}

// at builds an Error placed at n.
func (l *loader) at(n node, msg string) *Error {
	e := &Error{File: l.file, Key: n.key, Msg: msg}
	if n.tk != nil {
		if f := n.tk.SourceFile(); f != "" {
			e.File = f
		}
		e.Line, e.Column = n.tk.Line(), n.tk.Position()
	}
	return e
}

func (l *loader) errAt(n node, format string, args ...any) {
	l.errs = append(l.errs, l.at(n, fmt.Sprintf(format, args...)))
}

func (l *loader) warnAt(n node, format string, args ...any) {
	l.warns = append(l.warns, l.at(n, fmt.Sprintf(format, args...)))
}

// invalid reports a value of the wrong type or out of range.
func (l *loader) invalid(n node, format string, args ...any) {
	l.errAt(n, "invalid value for %q: %s", n.key, fmt.Sprintf(format, args...))
}

// unknown reports a key nobody knows. Keys that were only defined to be
// used as variables ($name) elsewhere are not settings, as in nats-server.
func (l *loader) unknown(n node) {
	if n.tk.IsUsedVariable() {
		return
	}
	l.errAt(n, "unknown field %q", n.key)
}

// unsupported warns about a key nats-server knows and Canopy ignores.
func (l *loader) unsupported(n node) {
	l.warnAt(n, "%q is not supported by Canopy, ignored", n.key)
}

// refuse reports a key nats-server knows that Canopy cannot honour and
// must not ignore, because ignoring it would weaken security or make every
// connection fail.
func (l *loader) refuse(n node, why string) {
	l.errAt(n, "%q is not supported by Canopy: %s", n.key, why)
}

// refuseTLS reports a request for TLS.
func (l *loader) refuseTLS(n node, what string) {
	e := l.at(n, fmt.Sprintf("%s: %v", what, ErrTLSNotSupported))
	e.wrapped = ErrTLSNotSupported
	l.errs = append(l.errs, e)
}

// refuseIfTrue is refuse for boolean switches, which are harmless when off.
func (l *loader) refuseIfTrue(n node, why string) {
	if b, ok := l.boolean(n); ok && b {
		l.refuse(n, why)
	}
}

// mark records where a key was found for cross-key checks.
func (l *loader) mark(path string, n node) {
	l.keys[path] = n.tk
}

// place gives the errors of a cross-key check the position of the key they
// name, or of its nearest recorded parent.
func (l *loader) place(errs []*Error) []error {
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		e.File = l.file
		for path := e.Key; path != ""; {
			if tk, ok := l.keys[path]; ok {
				if f := tk.SourceFile(); f != "" {
					e.File = f
				}
				e.Line, e.Column = tk.Line(), tk.Position()
				break
			}
			i := strings.LastIndexByte(path, '.')
			if i < 0 {
				break
			}
			path = path[:i]
		}
		out = append(out, e)
	}
	return out
}

// setListen maps a listen value ("host:port" or a port): the port always,
// the host when it names one.
func (l *loader) setListen(n node, host *string, port *int) {
	if h, p, ok := l.hostPort(n); ok {
		if h != "" {
			*host = h
		}
		*port = p
	}
}

// top maps one top-level key.
func (l *loader) top(n node) {
	o := l.opts
	key := strings.ToLower(n.key)
	l.mark(canonicalTop(key), n)
	switch key {
	case "listen":
		l.setListen(n, &o.Host, &o.Port)
	case "port":
		if p, ok := l.port(n); ok {
			o.Port = p
		}
	case "host", "net":
		if s, ok := l.str(n); ok {
			o.Host = s
		}
	case "server_name":
		if s, ok := l.str(n); ok {
			if strings.ContainsAny(s, " \t\r\n") {
				l.invalid(n, "server name cannot contain spaces")
				return
			}
			o.ServerName = s
		}
	case "debug":
		l.setBool(n, &o.Debug)
	case "trace":
		l.setBool(n, &o.Trace)
	case "trace_verbose":
		if b, ok := l.boolean(n); ok {
			o.TraceVerbose, o.Trace = b, b
		}
	case "logtime":
		if b, ok := l.boolean(n); ok {
			o.Logtime, o.NoLogtime = b, !b
		}
	case "logfile", "log_file":
		l.setString(n, &o.LogFile)
	case "syslog":
		l.setBool(n, &o.Syslog)
	case "remote_syslog":
		l.setString(n, &o.RemoteSyslog)
	case "pidfile", "pid_file":
		l.setString(n, &o.PidFile)
	case "max_control_line":
		if v, ok := l.size(n, math.MaxInt32); ok {
			o.MaxControlLine = int32(v)
		}
	case "max_payload":
		if v, ok := l.size(n, math.MaxInt32); ok {
			o.MaxPayload = int32(v)
		}
	case "max_pending":
		if v, ok := l.size(n, math.MaxInt64); ok {
			o.MaxPending = v
		}
	case "max_connections", "max_conn":
		if v, ok := l.intIn(n, math.MinInt32, math.MaxInt32); ok {
			// As in nats-server, an explicit 0 means no limit rather
			// than the default.
			if o.MaxConn = int(v); v == 0 {
				o.MaxConn = -1
			}
		}
	case "max_subscriptions", "max_subs":
		if v, ok := l.intIn(n, math.MinInt32, math.MaxInt32); ok {
			o.MaxSubs = int(v)
		}
	case "ping_interval":
		l.setDuration(n, &o.PingInterval)
	case "ping_max":
		if v, ok := l.intIn(n, 0, math.MaxInt32); ok {
			o.MaxPingsOut = int(v)
		}
	case "write_deadline":
		l.setDuration(n, &o.WriteDeadline)
	case "no_header_support":
		l.setBool(n, &o.NoHeaderSupport)
	case "http":
		if host, port, ok := l.hostPort(n); ok {
			o.HTTPHost, o.HTTPPort = host, port
		}
	case "http_port", "monitor_port":
		if p, ok := l.port(n); ok {
			o.HTTPPort = p
		}
	case "prof_port":
		if p, ok := l.port(n); ok {
			o.ProfPort = p
		}
	case "authorization":
		l.authorization(n)
	case "no_auth_user":
		l.setString(n, &o.NoAuthUser)
	case "accounts":
		l.accounts(n)
	case "system_account", "system":
		l.setString(n, &o.SystemAccount)
	case "no_system_account", "no_system", "no_sys_acc":
		l.setBool(n, &o.NoSystemAccount)
	case "operator", "operators", "root", "roots", "root_operator", "root_operators":
		l.operators(n)
	case "trusted", "trusted_keys":
		l.trusted(n)
	case "resolver", "account_resolver", "accounts_resolver":
		l.resolver(n)
	case "resolver_preload":
		l.preload(n)
	case "websocket", "ws":
		l.websocket(n)
	case "leaf", "leafnodes":
		l.leafnodes(n)
	case "lame_duck_duration":
		if d, ok := l.duration(n); ok {
			if d < 30e9 {
				l.invalid(n, "lame duck duration %v is below the minimum of 30s", d)
				return
			}
			o.LameDuckDuration = d
		}
	case "lame_duck_grace_period":
		if d, ok := l.nonNegDuration(n); ok {
			o.LameDuckGracePeriod = d
		}
	case "loops":
		// Canopy's own key: how many event loops serve connections.
		if v, ok := l.intIn(n, 0, 256); ok {
			o.Loops = int(v)
		}
	case "tls":
		o.TLS = l.tlsBlock(n, false)
	case "allow_non_tls":
		l.setBool(n, &o.AllowNonTLS)
	case "https":
		// As in nats-server, the host is the one HTTP monitoring uses.
		if host, port, ok := l.hostPort(n); ok {
			o.HTTPHost, o.HTTPSPort = host, port
		}
	case "https_port":
		if p, ok := l.port(n); ok {
			o.HTTPSPort = p
		}
	case "resolver_tls":
		l.refuseTLS(n, `"resolver_tls" block`)
	case "ocsp":
		// Stapling off asks for nothing; anything else would be ignored.
		if b, ok := n.v.(bool); ok && !b {
			return
		}
		l.refuseTLS(n, `"ocsp" (OCSP stapling)`)
	case "resolver_pinned_accounts":
		l.refuse(n, "accounts outside the list would be let in")
	case "proxy_protocol":
		l.refuseIfTrue(n, "connections would start with a PROXY header Canopy cannot read")
	case "client_advertise", "trace_headers", "logtime_utc", "mappings", "maps",
		"disable_sublist_cache", "no_sublist_cache", "default_sentinel",
		"http_base_path", "cluster", "gateway", "store_dir", "storedir", "jetstream",
		"logfile_size_limit", "log_size_limit", "logfile_max_num", "log_max_num",
		"ports_file_dir", "prof_block_rate", "max_traced_msg_len",
		"max_sub_tokens", "max_subscription_tokens", "ocsp_cache",
		"write_timeout", "connect_error_reports", "reconnect_error_reports",
		"mqtt", "server_tags", "server_metadata", "feature_flags", "default_js_domain",
		"no_fast_producer_stall", "max_closed_clients", "proxies":
		l.unsupported(n)
	default:
		l.unknown(n)
	}
}

// canonicalTop maps a top-level key's aliases to one name, the one
// cross-key checks use.
func canonicalTop(key string) string {
	switch key {
	case "leaf":
		return "leafnodes"
	case "system":
		return "system_account"
	case "operators", "root", "roots", "root_operator", "root_operators":
		return "operator"
	case "trusted_keys":
		return "trusted"
	case "account_resolver", "accounts_resolver":
		return "resolver"
	case "max_conn":
		return "max_connections"
	case "max_subs":
		return "max_subscriptions"
	case "net":
		return "host"
	case "https":
		return "https_port"
	}
	return key
}

func (l *loader) setBool(n node, dst *bool) {
	if b, ok := l.boolean(n); ok {
		*dst = b
	}
}

func (l *loader) setString(n node, dst *string) {
	if s, ok := l.str(n); ok {
		*dst = s
	}
}

// setDuration stores a duration that must not be negative.
func (l *loader) setDuration(n node, dst *time.Duration) {
	if d, ok := l.nonNegDuration(n); ok {
		*dst = d
	}
}
