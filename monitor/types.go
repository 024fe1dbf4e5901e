package monitor

import "time"

// The documents below are nats-server v2.15.2's monitoring JSON: the same
// field names, types and omitempty rules, so the tools built for it
// (curl scripts, the Prometheus NATS exporter, Grafana dashboards) read
// Canopy unchanged. Fields for features Canopy does not have (routes,
// gateways, JetStream, TLS, MQTT, websockets) are kept where nats-server
// always emits them, with the values a nats-server without those features
// shows.

// Varz is /varz.
type Varz struct {
	ID                   string            `json:"server_id"`
	Name                 string            `json:"server_name"`
	Version              string            `json:"version"`
	Proto                int               `json:"proto"`
	GoVersion            string            `json:"go"`
	Host                 string            `json:"host"`
	Port                 int               `json:"port"`
	AuthRequired         bool              `json:"auth_required,omitempty"`
	TLSRequired          bool              `json:"tls_required,omitempty"`
	TLSVerify            bool              `json:"tls_verify,omitempty"`
	MaxConn              int               `json:"max_connections"`
	MaxSubs              int               `json:"max_subscriptions,omitempty"`
	PingInterval         time.Duration     `json:"ping_interval"`
	MaxPingsOut          int               `json:"ping_max"`
	HTTPHost             string            `json:"http_host"`
	HTTPPort             int               `json:"http_port"`
	HTTPBasePath         string            `json:"http_base_path"`
	HTTPSPort            int               `json:"https_port"`
	AuthTimeout          float64           `json:"auth_timeout"`
	MaxControlLine       int32             `json:"max_control_line"`
	MaxPayload           int               `json:"max_payload"`
	MaxPending           int64             `json:"max_pending"`
	Cluster              struct{}          `json:"cluster"`
	Gateway              struct{}          `json:"gateway"`
	LeafNode             LeafNodeOptsVarz  `json:"leaf"`
	MQTT                 struct{}          `json:"mqtt"`
	Websocket            WebsocketOptsVarz `json:"websocket"`
	JetStream            struct{}          `json:"jetstream"`
	TLSTimeout           float64           `json:"tls_timeout"`
	WriteDeadline        time.Duration     `json:"write_deadline"`
	Start                time.Time         `json:"start"`
	Now                  time.Time         `json:"now"`
	Uptime               string            `json:"uptime"`
	Mem                  int64             `json:"mem"`
	Cores                int               `json:"cores"`
	MaxProcs             int               `json:"gomaxprocs"`
	MemLimit             int64             `json:"gomemlimit,omitempty"`
	CPU                  float64           `json:"cpu"`
	Connections          int               `json:"connections"`
	TotalConnections     uint64            `json:"total_connections"`
	Routes               int               `json:"routes"`
	Remotes              int               `json:"remotes"`
	Leafs                int               `json:"leafnodes"`
	InMsgs               int64             `json:"in_msgs"`
	InBytes              int64             `json:"in_bytes"`
	InClientMsgs         int64             `json:"in_client_msgs"`
	InClientBytes        int64             `json:"in_client_bytes"`
	OutMsgs              int64             `json:"out_msgs"`
	OutBytes             int64             `json:"out_bytes"`
	OutClientMsgs        int64             `json:"out_client_msgs"`
	OutClientBytes       int64             `json:"out_client_bytes"`
	SlowConsumers        int64             `json:"slow_consumers"`
	StaleConnections     int64             `json:"stale_connections"`
	StalledClients       int64             `json:"stalled_clients"`
	Subscriptions        uint32            `json:"subscriptions"`
	HTTPReqStats         map[string]uint64 `json:"http_req_stats"`
	ConfigLoadTime       time.Time         `json:"config_load_time"`
	ConfigDigest         string            `json:"config_digest"`
	SystemAccount        string            `json:"system_account,omitempty"`
	FeatureFlags         map[string]bool   `json:"feature_flags,omitempty"`
	SlowConsumersStats   *KindStats        `json:"slow_consumer_stats"`
	StaleConnectionStats *KindStats        `json:"stale_connection_stats,omitempty"`
	DiskIOWaitStats      *DiskIOWaitStats  `json:"disk_io_wait_stats"`
	// ServerSoftware and CanopyVersion are Canopy's own, added to
	// nats-server's keys: "version" stays the protocol's for the tools
	// that gate features on it, these say which server it really is.
	ServerSoftware string `json:"server_software"`
	CanopyVersion  string `json:"canopy_version"`
}

// WebsocketOptsVarz is /varz's "websocket": the websocket listener.
type WebsocketOptsVarz struct {
	Host             string        `json:"host,omitempty"`
	Port             int           `json:"port,omitempty"`
	Advertise        string        `json:"advertise,omitempty"`
	NoAuthUser       string        `json:"no_auth_user,omitempty"`
	JWTCookie        string        `json:"jwt_cookie,omitempty"`
	HandshakeTimeout time.Duration `json:"handshake_timeout,omitempty"`
	AuthTimeout      float64       `json:"auth_timeout,omitempty"`
	NoTLS            bool          `json:"no_tls,omitempty"`
	SameOrigin       bool          `json:"same_origin,omitempty"`
	AllowedOrigins   []string      `json:"allowed_origins,omitempty"`
	Compression      bool          `json:"compression,omitempty"`
}

// LeafNodeOptsVarz is /varz's "leaf": the leafnode listener and remotes.
type LeafNodeOptsVarz struct {
	Host        string               `json:"host,omitempty"`
	Port        int                  `json:"port,omitempty"`
	AuthTimeout float64              `json:"auth_timeout,omitempty"`
	TLSTimeout  float64              `json:"tls_timeout,omitempty"`
	TLSRequired bool                 `json:"tls_required,omitempty"`
	TLSVerify   bool                 `json:"tls_verify,omitempty"`
	Remotes     []RemoteLeafOptsVarz `json:"remotes,omitempty"`
}

// RemoteLeafOptsVarz is one configured leaf remote.
type RemoteLeafOptsVarz struct {
	LocalAccount string     `json:"local_account,omitempty"`
	URLs         []string   `json:"urls,omitempty"`
	Deny         *DenyRules `json:"deny,omitempty"`
}

// DenyRules are a remote's deny_imports and deny_exports.
type DenyRules struct {
	Exports []string `json:"exports,omitempty"`
	Imports []string `json:"imports,omitempty"`
}

// KindStats counts slow consumers or stale connections by connection kind.
type KindStats struct {
	Clients  uint64 `json:"clients"`
	Routes   uint64 `json:"routes"`
	Gateways uint64 `json:"gateways"`
	Leafs    uint64 `json:"leafs"`
}

// DiskIOWaitStats is nats-server's filestore semaphore contention; Canopy
// has no filestore, so it is all zeros.
type DiskIOWaitStats struct {
	Waiters     int64  `json:"waiters"`
	Waits       uint64 `json:"waits"`
	WaitTime    uint64 `json:"wait_time"`
	MaxWaitTime uint64 `json:"max_wait_time"`
}

// Connz is /connz.
type Connz struct {
	ID       string      `json:"server_id"`
	Now      time.Time   `json:"now"`
	NumConns int         `json:"num_connections"`
	Total    int         `json:"total"`
	Offset   int         `json:"offset"`
	Limit    int         `json:"limit"`
	Conns    []*ConnInfo `json:"connections"`
}

// ConnInfo is one connection in /connz.
type ConnInfo struct {
	Cid            uint64         `json:"cid"`
	Kind           string         `json:"kind,omitempty"`
	Type           string         `json:"type,omitempty"`
	IP             string         `json:"ip"`
	Port           int            `json:"port"`
	Start          time.Time      `json:"start"`
	LastActivity   time.Time      `json:"last_activity"`
	Stop           *time.Time     `json:"stop,omitempty"`
	Reason         string         `json:"reason,omitempty"`
	RTT            string         `json:"rtt,omitempty"`
	Uptime         string         `json:"uptime"`
	Idle           string         `json:"idle"`
	Pending        int            `json:"pending_bytes"`
	InMsgs         int64          `json:"in_msgs"`
	OutMsgs        int64          `json:"out_msgs"`
	InBytes        int64          `json:"in_bytes"`
	OutBytes       int64          `json:"out_bytes"`
	NumSubs        uint32         `json:"subscriptions"`
	Name           string         `json:"name,omitempty"`
	Lang           string         `json:"lang,omitempty"`
	Version        string         `json:"version,omitempty"`
	TLSVersion     string         `json:"tls_version,omitempty"`
	TLSCipher      string         `json:"tls_cipher_suite,omitempty"`
	TLSPeerCerts   []*TLSPeerCert `json:"tls_peer_certs,omitempty"`
	TLSFirst       bool           `json:"tls_first,omitempty"`
	AuthorizedUser string         `json:"authorized_user,omitempty"`
	Account        string         `json:"account,omitempty"`
	Subs           []string       `json:"subscriptions_list,omitempty"`
	SubsDetail     []SubDetail    `json:"subscriptions_list_detail,omitempty"`
	NameTag        string         `json:"name_tag,omitempty"`

	rtt time.Duration // for sorting
}

// TLSPeerCert is one certificate the peer presented, in /connz with auth.
type TLSPeerCert struct {
	Subject          string `json:"subject,omitempty"`
	SubjectPKISha256 string `json:"spki_sha256,omitempty"`
	CertSha256       string `json:"cert_sha256,omitempty"`
}

// SubDetail is one subscription in /connz and /subsz.
type SubDetail struct {
	Account    string `json:"account,omitempty"`
	AccountTag string `json:"account_tag,omitempty"`
	Subject    string `json:"subject"`
	Queue      string `json:"qgroup,omitempty"`
	Sid        string `json:"sid"`
	Msgs       int64  `json:"msgs"`
	Max        int64  `json:"max,omitempty"`
	Cid        uint64 `json:"cid"`
}

// Leafz is /leafz.
type Leafz struct {
	ID       string      `json:"server_id"`
	Now      time.Time   `json:"now"`
	NumLeafs int         `json:"leafnodes"`
	Leafs    []*LeafInfo `json:"leafs"`
}

// LeafInfo is one leaf link in /leafz.
type LeafInfo struct {
	ID          uint64   `json:"id"`
	Name        string   `json:"name"`
	IsSpoke     bool     `json:"is_spoke"`
	IsIsolated  bool     `json:"is_isolated,omitempty"`
	Account     string   `json:"account"`
	IP          string   `json:"ip"`
	Port        int      `json:"port"`
	RTT         string   `json:"rtt,omitempty"`
	InMsgs      int64    `json:"in_msgs"`
	OutMsgs     int64    `json:"out_msgs"`
	InBytes     int64    `json:"in_bytes"`
	OutBytes    int64    `json:"out_bytes"`
	NumSubs     uint32   `json:"subscriptions"`
	Subs        []string `json:"subscriptions_list,omitempty"`
	Compression string   `json:"compression,omitempty"`
}

// SublistStats are a subject index's figures, added up over accounts.
type SublistStats struct {
	NumSubs      uint32  `json:"num_subscriptions"`
	NumCache     uint32  `json:"num_cache"`
	NumInserts   uint64  `json:"num_inserts"`
	NumRemoves   uint64  `json:"num_removes"`
	NumMatches   uint64  `json:"num_matches"`
	CacheHitRate float64 `json:"cache_hit_rate"`
	MaxFanout    uint32  `json:"max_fanout"`
	AvgFanout    float64 `json:"avg_fanout"`
}

// Subsz is /subsz.
type Subsz struct {
	ID  string    `json:"server_id"`
	Now time.Time `json:"now"`
	*SublistStats
	Total  int         `json:"total"`
	Offset int         `json:"offset"`
	Limit  int         `json:"limit"`
	Subs   []SubDetail `json:"subscriptions_list,omitempty"`
}

// Routez is /routez: Canopy has no routes.
type Routez struct {
	ID        string     `json:"server_id"`
	Name      string     `json:"server_name"`
	Now       time.Time  `json:"now"`
	NumRoutes int        `json:"num_routes"`
	Routes    []struct{} `json:"routes"`
}

// Accountz is /accountz.
type Accountz struct {
	ID            string       `json:"server_id"`
	Now           time.Time    `json:"now"`
	SystemAccount string       `json:"system_account,omitempty"`
	Accounts      []string     `json:"accounts,omitempty"`
	Account       *AccountInfo `json:"account_detail,omitempty"`
}

// AccountInfo is /accountz?acc=NAME.
type AccountInfo struct {
	AccountName string        `json:"account_name"`
	LastUpdate  time.Time     `json:"update_time,omitempty"`
	IsSystem    bool          `json:"is_system,omitempty"`
	Expired     bool          `json:"expired"`
	Complete    bool          `json:"complete"`
	JetStream   bool          `json:"jetstream_enabled"`
	LeafCnt     int           `json:"leafnode_connections"`
	ClientCnt   int           `json:"client_connections"`
	SubCnt      uint32        `json:"subscriptions"`
	Exports     []ExtExport   `json:"exports,omitempty"`
	Imports     []ExtImport   `json:"imports,omitempty"`
	NameTag     string        `json:"name_tag,omitempty"`
	Sublist     *SublistStats `json:"sublist_stats,omitempty"`
}

// ExtExport is one export of an account.
type ExtExport struct {
	Subject              string   `json:"subject,omitempty"`
	Type                 string   `json:"type,omitempty"`
	TokenReq             bool     `json:"token_req,omitempty"`
	ResponseType         string   `json:"response_type,omitempty"`
	AccountTokenPosition uint     `json:"account_token_position,omitempty"`
	ApprovedAccounts     []string `json:"approved_accounts,omitempty"`
}

// ExtImport is one import of an account.
type ExtImport struct {
	Subject      string `json:"subject,omitempty"`
	Account      string `json:"account,omitempty"`
	To           string `json:"to,omitempty"`
	LocalSubject string `json:"local_subject,omitempty"`
	Type         string `json:"type,omitempty"`
	Invalid      bool   `json:"invalid"`
	Share        bool   `json:"share"`
	Tracking     bool   `json:"tracking"`
}

// HealthStatus is /healthz.
type HealthStatus struct {
	Status     string `json:"status"`
	StatusCode int    `json:"status_code,omitempty"`
	Error      string `json:"error,omitempty"`
}
