// Package conf holds Canopy's configuration model and reads nats-server's
// configuration file format into it.
//
// Options is plain data: every other package reads it, none of them parses
// files. The zero value is valid; Normalize fills in nats-server's defaults.
//
// Load reads a file (Parse the same from memory) with nats-server's own
// parser, so includes, variables, environment variables and both comment
// styles work as they do there, and maps every key onto Options; ParseArgs
// does the same for nats-server's command line. Keys are read as
// nats-server reads them, with its aliases. Keys nats-server knows and
// Canopy does not implement are warnings; those whose absence would weaken
// security or break every connection (proxy_protocol,
// resolver_pinned_accounts, account_token_position, proxy_required, and
// the TLS keys Canopy cannot honour: resolver_tls, ocsp, cert_store and
// the other keys listed at ErrTLSNotSupported) are errors. Unknown keys
// are errors, as in nats-server. Canopy adds one key of its own, loops.
package conf

import (
	"net/url"
	"runtime"
	"strings"
	"time"
)

// Defaults, as nats-server v2.15.2 has them (server/const.go).
const (
	DefaultHost           = "0.0.0.0"
	DefaultPort           = 4222
	DefaultLeafPort       = 7422
	DefaultHTTPPort       = 8222
	DefaultMaxControlLine = 4096
	DefaultMaxPayload     = 1 << 20
	DefaultMaxPending     = 64 << 20
	DefaultMaxConn        = 64 * 1024
	DefaultAuthTimeout    = 2 * time.Second
	DefaultPingInterval   = 2 * time.Minute
	DefaultPingMax        = 2
	DefaultWriteDeadline  = 10 * time.Second
	DefaultLeafReconnect  = time.Second
	DefaultLeafDial       = time.Second
	DefaultLeafFirstInfo  = time.Second
	DefaultLameDuck       = 2 * time.Minute
	DefaultLameDuckGrace  = 10 * time.Second
	// GlobalAccount is the account of users that name none.
	GlobalAccount = "$G"
	// SystemAccount is the default system account name in config mode.
	SystemAccount = "$SYS"
)

// Options is the whole configuration of one server.
type Options struct {
	// ConfigFile is the file the options were read from, if any.
	ConfigFile string
	// ConfigDigest is nats-server's digest of that file ("sha256:<hex>" of
	// its parsed values), which the start-up log and /varz show.
	ConfigDigest string

	ServerName string
	Host       string // client listener host; "" means DefaultHost
	Port       int    // client listener port; 0 means DefaultPort, -1 a random port

	// Monitoring (issue 6). HTTPPort 0 means off, -1 a random port.
	HTTPHost string
	HTTPPort int
	// HTTPSPort serves the same endpoints over HTTPS with TLS's server
	// configuration (https_port, https: host:port, -ms/--https_port); 0
	// means off, -1 a random port. nats-server refuses both ports at once,
	// and HTTPS without a top-level tls block.
	HTTPSPort int

	// TLS is the client listener's tls block, or what the --tls* flags ask
	// for; nil means plaintext. With it, INFO says tls_required and
	// clients must handshake (first, with HandshakeFirst).
	TLS *TLS
	// AllowNonTLS (allow_non_tls) lets clients that do not start a TLS
	// handshake stay in plaintext on a TLS listener; INFO then no longer
	// says tls_required.
	AllowNonTLS bool

	// ProfPort serves Go's pprof endpoints (prof_port, --profile); 0 means
	// off.
	ProfPort int

	MaxConn         int           // 0 means DefaultMaxConn; negative means unlimited
	MaxPayload      int32         // 0 means DefaultMaxPayload
	MaxPending      int64         // 0 means DefaultMaxPending
	MaxControlLine  int32         // 0 means DefaultMaxControlLine
	MaxSubs         int           // 0 means unlimited
	PingInterval    time.Duration // 0 means DefaultPingInterval
	MaxPingsOut     int           // 0 means DefaultPingMax
	WriteDeadline   time.Duration // 0 means DefaultWriteDeadline
	NoHeaderSupport bool

	// Logging.
	Debug        bool
	Trace        bool
	TraceVerbose bool
	Logtime      bool // set by Normalize unless NoLogtime
	NoLogtime    bool
	LogFile      string
	Syslog       bool
	RemoteSyslog string
	PidFile      string

	// Client authorization: the top-level authorization block.
	Authorization Authorization
	NoAuthUser    string

	// Accounts defined in the config file (config mode).
	Accounts      []*Account
	SystemAccount string
	// NoSystemAccount turns the system account's services and events off
	// (no_system_account); without it they run in SystemAccount, or in
	// $SYS when no account is named, as in nats-server.
	NoSystemAccount bool

	// Operator (JWT) mode.
	TrustedOperators []string          // operator JWTs, inline or read from files
	TrustedKeys      []string          // extra trusted operator public keys
	Resolver         string            // "MEMORY", "FULL" or "CACHE"
	ResolverPreload  map[string]string // account public key -> account JWT
	// The directory resolvers (FULL, CACHE): where account JWTs are kept,
	// whether $SYS.REQ.CLAIMS.DELETE may remove them (and remove the file
	// rather than rename it), how many are kept (0: FULL unlimited, CACHE
	// 1000), how long a cached one lives (0: for ever), how often a FULL
	// resolver compares its set with its peers', and how long a lookup
	// through the system account waits (0: 1.9 s, nats-server's default).
	ResolverDir         string
	ResolverAllowDelete bool
	ResolverHardDelete  bool
	ResolverLimit       int64
	ResolverTTL         time.Duration
	ResolverInterval    time.Duration
	ResolverTimeout     time.Duration

	LeafNode LeafNode

	// Websocket is the websocket block; Port 0 means no listener.
	Websocket Websocket

	LameDuckDuration    time.Duration
	LameDuckGracePeriod time.Duration

	// Loops is the number of event loops; 0 means DefaultLoops. It is
	// Canopy's own setting (config key loops, flag --loops): nats-server
	// has no such key.
	Loops int
}

// Authorization is an authorization block: the top-level one for clients.
type Authorization struct {
	Token    string
	Username string
	Password string
	Timeout  time.Duration // 0 means DefaultAuthTimeout
	Users    []*User
	// DefaultPermissions are those of users without their own; Load has
	// already given them to such Users, as nats-server does.
	DefaultPermissions *Permissions
}

// User is one entry of a users list. Exactly one of Username and Nkey is set.
type User struct {
	Username    string
	Password    string // plain text or a bcrypt hash ($2a$...)
	Nkey        string // public user nkey (U...)
	Account     string // "" means the account the list belongs to, or $G
	Permissions *Permissions
	// AllowedConnectionTypes restricts the kinds of connection the user may
	// make (STANDARD, WEBSOCKET, LEAFNODE, LEAFNODE_WS, MQTT, MQTT_WS,
	// IN_PROCESS, upper case). Nil means any kind.
	AllowedConnectionTypes []string
}

// Permissions are a user's publish and subscribe rights.
type Permissions struct {
	Publish   *SubjectPermission
	Subscribe *SubjectPermission
	Response  *ResponsePermission
}

// SubjectPermission is an allow list and a deny list of subjects. A nil
// Allow means everything is allowed; subscribe entries may carry a queue
// ("foo.* workers").
type SubjectPermission struct {
	Allow []string
	Deny  []string
}

// ResponsePermission lets a user publish replies to requests it received.
type ResponsePermission struct {
	MaxMsgs int           // 0 means 1
	Expires time.Duration // 0 means 2 minutes
}

// Account is a config-mode account.
type Account struct {
	Name    string
	Users   []*User
	Exports []*Export
	Imports []*Import
	// Limits: 0 or a negative number means unlimited.
	MaxConnections int
	MaxSubs        int
	MaxPayload     int32
	MaxLeafNodes   int
}

// Export makes a stream or a service of an account available to others.
type Export struct {
	Subject  string
	Service  bool     // false: a stream
	Accounts []string // nil means public
	// Response is how a service may answer one request: "Singleton" (the
	// default), "Stream" or "Chunked", as nats-server names the types.
	Response string
}

// Import brings another account's stream or service in.
type Import struct {
	Account string // the exporting account
	Subject string
	Service bool
	Prefix  string // streams: prepended to the subject
	// To is the local subject: for services it defaults to Subject; for
	// streams it maps the imported subject (exclusive with Prefix).
	To string
	// Share (services): the service learns who asks in detail, not only
	// the account (Nats-Request-Info).
	Share bool
}

// LeafNode holds the leafnodes block: the accepting side and the remotes.
type LeafNode struct {
	Host        string
	Port        int // 0: no leafnode listener; -1 a random port
	Advertise   string
	NoAdvertise bool

	// Authorization of the accepting side; when none of these is set,
	// leafs authenticate against the client authorization.
	Username    string
	Password    string
	Account     string
	Users       []*User
	Nkey        string
	AuthTimeout time.Duration

	ReconnectInterval time.Duration // 0 means DefaultLeafReconnect
	DialTimeout       time.Duration // 0 means DefaultLeafDial
	// Compression is the accept side's mode as nats-server spells it after
	// normalising aliases: "off", "accept", "s2_auto", "s2_fast",
	// "s2_better", "s2_best" or "not supported". "" means not configured,
	// where nats-server would use s2_auto; Normalize leaves it to the leaf
	// code to decide what Canopy offers.
	Compression string
	// CompressionRTT are s2_auto's rtt_thresholds; nil means nats-server's
	// 10ms, 50ms, 100ms, 250ms.
	CompressionRTT []time.Duration
	MinVersion     string
	Isolate        bool

	// TLS is the leafnode listener's tls block (leafnodes { tls {} });
	// nil means plaintext. Remotes do not use it: each has its own.
	TLS *TLS

	Remotes []*Remote
}

// Remote is one remotes entry: a system this server dials as a leaf.
type Remote struct {
	URLs             []*url.URL
	Credentials      string // creds file path
	Seed             string // nkey seed (nkey/seed keys)
	LocalAccount     string // "" means $G
	DenyImports      []string
	DenyExports      []string
	Hub              bool
	Compression      string          // as LeafNode.Compression
	CompressionRTT   []time.Duration // as LeafNode.CompressionRTT
	FirstInfoTimeout time.Duration   // 0 means DefaultLeafFirstInfo
	DialTimeout      time.Duration   // 0 means LeafNode.DialTimeout
	Isolate          bool            // isolate_leafnode_interest on this remote
	NoRandomize      bool
	IgnoreDiscovered bool
	RequestIsolation bool
	Disabled         bool
	// WSCompression asks a ws:// or wss:// hub for permessage-deflate;
	// WSNoMasking asks it to accept unmasked frames.
	WSCompression bool
	WSNoMasking   bool
	// TLS is the remote's tls block. A tls:// URL without one gives an
	// empty &TLS{} (system roots, the URL's host as server name); nil
	// means TLS only if the hub's INFO asks for it, as in nats-server.
	TLS *TLS
}

// tlsFromURLs gives a remote with a tls:// URL and no tls block an empty
// one.
func (r *Remote) tlsFromURLs() {
	if r.TLS != nil {
		return
	}
	for _, u := range r.URLs {
		if strings.EqualFold(u.Scheme, "tls") || strings.EqualFold(u.Scheme, "wss") {
			r.TLS = &TLS{}
			return
		}
	}
}

// DefaultLoops is the event loop count when none is configured: one per
// two cores, at least one. Each loop is busy on one core, and the rest is
// left to the Go runtime, the kernel's network stack and, on a shared
// machine, the clients: on 2 cores, 1 loop matched or beat 2 in every
// bench-compare case and cut request/reply p50 latency by 20%.
func DefaultLoops() int { return max(1, runtime.NumCPU()/2) }

// Normalize fills in defaults. It is idempotent and the only place that
// knows them.
func (o *Options) Normalize() {
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.MaxConn == 0 {
		o.MaxConn = DefaultMaxConn
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.MaxPending == 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxControlLine == 0 {
		o.MaxControlLine = DefaultMaxControlLine
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.MaxPingsOut == 0 {
		o.MaxPingsOut = DefaultPingMax
	}
	if o.WriteDeadline == 0 {
		o.WriteDeadline = DefaultWriteDeadline
	}
	if o.Authorization.Timeout == 0 {
		// With TLS the handshake comes out of the same budget: nats-server
		// gives a second more than the TLS timeout.
		o.Authorization.Timeout = DefaultAuthTimeout
		if o.TLS != nil {
			o.Authorization.Timeout = o.TLS.HandshakeTimeout() + time.Second
		}
	}
	if !o.NoLogtime {
		o.Logtime = true
	}
	if (o.HTTPPort != 0 || o.HTTPSPort != 0) && o.HTTPHost == "" {
		o.HTTPHost = o.Host
	}
	// The leafnode listener does not follow the client host: nats-server
	// binds it to 0.0.0.0 unless leafnodes sets a host, and a hub that
	// keeps clients on localhost must still accept leafs from elsewhere.
	if o.LeafNode.Port != 0 && o.LeafNode.Host == "" {
		o.LeafNode.Host = DefaultHost
	}
	if o.LeafNode.AuthTimeout == 0 {
		o.LeafNode.AuthTimeout = o.Authorization.Timeout
		if o.LeafNode.TLS != nil {
			o.LeafNode.AuthTimeout = o.LeafNode.TLS.HandshakeTimeout() + time.Second
		}
	}
	if o.Websocket.Port != 0 && o.Websocket.Host == "" {
		o.Websocket.Host = DefaultHost
	}
	if o.LeafNode.ReconnectInterval == 0 {
		o.LeafNode.ReconnectInterval = DefaultLeafReconnect
	}
	if o.LeafNode.DialTimeout == 0 {
		o.LeafNode.DialTimeout = DefaultLeafDial
	}
	for _, r := range o.LeafNode.Remotes {
		if r.LocalAccount == "" {
			r.LocalAccount = GlobalAccount
		}
		if r.FirstInfoTimeout == 0 {
			r.FirstInfoTimeout = DefaultLeafFirstInfo
		}
		r.tlsFromURLs()
	}
	if o.LameDuckDuration == 0 {
		o.LameDuckDuration = DefaultLameDuck
	}
	if o.LameDuckGracePeriod == 0 {
		o.LameDuckGracePeriod = DefaultLameDuckGrace
	}
	if o.Loops <= 0 {
		o.Loops = DefaultLoops()
	}
}
