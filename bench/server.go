package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ServerSpec says how to start one kind of server. Cmd is the program and
// any arguments of its own; the program must accept nats-server's "-c FILE"
// flag and config format, since the suite starts it with "-c" and a config
// file it writes (listen address, max_payload, leafnodes, tls).
type ServerSpec struct {
	Name string   `json:"name"`
	Cmd  []string `json:"cmd"`
}

// serverConfig is what the suite varies between the processes it starts.
// Everything else is left at the server's defaults, the same for A and B.
type serverConfig struct {
	maxPayload int
	maxConns   int // written only when over nats-server's default of 64K
	leafListen int // port to accept leaf connections on, or 0
	leafRemote int // hub leafnode port to solicit, or 0
	// clientTLS, when set, puts TLS on the client port: every client must
	// then speak it.
	clientTLS *CertFiles
	// leafTLS, when set, runs the leaf link over TLS: the listening side
	// presents the certificate, the remote dials tls:// and checks it
	// against the CA.
	leafTLS *CertFiles
	// websocket, when set, adds a plaintext websocket listener on wsPort
	// (chosen at start), and the clients connect to it.
	websocket bool
	wsPort    int
	// extra is written verbatim at the end: the chaos suite's auth,
	// monitoring and leafnodes blocks, in nats-server's format.
	extra string
}

// render writes the config in nats-server's format.
func (c serverConfig) render(name string, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by canopy-bench for %s\n", name)
	fmt.Fprintf(&b, "listen: \"127.0.0.1:%d\"\n", port)
	fmt.Fprintf(&b, "max_payload: %d\n", c.maxPayload)
	if c.maxConns > 65536 {
		fmt.Fprintf(&b, "max_connections: %d\n", c.maxConns)
	}
	if c.clientTLS != nil {
		renderServerTLS(&b, "", c.clientTLS)
	}
	if c.wsPort != 0 {
		fmt.Fprintf(&b, "websocket {\n  listen: \"127.0.0.1:%d\"\n  no_tls: true\n}\n", c.wsPort)
	}
	if c.leafListen != 0 {
		fmt.Fprintf(&b, "leafnodes {\n  listen: \"127.0.0.1:%d\"\n", c.leafListen)
		if c.leafTLS != nil {
			renderServerTLS(&b, "  ", c.leafTLS)
		}
		b.WriteString("}\n")
	}
	if c.leafRemote != 0 {
		scheme := "nats-leaf"
		if c.leafTLS != nil {
			scheme = "tls"
		}
		fmt.Fprintf(&b, "leafnodes {\n  remotes = [\n    {\n      url: \"%s://127.0.0.1:%d\"\n", scheme, c.leafRemote)
		if c.leafTLS != nil {
			fmt.Fprintf(&b, "      tls {\n        ca_file: %s\n      }\n", strconv.Quote(c.leafTLS.CA))
		}
		b.WriteString("    }\n  ]\n}\n")
	}
	b.WriteString(c.extra)
	return b.String()
}

// renderServerTLS writes the tls block of a listening port.
func renderServerTLS(b *strings.Builder, indent string, f *CertFiles) {
	fmt.Fprintf(b, "%stls {\n", indent)
	fmt.Fprintf(b, "%s  cert_file: %s\n", indent, strconv.Quote(f.Cert))
	fmt.Fprintf(b, "%s  key_file: %s\n", indent, strconv.Quote(f.Key))
	fmt.Fprintf(b, "%s}\n", indent)
}

// process is a server the suite started.
type process struct {
	name    string
	url     string // nats:// or, with TLS on the client port, tls://
	addr    string // the client port's host:port
	pid     int
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// freeLoopbackPort asks the kernel for a free 127.0.0.1 port. Another
// process could take it before the server binds it; startServer then fails
// with the server's own log, and the suite run can simply be repeated.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer writes the config into dir, starts the server and waits until
// it answers with INFO on its client port.
func startServer(ctx context.Context, spec ServerSpec, dir, name string, cfg serverConfig) (*process, error) {
	if len(spec.Cmd) == 0 {
		return nil, fmt.Errorf("%w: no command for server %s", ErrOptions, spec.Name)
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	if cfg.websocket {
		if cfg.wsPort, err = freeLoopbackPort(); err != nil {
			return nil, err
		}
	}
	confPath := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(confPath, []byte(cfg.render(name, port)), 0o644); err != nil {
		return nil, err
	}
	scheme := "nats"
	if cfg.clientTLS != nil {
		scheme = "tls"
	}
	urlPort := port
	if cfg.websocket {
		// Readiness is still checked on the client port (awaitReady).
		scheme, urlPort = "ws", cfg.wsPort
	}
	p := &process{
		name:    name,
		url:     fmt.Sprintf("%s://127.0.0.1:%d", scheme, urlPort),
		addr:    fmt.Sprintf("127.0.0.1:%d", port),
		logPath: filepath.Join(dir, name+".log"),
		exited:  make(chan struct{}),
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	args := append(append([]string(nil), spec.Cmd[1:]...), "-c", confPath)
	p.cmd = exec.Command(spec.Cmd[0], args...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	// Its own process group, so a ^C to the suite reaches the suite first
	// and the suite stops its servers in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.run(ctx); err != nil {
		return nil, fmt.Errorf("bench: start %s (%s): %w", name, spec.Cmd[0], err)
	}
	return p, nil
}

// run starts p's command, watches for its exit and waits until it serves.
func (p *process) run(ctx context.Context) error {
	if err := p.cmd.Start(); err != nil {
		return err
	}
	p.pid = p.cmd.Process.Pid
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	if err := p.awaitReady(ctx, 15*time.Second); err != nil {
		p.stop()
		return err
	}
	return nil
}

// awaitReady dials the client port until the server greets with INFO. A
// child process gives no other signal of readiness that every server shares,
// so this retries with a short pause, and gives up early if the process
// exits. With TLS on the port the INFO still comes in the clear, before the
// handshake, which this never starts.
func (p *process) awaitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	addr := p.addr
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && strings.HasPrefix(line, "INFO ") {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("bench: server %s exited at start (%v); log %s:\n%s", p.name, p.waitErr, p.logPath, p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: server %s not answering on %s after %v; log %s:\n%s", p.name, addr, limit, p.logPath, p.logTail())
		}
	}
}

// stop asks the server to shut down and kills it if it has not within five
// seconds.
func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// alive reports an error if the server has exited.
func (p *process) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("bench: server %s has exited (%v); log %s:\n%s", p.name, p.waitErr, p.logPath, p.logTail())
	default:
		return nil
	}
}

func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	const keep = 15
	if len(lines) > keep {
		lines = lines[len(lines)-keep:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// leafPair is a hub and a leaf server that solicits it: two processes of
// the same spec.
type leafPair struct {
	hub, leaf *process
}

// startLeafPair starts the hub, then the leaf, each with cfg (max payload,
// TLS) plus its side of the leaf link.
func startLeafPair(ctx context.Context, spec ServerSpec, dir, name string, cfg serverConfig) (*leafPair, error) {
	lport, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	hubCfg, leafCfg := cfg, cfg
	hubCfg.leafListen, leafCfg.leafRemote = lport, lport
	hub, err := startServer(ctx, spec, dir, name+"-hub", hubCfg)
	if err != nil {
		return nil, err
	}
	leaf, err := startServer(ctx, spec, dir, name+"-leaf", leafCfg)
	if err != nil {
		hub.stop()
		return nil, err
	}
	return &leafPair{hub: hub, leaf: leaf}, nil
}
