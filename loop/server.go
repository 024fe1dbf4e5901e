package loop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/leaf"
)

// Version is Canopy's own version.
const Version = "0.1.0"

// CompatVersion is the nats-server version whose wire protocol Canopy speaks.
// It is what INFO and leaf CONNECT advertise as "version", because clients
// and peers gate features on it.
const CompatVersion = "2.15.2"

// readBufferCap is the most one read takes from a socket. Larger reads
// mean fewer events and syscalls for a fast publisher; the buffer is one
// per event loop, not per connection.
const readBufferCap = 256 << 10

// writeBufferCap is how much output gnet keeps for a socket in its ring
// before it starts a linked list of copies, one node allocated per write.
// Above stallBytes the loop already waits for the socket (waitDrain), so a
// ring this large keeps a receiver that is merely behind on the
// allocation-free path; only a slow consumer reaches the list.
const writeBufferCap = 2 * stallBytes

// Logger is where the server writes its log. *logger.Logger satisfies it.
type Logger interface {
	Noticef(format string, v ...any)
	Warnf(format string, v ...any)
	Errorf(format string, v ...any)
	Debugf(format string, v ...any)
	Tracef(format string, v ...any)
}

// Errors returned by the server's API.
var (
	ErrStarted    = errors.New("loop: server already started")
	ErrNotRunning = errors.New("loop: server not running")
)

// Server is one Canopy server: its listeners, accounts and connections.
type Server struct {
	opts *conf.Options
	log  Logger
	id   string // server public nkey
	name string
	auth *auth.Authenticator

	handler *handler
	eng     gnet.Engine
	workers []*worker // fixed at Start: one per event loop, in registration order
	wmu     sync.Mutex
	wmap    map[gnet.EventLoop]*worker

	// loopsUp is closed at the first tick. gnet starts its ticker once
	// every event loop is registered and running, and only then may a
	// connection a remote dialled be handed to the engine (Enroll).
	loopsUp   chan struct{}
	loopsOnce sync.Once

	clientAddr string // the gnet listen address of the client port
	leafAddr   string // of the leafnode port, "" when none
	wsAddr     string // of the websocket port, "" when none

	mu       sync.Mutex
	accounts map[string]*account
	gacc     *account
	running  bool
	ready    chan struct{}
	done     chan struct{}
	runErr   error
	bound    map[string]net.Addr // listener address -> actual bound address
	start    time.Time
	shutdown atomic.Bool

	nextCID  atomic.Uint64
	nclients atomic.Int64 // client connections open (for max_connections)
	total    atomic.Uint64

	authq   authQueue   // costly authentications, see authwork.go
	tracing atomic.Bool // -V: log every op (trace.go)

	remotes     []*leaf.Remote
	stopRemotes context.CancelFunc

	ops  opsState // monitoring, reload and lame-duck state (ops.go)
	tls  tlsConfigs
	trim trimState // returning memory after handshake bursts (trim.go)

	internal internalState  // what the server publishes itself (internal.go)
	sys      *sysState      // the system account's services; nil without one (sysacc.go)
	res      *resolverState // the full or cache resolver; nil without one (claims.go)
	// imports is what each account's imports installed (imports.go);
	// guarded by mu.
	imports map[*account]*importWiring
}

// New builds a server from normalized options. It binds nothing yet.
func New(opts *conf.Options, log Logger) (*Server, error) {
	if opts == nil {
		opts = &conf.Options{}
	}
	opts.Normalize()
	res, resWarnings, err := openResolver(opts)
	if err != nil {
		return nil, err
	}
	var authn *auth.Authenticator
	if res != nil {
		res.applied = res.store.All()
		authn, err = auth.NewResolved(opts, res.applied, res.fetch)
	} else {
		authn, err = auth.New(opts)
	}
	if err != nil {
		return nil, err
	}
	tlsClient, tlsLeaf, err := buildTLS(opts)
	if err != nil {
		return nil, err
	}
	kp, err := nkeys.CreateServer()
	if err != nil {
		return nil, fmt.Errorf("loop: server identity: %w", err)
	}
	id, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("loop: server identity: %w", err)
	}
	s := &Server{
		opts:     opts,
		log:      log,
		id:       id,
		auth:     authn,
		name:     opts.ServerName,
		wmap:     make(map[gnet.EventLoop]*worker),
		accounts: make(map[string]*account),
		ready:    make(chan struct{}),
		loopsUp:  make(chan struct{}),
		done:     make(chan struct{}),
		bound:    make(map[string]net.Addr),
		res:      res,
	}
	if s.name == "" {
		s.name = id
	}
	if s.log == nil {
		s.log = discard{}
	}
	for i := 0; i < opts.Loops; i++ {
		s.workers = append(s.workers, newWorker(s, i))
	}
	for _, w := range append(resWarnings, authn.Warnings()...) {
		s.log.Warnf("%s", w)
	}
	for _, info := range authn.Accounts() {
		s.registerAccount(info.Name).info = info
	}
	s.gacc = s.registerAccount(conf.GlobalAccount)
	s.setupImports()
	s.setupSystem()
	s.setupResolver()
	s.storeTLS(tlsClient, tlsLeaf)
	s.handler = &handler{srv: s}
	s.startAuthWorkers()
	s.tracing.Store(opts.Trace)
	return s, nil
}

// ID is the server's public nkey, as INFO's server_id.
func (s *Server) ID() string { return s.id }

// Name is the server name (server_id when none is configured).
func (s *Server) Name() string { return s.name }

// Options returns the options the server runs with. Do not modify them.
func (s *Server) Options() *conf.Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// Start binds the listeners and runs the event loops in the background. It
// returns once the server accepts connections, or with the error that
// prevented it.
func (s *Server) Start() error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return ErrStarted
	}
	s.running = true
	s.start = time.Now()
	s.mu.Unlock()

	o := s.opts
	s.clientAddr = "tcp://" + net.JoinHostPort(o.Host, portArg(o.Port))
	addrs := []string{s.clientAddr}
	if o.LeafNode.Port != 0 {
		s.leafAddr = "tcp://" + net.JoinHostPort(o.LeafNode.Host, portArg(o.LeafNode.Port))
		if s.leafAddr == s.clientAddr {
			// Both listeners take a random port on the same host. gnet
			// finds a listener by its address string (DupListener), so the
			// two must be spelled apart: "00" is port 0 as well.
			s.leafAddr = "tcp://" + net.JoinHostPort(o.LeafNode.Host, "00")
		}
		addrs = append(addrs, s.leafAddr)
	}
	if o.Websocket.Port != 0 {
		s.wsAddr = s.wsListenAddr()
		addrs = append(addrs, s.wsAddr)
	}
	go func() {
		err := gnet.Rotate(s.handler, addrs,
			gnet.WithNumEventLoop(len(s.workers)),
			gnet.WithLoadBalancing(gnet.LeastConnections),
			gnet.WithReuseAddr(true),
			gnet.WithTicker(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(gnetLog{}),
			gnet.WithReadBufferCap(readBufferCap),
			gnet.WithWriteBufferCap(writeBufferCap),
		)
		s.mu.Lock()
		s.runErr = err
		s.mu.Unlock()
		select {
		case <-s.ready:
		default:
			close(s.ready)
		}
		// The loops are gone: nothing submits authentication work now.
		s.stopAuthWorkers()
		close(s.done)
	}()
	<-s.ready
	s.mu.Lock()
	err := s.runErr
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("loop: listen: %w", err)
	}
	// In nats-server's order: websocket, leafnode, then client listener.
	if s.wsAddr != "" {
		scheme := "ws"
		if s.tls.ws.Load() != nil {
			scheme = "wss"
		}
		s.log.Noticef("Listening for websocket clients on %s://%s", scheme, s.WebsocketAddr())
		if scheme == "ws" {
			s.log.Warnf("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!")
		}
	}
	if s.leafAddr != "" {
		s.log.Noticef("Listening for leafnode connections on %s", s.LeafAddr())
	}
	s.log.Noticef("Listening for client connections on %s", s.ClientAddr())
	if err := s.startRemotes(); err != nil {
		return err
	}
	s.log.Noticef("Server is ready")
	return nil
}

// startRemotes begins dialling every configured leaf remote.
func (s *Server) startRemotes() error {
	ln := &s.opts.LeafNode
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.stopRemotes = cancel
	s.mu.Unlock()
	s.ops.setRemotesContext(ctx)
	for _, rc := range ln.Remotes {
		r, err := leaf.NewRemote(rc, ln)
		if err != nil {
			return err
		}
		if s.lookupAccount(r.Account()) == nil {
			return fmt.Errorf("loop: leafnode remote binds to unknown account %q", r.Account())
		}
		s.remotes = append(s.remotes, r)
		s.runRemote(ctx, r)
	}
	return nil
}

func portArg(p int) string {
	if p < 0 {
		return "0"
	}
	return strconv.Itoa(p)
}

// boot runs in OnBoot: it records the engine and the addresses the
// listeners really bound (port 0 picks one).
func (s *Server) boot(eng gnet.Engine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eng = eng
	for _, a := range []string{s.clientAddr, s.leafAddr, s.wsAddr} {
		if a == "" {
			continue
		}
		s.bound[a] = boundAddr(eng, a)
	}
	close(s.ready)
}

func boundAddr(eng gnet.Engine, addr string) net.Addr {
	hostport := addr[len("tcp://"):]
	fd, err := eng.DupListener("tcp", hostport)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

// ClientAddr is the address the client listener is bound to.
func (s *Server) ClientAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound[s.clientAddr]
}

// LeafAddr is the address the leafnode listener is bound to, or nil.
func (s *Server) LeafAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leafAddr == "" {
		return nil
	}
	return s.bound[s.leafAddr]
}

// Shutdown closes every connection and stops the event loops.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	running := s.running
	eng := s.eng
	s.mu.Unlock()
	if !running {
		return ErrNotRunning
	}
	if !s.shutdown.CompareAndSwap(false, true) {
		<-s.done
		return nil
	}
	s.shutdownEvent()
	s.log.Noticef("Initiating Shutdown...")
	s.mu.Lock()
	if s.stopRemotes != nil {
		s.stopRemotes()
	}
	s.mu.Unlock()
	// gnet's Stop looks for the end of the shutdown only every 500ms,
	// while s.done closes as soon as the event loops are gone: wait for
	// whichever comes first. Stop returns at once if ctx ends.
	stopped := make(chan error, 1)
	go func() { stopped <- eng.Stop(ctx) }()
	select {
	case <-s.done:
	case err := <-stopped:
		if err != nil {
			return fmt.Errorf("loop: stop: %w", err)
		}
		<-s.done
	}
	s.stopResolver()
	s.stopSystem()
	s.log.Noticef("Server Exiting..")
	return nil
}

// Done is closed when the event loops have stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

// workerOf returns the worker of an event loop, registering it on first use.
func (s *Server) workerOf(el gnet.EventLoop) *worker {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if w, ok := s.wmap[el]; ok {
		return w
	}
	w := s.workers[len(s.wmap)]
	w.el = el
	s.wmap[el] = w
	go w.startWake()
	return w
}

// baseInfo is the INFO a client receives on connect, before what is
// particular to the connection.
func (s *Server) baseInfo() leaf.Info {
	host, port := s.opts.Host, s.opts.Port
	if a, ok := s.ClientAddr().(*net.TCPAddr); ok && a != nil {
		port = a.Port
	}
	inf := leaf.Info{
		ServerID:     s.id,
		ServerName:   s.name,
		Version:      CompatVersion,
		Proto:        1,
		Go:           runtime.Version(),
		Host:         host,
		Port:         port,
		Headers:      !s.opts.NoHeaderSupport,
		AuthRequired: s.authRequired(),
		MaxPayload:   s.opts.MaxPayload,
		APILevel:     leaf.APILevel,
	}
	if t := s.opts.TLS; t != nil {
		inf.TLSRequired = !s.opts.AllowNonTLS
		inf.TLSAvailable = s.opts.AllowNonTLS
		inf.TLSVerify = t.VerifiesClients()
	}
	return inf
}

// appendInfo appends "INFO {...} \r\n" for c.
func (s *Server) appendInfo(b []byte, c *client, connectInfo bool) []byte {
	inf := s.baseInfo()
	inf.ClientID = c.cid
	inf.ClientIP = c.ip()
	inf.Nonce = c.nonce
	if c.ws != nil {
		s.wsInfo(&inf)
	}
	if connectInfo {
		inf.Nonce = ""
		inf.ConnectInfo = true
		// The connection's own limit, which its user or account may have
		// lowered (nats-server generateClientInfoJSON): nats.go takes it
		// from this INFO and refuses larger publishes itself.
		inf.MaxPayload = int32(c.p.MaxPayload)
		if c.acc != nil {
			inf.RemoteAccount = c.acc.name
			inf.AccIsSys = c.acc.info != nil && c.acc.info.System
		}
	}
	return frameInfo(b, &inf)
}

// frameInfo appends "INFO {...} \r\n" for any INFO (a client's, a
// leaf's): the one place INFO lines are framed.
func frameInfo(b []byte, inf any) []byte {
	js, _ := json.Marshal(inf)
	return frameInfoJSON(b, js)
}

// frameInfoJSON frames INFO JSON that is already encoded.
func frameInfoJSON(b, js []byte) []byte {
	b = append(b, "INFO "...)
	b = append(b, js...)
	return append(b, " \r\n"...)
}

func (s *Server) authRequired() bool { return s.auth.Required() }

// discard is the logger used when none is given.
type discard struct{}

func (discard) Noticef(string, ...any) {}
func (discard) Warnf(string, ...any)   {}
func (discard) Errorf(string, ...any)  {}
func (discard) Debugf(string, ...any)  {}
func (discard) Tracef(string, ...any)  {}

// gnetLog silences gnet's own logger: it is process-wide, and what it says
// is reported through our callbacks anyway.
type gnetLog struct{}

func (gnetLog) Debugf(string, ...any) {}
func (gnetLog) Infof(string, ...any)  {}
func (gnetLog) Warnf(string, ...any)  {}
func (gnetLog) Errorf(string, ...any) {}
func (gnetLog) Fatalf(string, ...any) {}
