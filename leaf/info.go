package leaf

// Info is the INFO document of nats-server's protocol, one type for every
// kind of connection Canopy serves or dials: a client's INFO on connect and
// after CONNECT, the hub's INFO on its leafnode port and its connect-info
// answer, lame duck and compression INFOs, and the hub INFO a remote reads.
// Field names and order are nats-server's (server.go Info), so the JSON on
// the wire is byte for byte the same shape; fields Canopy never sets
// (JetStream, gateways, routes) are left out.
type Info struct {
	ServerID      string      `json:"server_id"`
	ServerName    string      `json:"server_name"`
	Version       string      `json:"version"`
	Proto         int         `json:"proto"`
	Go            string      `json:"go"`
	Host          string      `json:"host"`
	Port          int         `json:"port"`
	Headers       bool        `json:"headers"`
	AuthRequired  bool        `json:"auth_required,omitempty"`
	TLSRequired   bool        `json:"tls_required,omitempty"`
	TLSVerify     bool        `json:"tls_verify,omitempty"`
	TLSAvailable  bool        `json:"tls_available,omitempty"`
	MaxPayload    int32       `json:"max_payload"`
	IP            string      `json:"ip,omitempty"`
	ClientID      uint64      `json:"client_id,omitempty"`
	ClientIP      string      `json:"client_ip,omitempty"`
	Nonce         string      `json:"nonce,omitempty"`
	Cluster       string      `json:"cluster,omitempty"`
	LDM           bool        `json:"ldm,omitempty"`
	Compression   string      `json:"compression,omitempty"`
	ConnectInfo   bool        `json:"connect_info,omitempty"`
	RemoteAccount string      `json:"remote_account,omitempty"`
	AccIsSys      bool        `json:"acc_is_sys,omitempty"`
	APILevel      int         `json:"api_lvl,omitempty"`
	Import        *Permission `json:"import,omitempty"`
	Export        *Permission `json:"export,omitempty"`
	InfoOnConnect bool        `json:"info_on_connect,omitempty"`
	LeafNodeURLs  []string    `json:"leafnode_urls,omitempty"`
}

// APILevel is the JetStream API level nats-server v2.15.2 announces in
// every INFO, JetStream enabled or not (jetstream_versioning.go). Canopy
// runs no JetStream but carries a JetStream system's API across its links,
// and clients read the level to choose which API features to use.
const APILevel = 5

// Permission is an allow and a deny list as INFO carries them.
type Permission struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}
