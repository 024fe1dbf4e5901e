package monitor

import (
	"encoding/json"
	"net/http"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	natsconf "github.com/nats-io/nats-server/v2/conf"

	"github.com/canopy-nats/canopy/loop"
)

// The documents of the system account's services ($SYS.REQ.SERVER.* and
// $SYS.REQ.ACCOUNT.*): the loop package answers the requests and asks the
// monitor, through loop.Reporter, for the same documents the HTTP
// endpoints serve. The monitor registers itself in New; loop cannot import
// this package, which imports loop.

// Report implements loop.Reporter. It runs on the server's system
// goroutine.
func (m *Monitor) Report(kind, acc string, opts []byte) (any, error) {
	switch kind {
	case "STATSZ":
		return m.Statsz(), nil
	case "VARZ":
		return m.Varz(), nil
	case "CONNZ", "ACCOUNT.CONNZ":
		var o connzReq
		if err := decodeOpts(opts, &o); err != nil {
			return nil, err
		}
		co := &ConnzOptions{Sort: o.Sort, Auth: o.Auth, Subs: o.Subs, SubsDetail: o.SubsDetail,
			Offset: o.Offset, Limit: o.Limit, CID: o.CID, State: connState(o.State), User: o.User, Account: o.Account}
		if acc != "" {
			co.Account = acc
		}
		return m.Connz(co)
	case "SUBSZ", "ACCOUNT.SUBSZ":
		var o subszReq
		if err := decodeOpts(opts, &o); err != nil {
			return nil, err
		}
		if acc != "" {
			o.Account, o.Subs = acc, true
		}
		return m.Subsz(o.Subs, o.Offset, o.Limit, o.Account, o.Test)
	case "LEAFZ", "ACCOUNT.LEAFZ":
		var o leafzReq
		if err := decodeOpts(opts, &o); err != nil {
			return nil, err
		}
		if acc != "" {
			o.Account = acc
		}
		return m.Leafz(o.Subs, o.Account)
	case "ACCOUNTZ":
		var o accountzReq
		if err := decodeOpts(opts, &o); err != nil {
			return nil, err
		}
		return m.Accountz(o.Account)
	case "ACCOUNT.INFO":
		az, err := m.Accountz(acc)
		if err != nil {
			return nil, err
		}
		return az.Account, nil
	case "ACCOUNT.CONNS":
		// This one follows every connect and disconnect, so it reads
		// only the account's counters, never the connections: a storm
		// of connections must not cost a pass over all of them each.
		as, ok := m.srv.Account(acc)
		if !ok {
			return nil, loop.ErrSkip
		}
		return accountStat(&as), nil
	case "ACCOUNT.STATZ":
		var o accStatzReq
		if err := decodeOpts(opts, &o); err != nil {
			return nil, err
		}
		if acc != "" {
			o.Accounts = []string{acc}
		}
		sz, err := m.AccountStatz(o.Accounts, o.IncludeUnused)
		if err != nil {
			return nil, err
		}
		if len(sz.Accounts) == 0 && !o.IncludeUnused {
			return nil, loop.ErrSkip
		}
		return sz, nil
	case "HEALTHZ":
		hs := m.Healthz()
		return hs, nil
	case "ROUTEZ":
		return &Routez{ID: m.srv.ID(), Name: m.srv.Name(), Now: time.Now().UTC(), Routes: []struct{}{}}, nil
	case "GATEWAYZ":
		return &Gatewayz{ID: m.srv.ID(), Now: time.Now().UTC(),
			OutboundGateways: map[string]any{}, InboundGateways: map[string]any{}}, nil
	case "JSZ":
		return &Jsz{ID: m.srv.ID(), Now: time.Now().UTC(), Disabled: true}, nil
	}
	return nil, loop.ErrSkip
}

// decodeOpts reads a request's endpoint options; an empty payload is no
// options.
func decodeOpts(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// The endpoint options as nats-server's *EventOptions carry them in JSON.
type connzReq struct {
	Sort       string `json:"sort"`
	Auth       bool   `json:"auth"`
	Subs       bool   `json:"subscriptions"`
	SubsDetail bool   `json:"subscriptions_detail"`
	Offset     int    `json:"offset"`
	Limit      int    `json:"limit"`
	CID        uint64 `json:"cid"`
	State      int    `json:"state"`
	User       string `json:"user"`
	Account    string `json:"acc"`
}

type subszReq struct {
	Offset  int    `json:"offset"`
	Limit   int    `json:"limit"`
	Subs    bool   `json:"subscriptions"`
	Account string `json:"account"`
	Test    string `json:"test"`
}

type leafzReq struct {
	Subs    bool   `json:"subscriptions"`
	Account string `json:"account"`
}

type accountzReq struct {
	Account string `json:"account"`
}

type accStatzReq struct {
	Accounts      []string `json:"accounts"`
	IncludeUnused bool     `json:"include_unused"`
}

// Statsz is the "statsz" of a STATSZ message, nats-server's ServerStats.
type Statsz struct {
	Start                time.Time  `json:"start"`
	Mem                  int64      `json:"mem"`
	Cores                int        `json:"cores"`
	CPU                  float64    `json:"cpu"`
	Connections          int        `json:"connections"`
	TotalConnections     uint64     `json:"total_connections"`
	ActiveAccounts       int        `json:"active_accounts"`
	NumSubs              uint32     `json:"subscriptions"`
	Sent                 DataStats  `json:"sent"`
	SentToClients        DataStats  `json:"sent_to_clients"`
	Received             DataStats  `json:"received"`
	ReceivedFromClients  DataStats  `json:"received_from_clients"`
	SlowConsumers        int64      `json:"slow_consumers"`
	SlowConsumersStats   *KindStats `json:"slow_consumer_stats,omitempty"`
	StaleConnections     int64      `json:"stale_connections,omitempty"`
	StaleConnectionStats *KindStats `json:"stale_connection_stats,omitempty"`
	ActiveServers        int        `json:"active_servers,omitempty"`
	MemLimit             int64      `json:"gomemlimit,omitempty"`
	MaxProcs             int        `json:"gomaxprocs,omitempty"`
	// Canopy's identity, as in /varz.
	ServerSoftware string `json:"server_software"`
	CanopyVersion  string `json:"canopy_version"`
}

// MsgBytes is a message and byte count.
type MsgBytes struct {
	Msgs  int64 `json:"msgs"`
	Bytes int64 `json:"bytes"`
}

// DataStats are messages and bytes sent or received.
type DataStats struct {
	MsgBytes
	Gateways *MsgBytes `json:"gateways,omitempty"`
	Routes   *MsgBytes `json:"routes,omitempty"`
	Leafs    *MsgBytes `json:"leafs,omitempty"`
}

// Statsz builds a STATSZ message's statistics.
func (m *Monitor) Statsz() *Statsz {
	st := m.srv.Stats()
	cpu, mem := m.cpu.sample(time.Now())
	sz := &Statsz{
		Start:               st.Start.UTC(),
		Mem:                 mem,
		Cores:               runtime.NumCPU(),
		CPU:                 cpu,
		Connections:         st.Connections,
		TotalConnections:    st.TotalConnections,
		NumSubs:             st.Subscriptions,
		Sent:                DataStats{MsgBytes: MsgBytes{st.OutMsgs, st.OutBytes}},
		SentToClients:       DataStats{MsgBytes: MsgBytes{st.OutClientMsgs, st.OutClientBytes}},
		Received:            DataStats{MsgBytes: MsgBytes{st.InMsgs, st.InBytes}},
		ReceivedFromClients: DataStats{MsgBytes: MsgBytes{st.InClientMsgs, st.InClientBytes}},
		SlowConsumers:       st.SlowConsumers,
		StaleConnections:    int64(st.StaleClients + st.StaleLeafs),
		MaxProcs:            runtime.GOMAXPROCS(0),
		ActiveServers:       1,
		ServerSoftware:      ServerSoftware,
		CanopyVersion:       loop.Version,
	}
	if st.SlowClients+st.SlowLeafs > 0 {
		sz.SlowConsumersStats = &KindStats{Clients: st.SlowClients, Leafs: st.SlowLeafs}
	}
	if sz.StaleConnections > 0 {
		sz.StaleConnectionStats = &KindStats{Clients: st.StaleClients, Leafs: st.StaleLeafs}
	}
	if ml := debug.SetMemoryLimit(-1); ml < 1<<63-1 {
		sz.MemLimit = ml
	}
	for _, name := range m.srv.AccountNames() {
		if as, ok := m.srv.Account(name); ok && as.Clients+as.Leafs > 0 {
			sz.ActiveAccounts++
		}
	}
	return sz
}

// AccountStat is one account's figures, nats-server's AccountStat.
type AccountStat struct {
	Account       string    `json:"acc"`
	Name          string    `json:"name"`
	Conns         int       `json:"conns"`
	LeafNodes     int       `json:"leafnodes"`
	TotalConns    int       `json:"total_conns"`
	NumSubs       uint32    `json:"num_subscriptions"`
	Sent          DataStats `json:"sent"`
	Received      DataStats `json:"received"`
	SlowConsumers int64     `json:"slow_consumers"`
}

// AccountStatz is /accstatz and the STATZ answers.
type AccountStatz struct {
	ID       string         `json:"server_id"`
	Now      time.Time      `json:"now"`
	Accounts []*AccountStat `json:"account_statz"`
}

// AccountStatz gathers the figures of the named accounts (all when none
// is named); an account without connections is left out unless unused.
func (m *Monitor) AccountStatz(names []string, unused bool) (*AccountStatz, error) {
	if len(names) == 0 {
		names = m.srv.AccountNames()
	}
	sz := &AccountStatz{ID: m.srv.ID(), Now: time.Now().UTC(), Accounts: []*AccountStat{}}
	for _, name := range names {
		as, ok := m.srv.Account(name)
		if !ok || (!unused && as.Clients+as.Leafs == 0) {
			continue
		}
		sz.Accounts = append(sz.Accounts, accountStat(&as))
	}
	sort.Slice(sz.Accounts, func(i, j int) bool { return sz.Accounts[i].Account < sz.Accounts[j].Account })
	return sz, nil
}

// accountStat is an account's figures as nats-server's statz has them:
// what the server received from the account's connections and sent in
// it, broken down by connection kind (Canopy has no gateways nor routes).
func accountStat(as *loop.AccountStats) *AccountStat {
	t := &as.Traffic
	return &AccountStat{Account: as.Name, Name: as.NameTag, Conns: as.Clients, LeafNodes: as.Leafs,
		TotalConns: as.Clients + as.Leafs, NumSubs: as.NumSubs,
		Received: DataStats{MsgBytes: MsgBytes{t.InMsgs, t.InBytes},
			Gateways: &MsgBytes{}, Routes: &MsgBytes{}, Leafs: &MsgBytes{t.LeafInMsgs, t.LeafInBytes}},
		Sent: DataStats{MsgBytes: MsgBytes{t.OutMsgs, t.OutBytes},
			Gateways: &MsgBytes{}, Routes: &MsgBytes{}, Leafs: &MsgBytes{t.LeafOutMsgs, t.LeafOutBytes}},
		SlowConsumers: t.SlowConsumers,
	}
}

// Gatewayz is /gatewayz of a server without gateways.
type Gatewayz struct {
	ID               string         `json:"server_id"`
	Now              time.Time      `json:"now"`
	OutboundGateways map[string]any `json:"outbound_gateways"`
	InboundGateways  map[string]any `json:"inbound_gateways"`
}

// Jsz is /jsz of a server without JetStream: nats-server's shape, all
// zeros.
type Jsz struct {
	Memory          uint64    `json:"memory"`
	Storage         uint64    `json:"storage"`
	ReservedMemory  uint64    `json:"reserved_memory"`
	ReservedStorage uint64    `json:"reserved_storage"`
	Accounts        int       `json:"accounts"`
	HAAssets        int       `json:"ha_assets"`
	API             JszAPI    `json:"api"`
	ID              string    `json:"server_id"`
	Now             time.Time `json:"now"`
	Disabled        bool      `json:"disabled,omitempty"`
	Config          JszConfig `json:"config"`
	Streams         int       `json:"streams"`
	Consumers       int       `json:"consumers"`
	Messages        uint64    `json:"messages"`
	Bytes           uint64    `json:"bytes"`
	Total           int       `json:"total"`
}

// JszAPI is /jsz's API usage.
type JszAPI struct {
	Level  int    `json:"level"`
	Total  uint64 `json:"total"`
	Errors uint64 `json:"errors"`
}

// JszConfig is /jsz's JetStream configuration.
type JszConfig struct {
	MaxMemory  int64 `json:"max_memory"`
	MaxStorage int64 `json:"max_storage"`
}

// ServerSoftware is what /varz and STATSZ say the server is.
const ServerSoftware = "canopy"

// nats-server's endpoints that Canopy answers in the shape of a server
// without the feature, so tools that poll them get no 404.
const (
	AccStatzPath = "/accstatz"
	JszPath      = "/jsz"
	GatewayzPath = "/gatewayz"
	IPQueuesPath = "/ipqueuesz"
	RaftzPath    = "/raftz"
	ExpvarzPath  = "/debug/vars"
)

// handleIPQueuesz answers /ipqueuesz: nats-server's internal queues by
// name. Canopy has none of them (its loops hand batches over, see
// loop/worker.go), so the answer is the empty object nats-server gives
// when no queue holds anything.
func (m *Monitor) handleIPQueuesz(w http.ResponseWriter, r *http.Request) {
	if _, ok := decodeBool(w, r, "all"); !ok {
		return
	}
	b, _ := json.MarshalIndent(map[string]any{}, "", "   ")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(b)
}

// handleRaftz answers /raftz as nats-server without JetStream does: no
// Raft group exists.
func (m *Monitor) handleRaftz(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte("No Raft nodes registered"))
}

func (m *Monitor) handleJsz(w http.ResponseWriter, _ *http.Request) {
	m.count(JszPath)
	d, _ := m.Report("JSZ", "", nil)
	respond(w, http.StatusOK, d, true)
}

func (m *Monitor) handleGatewayz(w http.ResponseWriter, _ *http.Request) {
	m.count(GatewayzPath)
	d, _ := m.Report("GATEWAYZ", "", nil)
	respond(w, http.StatusOK, d, true)
}

func (m *Monitor) handleAccStatz(w http.ResponseWriter, r *http.Request) {
	unused, ok := decodeBool(w, r, "unused")
	if !ok {
		return
	}
	// As nats-server's, the endpoint lists every account (it takes no
	// account filter; the STATZ requests do).
	m.count(AccStatzPath)
	sz, err := m.AccountStatz(nil, unused)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	respond(w, http.StatusOK, sz, true)
}

// digestCache keeps the configuration's digest for the load it was
// computed for: /varz's config_digest, which natscli shows.
type digestCache struct {
	mu     sync.Mutex
	loaded time.Time
	digest string
}

// configDigest is nats-server's digest of the configuration file as
// loaded (its conf package computes it from the parsed file), or "" when
// the server runs without one.
func (m *Monitor) configDigest(path string, loaded time.Time) string {
	if path == "" {
		return ""
	}
	d := &m.digest
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.loaded.Equal(loaded) || d.digest == "" {
		if _, digest, err := natsconf.ParseFileWithChecksDigest(path); err == nil {
			d.digest, d.loaded = digest, loaded
		}
	}
	return d.digest
}
