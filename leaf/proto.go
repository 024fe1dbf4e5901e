package leaf

import (
	"errors"
	"strconv"
	"strings"

	"github.com/nats-io/nuid"
)

// Connect is the CONNECT a leaf sends to its hub.
type Connect struct {
	Version       string   `json:"version,omitempty"`
	Nkey          string   `json:"nkey,omitempty"`
	JWT           string   `json:"jwt,omitempty"`
	Sig           string   `json:"sig,omitempty"`
	User          string   `json:"user,omitempty"`
	Pass          string   `json:"pass,omitempty"`
	Token         string   `json:"auth_token,omitempty"`
	ServerID      string   `json:"server_id,omitempty"`
	Name          string   `json:"name,omitempty"`
	Hub           bool     `json:"is_hub,omitempty"`
	Cluster       string   `json:"cluster,omitempty"`
	Headers       bool     `json:"headers,omitempty"`
	DenyPub       []string `json:"deny_pub,omitempty"`
	Isolate       bool     `json:"isolate,omitempty"`
	Compression   string   `json:"compress_mode,omitempty"`
	RemoteAccount string   `json:"remote_account,omitempty"`
	Proto         int      `json:"protocol,omitempty"`

	// Present only when the peer is not a leaf: a client (lang) or a
	// gateway that dialled the leafnode port by mistake.
	Lang    string `json:"lang,omitempty"`
	Gateway string `json:"gateway,omitempty"`
}

// Proto is the leaf protocol level Canopy speaks: 1, no message tracing.
const Proto = 1

// The prefixes that leaf permission checks never apply to.
const (
	LDSPrefix     = "$LDS."
	GWReplyPrefix = "_GR_."
	OldGWPrefix   = "$GR."
)

// NewLDS returns a fresh loop-detection subject, $LDS.<nuid>.
func NewLDS() string { return LDSPrefix + nuid.Next() }

// Exempt reports whether a subject bypasses leaf permission filters:
// loop detection and gateway reply subjects.
func Exempt(subject string) bool {
	return strings.HasPrefix(subject, LDSPrefix) || strings.HasPrefix(subject, GWReplyPrefix) ||
		strings.HasPrefix(subject, OldGWPrefix)
}

// Errors found in a link's handshake.
var (
	ErrWrongPort      = errors.New("leaf: attempted to connect to wrong port")
	ErrClusterSpaces  = errors.New("leaf: cluster name cannot contain spaces")
	ErrClusterReserve = errors.New("leaf: cluster name is reserved")
)

// CheckHubInfo validates the first INFO a hub sends: a client or route port
// answers with an INFO that lacks client_id or the leaf markers.
func CheckHubInfo(inf *Info) error {
	if inf.ClientID == 0 || (len(inf.LeafNodeURLs) == 0 && !inf.InfoOnConnect) {
		return ErrWrongPort
	}
	return CheckCluster(inf.Cluster)
}

// CheckCluster validates a peer's cluster name.
func CheckCluster(name string) error {
	switch {
	case strings.ContainsAny(name, " \t\r\n"):
		return ErrClusterSpaces
	case name == "_":
		return ErrClusterReserve
	}
	return nil
}

// AppendSub appends "LS+ subject[ queue weight]\r\n".
func AppendSub(b []byte, subject, queue string, weight int32) []byte {
	b = append(b, "LS+ "...)
	b = append(b, subject...)
	if queue != "" {
		b = append(b, ' ')
		b = append(b, queue...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(weight), 10)
	}
	return append(b, '\r', '\n')
}

// AppendUnsub appends "LS- subject[ queue]\r\n".
func AppendUnsub(b []byte, subject, queue string) []byte {
	b = append(b, "LS- "...)
	b = append(b, subject...)
	if queue != "" {
		b = append(b, ' ')
		b = append(b, queue...)
	}
	return append(b, '\r', '\n')
}
