package conf

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mustLoad loads a file that must be valid and have no warnings.
func mustLoad(t *testing.T, path string) *Options {
	t.Helper()
	o, warns, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	if len(warns) > 0 {
		t.Fatalf("Load(%s): unexpected warnings %v", path, warns)
	}
	return o
}

// mustParse parses a configuration that must be valid and have no
// warnings.
func mustParse(t *testing.T, data string) *Options {
	t.Helper()
	o, warns, err := Parse([]byte(data), "test.conf")
	if err != nil {
		t.Fatalf("Parse(%q): %v", data, err)
	}
	if len(warns) > 0 {
		t.Fatalf("Parse(%q): unexpected warnings %v", data, warns)
	}
	return o
}

// errorLines parses data and returns the lines of its error.
func errorLines(t *testing.T, data string) []string {
	t.Helper()
	o, _, err := Parse([]byte(data), "/tmp/x.conf")
	if err == nil {
		t.Fatalf("Parse(%q): no error", data)
	}
	if o != nil {
		t.Fatalf("Parse(%q): options returned with an error", data)
	}
	return strings.Split(err.Error(), "\n")
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSeedHubConfig(t *testing.T) {
	o := mustLoad(t, "testdata/seed_hub.conf")
	if o.Authorization.Token != "s3cr3t" {
		t.Errorf("token = %q, want s3cr3t", o.Authorization.Token)
	}
	if o.LeafNode.Port != 7422 || o.LeafNode.Host != DefaultHost {
		t.Errorf("leafnode listener = %s:%d, want 0.0.0.0:7422", o.LeafNode.Host, o.LeafNode.Port)
	}
	if o.Host != DefaultHost || o.Port != DefaultPort {
		t.Errorf("client listener = %s:%d, want defaults", o.Host, o.Port)
	}
	if o.ConfigFile != "testdata/seed_hub.conf" {
		t.Errorf("ConfigFile = %q", o.ConfigFile)
	}
}

func TestSeedLeafConfig(t *testing.T) {
	o := mustLoad(t, "testdata/seed_leaf.conf")
	if o.Host != "127.0.0.1" || o.Port != 4111 {
		t.Errorf("client listener = %s:%d, want 127.0.0.1:4111", o.Host, o.Port)
	}
	if o.LeafNode.Port != 0 {
		t.Errorf("leafnode port = %d, want no listener", o.LeafNode.Port)
	}
	if len(o.LeafNode.Remotes) != 1 {
		t.Fatalf("remotes = %d, want 1", len(o.LeafNode.Remotes))
	}
	r := o.LeafNode.Remotes[0]
	want := []*url.URL{mustURL(t, "nats-leaf://s3cr3t@localhost:7422")}
	if !reflect.DeepEqual(r.URLs, want) {
		t.Errorf("urls = %v, want %v", r.URLs, want)
	}
	if r.URLs[0].User.Username() != "s3cr3t" {
		t.Errorf("token lost from the url: %v", r.URLs[0])
	}
	if r.LocalAccount != GlobalAccount || r.FirstInfoTimeout != DefaultLeafFirstInfo {
		t.Errorf("remote defaults not applied: %+v", r)
	}
}

func TestSeedNGSLeafConfig(t *testing.T) {
	o := mustLoad(t, "testdata/seed_ngs_leaf.conf")
	r := o.LeafNode.Remotes[0]
	if got := r.URLs[0].String(); got != "nats-leaf://connect.ngs.global:7422" {
		t.Errorf("url = %s", got)
	}
	if r.Credentials != "/Users/alberto/.nkeys/creds/synadia/leaftest/leaftestuser.creds" {
		t.Errorf("credentials = %q", r.Credentials)
	}
}

func TestTokenAuthorization(t *testing.T) {
	o := mustParse(t, `authorization { token: "s3cr3t" }`)
	if o.Authorization.Token != "s3cr3t" || o.Authorization.Timeout != DefaultAuthTimeout {
		t.Errorf("authorization = %+v", o.Authorization)
	}
}

// TestFullConfig maps every supported key at once and compares the whole
// result, so that a key that is read but not stored shows up.
func TestFullConfig(t *testing.T) {
	o := mustLoad(t, "testdata/full.conf")
	public := &Permissions{
		Publish:   &SubjectPermission{Allow: []string{"public.>"}},
		Subscribe: &SubjectPermission{Allow: []string{"public.>", "_INBOX.>"}},
	}
	bPerms := &Permissions{Subscribe: &SubjectPermission{Allow: []string{"b.>"}}}
	want := &Options{
		ConfigFile: "testdata/full.conf",
		// The sha256 of the parsed values' JSON, as nats-server digests.
		ConfigDigest:    "sha256:3c5b794e7d55e2a9ad4cad88c9562576f884ebfd24f5ea4c5d61e2d23ff58ae5",
		ServerName:      "canopy-1",
		Host:            "127.0.0.1",
		Port:            4333,
		HTTPHost:        "127.0.0.1",
		HTTPPort:        8333,
		MaxConn:         100,
		MaxPayload:      2 << 20,
		MaxPending:      32 << 20,
		MaxControlLine:  8 << 10,
		MaxSubs:         1000,
		PingInterval:    30 * time.Second,
		MaxPingsOut:     3,
		WriteDeadline:   5 * time.Second,
		NoHeaderSupport: true,
		Debug:           true,
		Trace:           true,
		TraceVerbose:    true,
		Logtime:         false,
		NoLogtime:       true,
		LogFile:         "/tmp/canopy.log",
		Syslog:          true,
		RemoteSyslog:    "udp://127.0.0.1:514",
		PidFile:         "/tmp/canopy.pid",
		Authorization: Authorization{
			Timeout: 3 * time.Second,
			Users: []*User{
				{
					Username: "alice",
					Password: "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG",
					Permissions: &Permissions{
						Publish:   &SubjectPermission{Allow: []string{"orders.>"}, Deny: []string{"orders.secret"}},
						Subscribe: &SubjectPermission{Allow: []string{"updates.*", "jobs workers"}},
						Response:  &ResponsePermission{MaxMsgs: 5, Expires: time.Minute},
					},
				},
				{Username: "bob", Password: "pw", Permissions: public},
				{
					Nkey:                   "UBCVX7GX3G3KX34MQQ62NFUHW7OQV2RPOJNHNKSC5Z3HZZJXGMN6R33R",
					AllowedConnectionTypes: []string{"STANDARD", "LEAFNODE"},
					Permissions:            public,
				},
			},
			DefaultPermissions: public,
		},
		NoAuthUser: "bob",
		Accounts: []*Account{
			{Name: "SYS", Users: []*User{{Username: "sys", Password: "sys", Account: "SYS"}}},
			{
				Name:  "A",
				Users: []*User{{Username: "a1", Password: "p", Account: "A"}},
				Exports: []*Export{
					{Subject: "a.events.>"},
					{Subject: "a.help", Service: true, Accounts: []string{"B"}},
				},
				MaxConnections: 10,
				MaxSubs:        100,
				MaxPayload:     64 << 10,
				MaxLeafNodes:   2,
			},
			{
				Name:  "B",
				Users: []*User{{Username: "b1", Password: "p", Account: "B", Permissions: bPerms}},
				Imports: []*Import{
					{Account: "A", Subject: "a.events.>", Prefix: "from_a"},
					{Account: "A", Subject: "a.help", Service: true, To: "help"},
				},
			},
		},
		SystemAccount: "SYS",
		LeafNode: LeafNode{
			Host:        "0.0.0.0",
			Port:        7433,
			Advertise:   "leaf.example.com:7433",
			NoAdvertise: true,
			Users: []*User{
				{Username: "leaf1", Password: "lp1", Account: "A"},
				{Username: "leaf2", Password: "lp2"},
			},
			AuthTimeout:       4 * time.Second,
			ReconnectInterval: 2 * time.Second,
			DialTimeout:       3 * time.Second,
			Compression:       "s2_fast",
			MinVersion:        "2.10.0",
			Isolate:           true,
			Remotes: []*Remote{
				{
					URLs:             []*url.URL{mustURL(t, "nats-leaf://u:p@hub1:7422"), mustURL(t, "nats://hub2:7422")},
					Credentials:      "/etc/canopy/leaf.creds",
					LocalAccount:     "A",
					DenyImports:      []string{"private.>"},
					DenyExports:      []string{"secret.>"},
					Hub:              true,
					Compression:      "off",
					FirstInfoTimeout: 3 * time.Second,
					DialTimeout:      2 * time.Second,
					Isolate:          true,
					NoRandomize:      true,
					IgnoreDiscovered: true,
					RequestIsolation: true,
				},
				{
					URLs:             []*url.URL{mustURL(t, "nats-leaf://hub3:7500")},
					Seed:             "SUAD4JYZTU2RAEKJRH6FGG6ARFNKLT5FP5J4APZGPU5TXWQAREZ2JGWOQM",
					LocalAccount:     "B",
					FirstInfoTimeout: DefaultLeafFirstInfo,
					Disabled:         true,
				},
			},
		},
		LameDuckDuration:    45 * time.Second,
		LameDuckGracePeriod: 5 * time.Second,
		Loops:               2,
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("options differ")
		diffOptions(t, reflect.ValueOf(o).Elem(), reflect.ValueOf(want).Elem(), "Options")
	}
}

// diffOptions reports the paths where got and want differ.
func diffOptions(t *testing.T, got, want reflect.Value, path string) {
	t.Helper()
	if reflect.DeepEqual(got.Interface(), want.Interface()) {
		return
	}
	switch got.Kind() {
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			t.Errorf("%s: got %v, want %v", path, got, want)
			return
		}
		diffOptions(t, got.Elem(), want.Elem(), path)
	case reflect.Struct:
		if got.Type() == reflect.TypeFor[url.URL]() {
			t.Errorf("%s: got %v, want %v", path, got.Addr().Interface(), want.Addr().Interface())
			return
		}
		for i := range got.NumField() {
			diffOptions(t, got.Field(i), want.Field(i), path+"."+got.Type().Field(i).Name)
		}
	case reflect.Slice:
		if got.Len() != want.Len() {
			t.Errorf("%s: got %d elements, want %d: %v vs %v", path, got.Len(), want.Len(), got, want)
			return
		}
		for i := range got.Len() {
			diffOptions(t, got.Index(i), want.Index(i), path+"["+string(rune('0'+i))+"]")
		}
	default:
		t.Errorf("%s: got %#v, want %#v", path, got.Interface(), want.Interface())
	}
}

func TestDefaults(t *testing.T) {
	o := mustParse(t, "port: 4222")
	want := &Options{
		Host: DefaultHost, Port: DefaultPort, MaxConn: DefaultMaxConn,
		MaxPayload: DefaultMaxPayload, MaxPending: DefaultMaxPending,
		MaxControlLine: DefaultMaxControlLine, PingInterval: DefaultPingInterval,
		MaxPingsOut: DefaultPingMax, WriteDeadline: DefaultWriteDeadline, Logtime: true,
		Authorization: Authorization{Timeout: DefaultAuthTimeout},
		LeafNode: LeafNode{
			AuthTimeout: DefaultAuthTimeout, ReconnectInterval: DefaultLeafReconnect,
			DialTimeout: DefaultLeafDial,
		},
		LameDuckDuration: DefaultLameDuck, LameDuckGracePeriod: DefaultLameDuckGrace,
		Loops: DefaultLoops(),
	}
	if !reflect.DeepEqual(o, want) {
		diffOptions(t, reflect.ValueOf(o).Elem(), reflect.ValueOf(want).Elem(), "Options")
	}
}

// TestSyntax covers the separators, case-insensitive keys, comments and
// the other forms of nats-server's format.
func TestSyntax(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		check func(*Options) bool
	}{
		{"colon", "port: 4001", func(o *Options) bool { return o.Port == 4001 }},
		{"equals", "port = 4002", func(o *Options) bool { return o.Port == 4002 }},
		{"space", "port 4003", func(o *Options) bool { return o.Port == 4003 }},
		{"semicolon", "port: 4004; server_name: x;", func(o *Options) bool { return o.Port == 4004 && o.ServerName == "x" }},
		{"upper case key", "PORT: 4005", func(o *Options) bool { return o.Port == 4005 }},
		{"mixed case nested", "LeafNodes { Port: 7000 }", func(o *Options) bool { return o.LeafNode.Port == 7000 }},
		{"hash comment", "# comment\nport: 4006 # trailing", func(o *Options) bool { return o.Port == 4006 }},
		{"slash comment", "// comment\nport: 4007 // trailing", func(o *Options) bool { return o.Port == 4007 }},
		{"json", `{"port": 4008, "authorization": {"token": "t"}}`, func(o *Options) bool {
			return o.Port == 4008 && o.Authorization.Token == "t"
		}},
		{"block without separator", "authorization {\n token: t\n}", func(o *Options) bool { return o.Authorization.Token == "t" }},
		{"variable", "TOK: \"v4r\"\nauthorization { token: $TOK }", func(o *Options) bool { return o.Authorization.Token == "v4r" }},
		{"block variable", "auth_block { token: blk }\nauthorization: $auth_block", func(o *Options) bool {
			return o.Authorization.Token == "blk"
		}},
		{"bcrypt not a variable", "authorization { user: u, password: $2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG }", func(o *Options) bool {
			return o.Authorization.Password == "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"
		}},
		{"yes/on booleans", "debug: yes\ntrace: on", func(o *Options) bool { return o.Debug && o.Trace }},
		{"no/off booleans", "debug: no\nlogtime: off", func(o *Options) bool { return !o.Debug && !o.Logtime && o.NoLogtime }},
		{"listen port only", "listen: 4009", func(o *Options) bool { return o.Port == 4009 && o.Host == DefaultHost }},
		{"listen ipv6", `listen: "[::1]:4010"`, func(o *Options) bool { return o.Host == "::1" && o.Port == 4010 }},
		{"host and port", "host: 127.0.0.2\nport: 4011", func(o *Options) bool { return o.Host == "127.0.0.2" && o.Port == 4011 }},
		{"net alias", "net: 127.0.0.3", func(o *Options) bool { return o.Host == "127.0.0.3" }},
		{"random port", "port: -1", func(o *Options) bool { return o.Port == -1 }},
		{"http port only", "http: 8222", func(o *Options) bool { return o.HTTPPort == 8222 && o.HTTPHost == DefaultHost }},
		{"http_port", "http_port: 8223", func(o *Options) bool { return o.HTTPPort == 8223 }},
		{"monitor_port", "monitor_port: 8224", func(o *Options) bool { return o.HTTPPort == 8224 }},
		{"http host follows listen", "listen: 127.0.0.1:4222\nhttp_port: 8225", func(o *Options) bool {
			return o.HTTPHost == "127.0.0.1"
		}},
		{"leaf listener ignores client host", "listen: 127.0.0.1:4222\nleafnodes { port: 7422 }", func(o *Options) bool {
			return o.LeafNode.Host == DefaultHost
		}},
		{"max_conn alias", "max_conn: 7", func(o *Options) bool { return o.MaxConn == 7 }},
		{"max_connections 0 is unlimited", "max_connections: 0", func(o *Options) bool { return o.MaxConn < 0 }},
		{"max_subs alias", "max_subs: 9", func(o *Options) bool { return o.MaxSubs == 9 }},
		{"trace_verbose sets trace", "trace_verbose: true", func(o *Options) bool { return o.Trace && o.TraceVerbose }},
		{"logfile alias", "logfile: /tmp/l", func(o *Options) bool { return o.LogFile == "/tmp/l" }},
		{"pidfile alias", "pidfile: /tmp/p", func(o *Options) bool { return o.PidFile == "/tmp/p" }},
		{"system alias", "accounts: [S]\nsystem: S", func(o *Options) bool { return o.SystemAccount == "S" }},
		{"leaf alias", "leaf { port: 7001 }", func(o *Options) bool { return o.LeafNode.Port == 7001 }},
		{"loops zero means the default", "loops: 0", func(o *Options) bool { return o.Loops == DefaultLoops() }},
		{"last spelling wins", "host: 10.0.0.1\nnet: 10.0.0.2", func(o *Options) bool { return o.Host == "10.0.0.2" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if o := mustParse(t, tt.data); !tt.check(o) {
				t.Errorf("%q: unexpected options %+v", tt.data, o)
			}
		})
	}
}

func TestEnvironmentVariables(t *testing.T) {
	t.Setenv("CANOPY_TEST_PORT", "4555")
	t.Setenv("CANOPY_TEST_TOKEN", "from-env")
	o := mustParse(t, "port: $CANOPY_TEST_PORT\nauthorization { token: $CANOPY_TEST_TOKEN }")
	if o.Port != 4555 || o.Authorization.Token != "from-env" {
		t.Errorf("port %d token %q", o.Port, o.Authorization.Token)
	}
	_, _, err := Parse([]byte("port: $CANOPY_TEST_UNSET_VARIABLE"), "env.conf")
	if err == nil || !strings.Contains(err.Error(), "env.conf: variable reference for 'CANOPY_TEST_UNSET_VARIABLE' on line 1 can not be found") {
		t.Errorf("unset variable: %v", err)
	}
}

// TestEnvironmentLists covers values from the environment that are
// arrays: their elements come without a place of their own and take the
// place of the reference.
func TestEnvironmentLists(t *testing.T) {
	t.Setenv("CANOPY_TEST_SUBJECTS", `["a.>", "b"]`)
	o := mustParse(t, "authorization { default_permissions: { publish: $CANOPY_TEST_SUBJECTS } }")
	if got := o.Authorization.DefaultPermissions.Publish.Allow; !reflect.DeepEqual(got, []string{"a.>", "b"}) {
		t.Errorf("allow %q", got)
	}
	t.Setenv("CANOPY_TEST_SUBJECTS", `["a..b"]`)
	got := errorLines(t, "port: 1\nauthorization { default_permissions: { publish: $CANOPY_TEST_SUBJECTS } }")
	want := []string{`/tmp/x.conf:2:40: invalid value for "publish": subject "a..b" is not a valid subject`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
}

func TestCredentialsPathExpansion(t *testing.T) {
	t.Setenv("CANOPY_TEST_CREDS_DIR", "/srv/creds")
	t.Setenv("HOME", "/home/canopy")
	o := mustParse(t, `leafnodes { remotes: [
  { url: "nats://a", credentials: "$CANOPY_TEST_CREDS_DIR/a.creds" }
  { url: "nats://b", creds: "~/b.creds" }
] }`)
	if got := o.LeafNode.Remotes[0].Credentials; got != "/srv/creds/a.creds" {
		t.Errorf("credentials %q", got)
	}
	if got := o.LeafNode.Remotes[1].Credentials; got != "/home/canopy/b.creds" {
		t.Errorf("creds %q", got)
	}
}

func TestWrongTypes(t *testing.T) {
	tests := map[string]string{
		"authorization: 5":                                `/tmp/x.conf:1:0: invalid value for "authorization": expected a map, got integer 5`,
		"leafnodes { remotes: { url: x } }":               `/tmp/x.conf:1:12: invalid value for "remotes": expected an array, got a map`,
		"authorization { users: [ u1 ] }":                 `/tmp/x.conf:1:25: invalid value for "users": expected a user entry (a map), got string "u1"`,
		"debug: \"true\"":                                 `/tmp/x.conf:1:0: invalid value for "debug": expected true or false, got string "true"`,
		"leafnodes { remotes: [ { url: [ 1 ] } ] }":       `/tmp/x.conf:1:32: invalid value for "url": expected a string in the array, got integer 1`,
		"max_pending: \"3 parsecs\"":                      `/tmp/x.conf:1:0: invalid value for "max_pending": cannot read size "3 parsecs": unknown unit`,
		"ping_interval: [ 1 ]":                            `/tmp/x.conf:1:0: invalid value for "ping_interval": expected a duration such as "2m", got an array`,
		"authorization { timeout: true }":                 `/tmp/x.conf:1:16: invalid value for "timeout": expected seconds or a duration such as "2s", got boolean true`,
		"accounts: 5":                                     `/tmp/x.conf:1:0: invalid value for "accounts": expected a map of accounts or a list of names, got integer 5`,
		"authorization { permissions: { publish: 1.5 } }": `/tmp/x.conf:1:31: invalid value for "publish": expected a string or an array of strings, got number 1.5`,
	}
	for data, want := range tests {
		got := errorLines(t, data)
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s:\n got %q\nwant %q", data, got, want)
		}
	}
}

func TestInclude(t *testing.T) {
	o := mustLoad(t, "testdata/include_main.conf")
	if o.Port != 4777 || o.Authorization.Token != "included" {
		t.Errorf("port %d token %q", o.Port, o.Authorization.Token)
	}
	if o.Authorization.Timeout != 5*time.Second {
		t.Errorf("timeout %v from a variable of the included file", o.Authorization.Timeout)
	}
	// An error inside an included file names that file.
	_, _, err := Load("testdata/include_bad.conf")
	want := filepath.Join("testdata", "include_bad_part.conf") + `:2:1: invalid value for "max_payload": expected a size such as 1048576 or 1MB, got boolean true`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
}

// TestSizes covers every accepted form of a byte count.
func TestSizes(t *testing.T) {
	tests := []struct {
		value string
		want  int64
	}{
		{"1048576", 1 << 20},
		{"1MB", 1 << 20},
		{"1mb", 1 << 20},
		{"1MiB", 1 << 20},
		{"1Mi", 1 << 20},
		{"1M", 1000 * 1000},
		{"64MB", 64 << 20},
		{"2K", 2000},
		{"2KB", 2 << 10},
		{"1GB", 1 << 30},
		{"1G", 1000 * 1000 * 1000},
		{`"1MB"`, 1 << 20},
		{`"512 KB"`, 512 << 10},
		{`"100"`, 100},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			o := mustParse(t, "max_payload: 10\nmax_pending: "+tt.value)
			if o.MaxPending != tt.want {
				t.Errorf("max_pending: %s = %d, want %d", tt.value, o.MaxPending, tt.want)
			}
		})
	}
}

// TestDurations covers every accepted form of a duration, and the warning
// nats-server gives for plain seconds.
func TestDurations(t *testing.T) {
	tests := []struct {
		data string
		get  func(*Options) time.Duration
		want time.Duration
		warn string
	}{
		{`ping_interval: "2m"`, func(o *Options) time.Duration { return o.PingInterval }, 2 * time.Minute, ""},
		{`ping_interval: "1m30s"`, func(o *Options) time.Duration { return o.PingInterval }, 90 * time.Second, ""},
		{`ping_interval: 30`, func(o *Options) time.Duration { return o.PingInterval }, 30 * time.Second,
			`test.conf:1:0: invalid use of field "ping_interval": ping_interval should be converted to a duration`},
		{`write_deadline: "500ms"`, func(o *Options) time.Duration { return o.WriteDeadline }, 500 * time.Millisecond, ""},
		{`write_deadline: 2`, func(o *Options) time.Duration { return o.WriteDeadline }, 2 * time.Second,
			`test.conf:1:0: invalid use of field "write_deadline": write_deadline should be converted to a duration`},
		{`lame_duck_duration: "1m"`, func(o *Options) time.Duration { return o.LameDuckDuration }, time.Minute, ""},
		{`lame_duck_grace_period: "3s"`, func(o *Options) time.Duration { return o.LameDuckGracePeriod }, 3 * time.Second, ""},
		{`authorization { timeout: 5 }`, func(o *Options) time.Duration { return o.Authorization.Timeout }, 5 * time.Second, ""},
		{`authorization { timeout: 0.5 }`, func(o *Options) time.Duration { return o.Authorization.Timeout }, 500 * time.Millisecond, ""},
		{`authorization { timeout: "3s" }`, func(o *Options) time.Duration { return o.Authorization.Timeout }, 3 * time.Second, ""},
		{`leafnodes { reconnect: "5s" }`, func(o *Options) time.Duration { return o.LeafNode.ReconnectInterval }, 5 * time.Second, ""},
		{`leafnodes { reconnect_interval: "6s" }`, func(o *Options) time.Duration { return o.LeafNode.ReconnectInterval }, 6 * time.Second, ""},
		{`leafnodes { reconnect_delay: "7s" }`, func(o *Options) time.Duration { return o.LeafNode.ReconnectInterval }, 7 * time.Second, ""},
		{`leafnodes { dial_timeout: "250ms" }`, func(o *Options) time.Duration { return o.LeafNode.DialTimeout }, 250 * time.Millisecond, ""},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			o, warns, err := Parse([]byte(tt.data), "test.conf")
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(o); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			switch {
			case tt.warn == "" && len(warns) > 0:
				t.Errorf("unexpected warnings %v", warns)
			case tt.warn != "" && (len(warns) != 1 || warns[0].Error() != tt.warn):
				t.Errorf("warnings %v, want %q", warns, tt.warn)
			}
		})
	}
}

// TestErrorText pins the exact text of errors: file, line, column, key.
func TestErrorText(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"bad size", "port: 4222\nmax_payload: abc", []string{
			`/tmp/x.conf:2:1: invalid value for "max_payload": cannot read size "abc"`,
		}},
		{"indented key", "port: 4222\n\n  max_pending: true", []string{
			`/tmp/x.conf:3:3: invalid value for "max_pending": expected a size such as 1048576 or 1MB, got boolean true`,
		}},
		{"payload too big", "max_payload: 3GB", []string{
			`/tmp/x.conf:1:0: invalid value for "max_payload": 3221225472 is too big (at most 2147483647)`,
		}},
		{"port type", `port: "4222"`, []string{
			`/tmp/x.conf:1:0: invalid value for "port": expected an integer, got string "4222"`,
		}},
		{"port range", "port: 70000", []string{
			`/tmp/x.conf:1:0: invalid value for "port": 70000 is out of range [-1, 65535]`,
		}},
		{"bad duration", `ping_interval: "2 minutes"`, []string{
			`/tmp/x.conf:1:0: invalid value for "ping_interval": cannot read duration "2 minutes": use a number and a unit, such as "2m" or "500ms"`,
		}},
		{"bad listen", `listen: "localhost"`, []string{
			`/tmp/x.conf:1:0: invalid value for "listen": cannot read address "localhost": expected host:port or a port`,
		}},
		{"server name", `server_name: "my server"`, []string{
			`/tmp/x.conf:1:0: invalid value for "server_name": server name cannot contain spaces`,
		}},
		{"lame duck minimum", `lame_duck_duration: "10s"`, []string{
			`/tmp/x.conf:1:0: invalid value for "lame_duck_duration": lame duck duration 10s is below the minimum of 30s`,
		}},
		{"unknown top-level", "port: 4222\nprot: 4223", []string{
			`/tmp/x.conf:2:1: unknown field "prot"`,
		}},
		{"unknown nested", "authorization {\n  tokn: x\n}", []string{
			`/tmp/x.conf:2:3: unknown field "tokn"`,
		}},
		{"all errors of a file", "port: x\nmax_payload: y\nfoo: 1\nleafnodes { bar: 2 }", []string{
			`/tmp/x.conf:1:0: invalid value for "port": expected an integer, got string "x"`,
			`/tmp/x.conf:2:1: invalid value for "max_payload": cannot read size "y"`,
			`/tmp/x.conf:3:1: unknown field "foo"`,
			`/tmp/x.conf:4:13: unknown field "bar"`,
		}},
		{"leaf token", "leafnodes {\n  authorization { token: s3cr3t }\n}", []string{
			`/tmp/x.conf:2:19: unknown field "token": leafnode authorization takes user and password, an nkey or users, not a token`,
		}},
		{"tls block without key", "tls {\n  cert_file: a\n}", []string{
			`/tmp/x.conf:1:0: missing 'key_file' in TLS configuration`,
		}},
		{"leaf tls block without key", "leafnodes {\n  tls { cert_file: a }\n}", []string{
			`/tmp/x.conf:2:3: missing 'key_file' in TLS configuration`,
		}},
		{"websocket without tls", "websocket { port: 8080 }", []string{
			`/tmp/x.conf:1:0: websocket requires TLS configuration`,
		}},
		{"websocket header", "websocket { port: 8080, no_tls: true, headers { Upgrade: x } }", []string{
			`/tmp/x.conf:1:0: websocket: invalid header "Upgrade" not allowed`,
		}},
		{"https without tls", "https: 8443", []string{
			`/tmp/x.conf:1:0: TLS cert and key required for HTTPS`,
		}},
		{"resolver", "resolver: URL(http://localhost:9090/jwt/v1/accounts/)", []string{
			`/tmp/x.conf:1:0: invalid value for "resolver": the URL resolver is not supported by Canopy; use resolver: MEMORY with resolver_preload, or a full or cache resolver block`,
		}},
		{"resolver without dir", "resolver: { type: full }", []string{
			`/tmp/x.conf:1:0: invalid value for "resolver": dir has no value and needs to point to a directory`,
		}},
		{"resolver dir is a file", "resolver: { type: full, dir: /etc/hostname }", []string{
			`/tmp/x.conf:1:0: invalid value for "resolver": dir needs to point to an accessible directory`,
		}},
		{"resolver type", "resolver: { type: disk, dir: /tmp/jwt }", []string{
			`/tmp/x.conf:1:0: invalid value for "resolver": error parsing account resolver, should be MEM or  URL("url") or a map containing dir and type state=[FULL|CACHE])`,
		}},
		{"cache with delete", "resolver: { type: cache, dir: /tmp/jwt, allow_delete: true, interval: \"1m\" }", []string{
			`/tmp/x.conf:1:0: invalid value for "resolver": CACHE does not accept sync`,
			`/tmp/x.conf:1:0: invalid value for "resolver": CACHE does not accept allow_delete`,
		}},
		{"full with ttl", "resolver: { type: full, dir: /tmp/jwt, ttl: \"1h\", hard_delete: true }", []string{
			`/tmp/x.conf:1:0: invalid value for "resolver": FULL does not accept ttl`,
			`/tmp/x.conf:1:0: invalid value for "resolver": hard_delete has no effect without delete`,
		}},
		{"resolver durations", "resolver: { type: full, dir: /tmp/jwt, interval: \"soon\", timeout: \"0s\" }", []string{
			`/tmp/x.conf:1:39: invalid value for "interval": time: invalid duration "soon"`,
			`/tmp/x.conf:1:57: invalid value for "timeout": Fetch timeout 0s is too smal`,
		}},
		{"bad subject", "authorization { users: [ { user: a, password: b, permissions: { publish: \"a..b\" } } ] }", []string{
			`/tmp/x.conf:1:64: invalid value for "publish": subject "a..b" is not a valid subject`,
		}},
		{"queue not allowed in publish", "authorization { default_permissions: { publish: \"foo bar\" } }", []string{
			`/tmp/x.conf:1:39: invalid value for "publish": subject "foo bar" is not a valid subject`,
		}},
		{"bad queue", "authorization { default_permissions: { subscribe: \"foo bar baz\" } }", []string{
			`/tmp/x.conf:1:39: invalid value for "subscribe": subject "foo bar baz" is not a valid subject`,
		}},
		{"permission field", "authorization { default_permissions: { publish: { allow: a, denny: b } } }", []string{
			`/tmp/x.conf:1:60: unknown field "denny" in subject permissions: only allow and deny are permitted`,
		}},
		{"user without name", "authorization { users: [ { password: b } ] }", []string{
			`/tmp/x.conf:1:27: user entry needs a user or an nkey`,
		}},
		{"bad nkey", "authorization { users: [ { nkey: UABC } ] }", []string{
			`/tmp/x.conf:1:27: invalid value for "nkey": "UABC" is not a valid public user nkey`,
		}},
		{"seed not echoed", "leafnodes { remotes: [ { url: \"nats://h\", seed: SUSECRETSECRET } ] }", []string{
			`/tmp/x.conf:1:42: invalid value for "seed": not a valid user nkey seed`,
		}},
		{"reserved account", "accounts { $G: {} }", []string{
			`/tmp/x.conf:1:11: "$G" is a reserved account name`,
		}},
		{"compression", "leafnodes { compression: s2_fastest }", []string{
			`/tmp/x.conf:1:12: invalid value for "compression": unsupported compression mode "s2_fastest"`,
		}},
		{"rtt thresholds order", `leafnodes { compression: { mode: s2_auto, rtt_thresholds: ["50ms", "10ms"] } }`, []string{
			`/tmp/x.conf:1:12: invalid value for "compression": compression mode "s2_auto" has RTT thresholds [50ms 10ms] not in ascending order`,
		}},
		{"rtt thresholds bad duration", `leafnodes { compression: { mode: s2_auto, rtt_thresholds: ["fast"] } }`, []string{
			`/tmp/x.conf:1:60: invalid value for "rtt_thresholds": cannot read duration "fast": use a number and a unit, such as "2m" or "500ms"`,
		}},
		{"min version", `leafnodes { min_version: "2.7.0" }`, []string{
			`/tmp/x.conf:1:12: invalid value for "min_version": leafnode minimum version "2.7.0" is below 2.8.0, the lowest that can be checked`,
		}},
		{"proxy protocol", "proxy_protocol: true", []string{
			`/tmp/x.conf:1:0: "proxy_protocol" is not supported by Canopy: connections would start with a PROXY header Canopy cannot read`,
		}},
		{"account token position", "accounts { A: { exports: [ { stream: \"a.*.>\", account_token_position: 2 } ] } }", []string{
			`/tmp/x.conf:1:46: "account_token_position" is not supported by Canopy: ignoring it would make the export public`,
		}},
		{"connection type", "authorization { users: [ { user: a, allowed_connection_types: [\"CARRIER_PIGEON\"] } ] }", []string{
			`/tmp/x.conf:1:36: invalid value for "allowed_connection_types": unknown connection type "CARRIER_PIGEON"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorLines(t, tt.data)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSyntaxError(t *testing.T) {
	_, _, err := Parse([]byte("port: 4222\nauthorization {\n  token: x\n"), "/tmp/x.conf")
	if err == nil || !strings.HasPrefix(err.Error(), "/tmp/x.conf: ") {
		t.Errorf("syntax error = %v", err)
	}
	_, _, err = Load("testdata/does-not-exist.conf")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestErrorsAreStructured(t *testing.T) {
	_, _, err := Parse([]byte("port: 1\ntls { cert_store: WindowsCurrentUser }"), "/tmp/x.conf")
	if !errors.Is(err, ErrTLSNotSupported) {
		t.Errorf("errors.Is(%v, ErrTLSNotSupported) = false", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.File != "/tmp/x.conf" || e.Line != 2 || e.Key != "cert_store" {
		t.Errorf("structured error = %+v", e)
	}
}

// TestUnsupportedKeys checks that keys nats-server knows and Canopy does
// not implement are warnings, and the file still loads.
func TestUnsupportedKeys(t *testing.T) {
	data := `
port: 4222
cluster { name: c, listen: 0.0.0.0:6222 }
gateway { name: g }
jetstream { store_dir: /tmp/js }
websocket { port: 8080, no_tls: true }
mqtt { port: 1883 }
server_tags: ["a", "b"]
client_advertise: "x:4222"
leafnodes {
  write_deadline: "1s"
  remotes: [ { url: "nats://hub", proxy: { url: "http://proxy:3128" } } ]
}
accounts { A: { jetstream: enabled, mappings: { "a": "b" } } }
authorization { auth_callout { issuer: x } }
`
	o, warns, err := Parse([]byte(data), "w.conf")
	if err != nil {
		t.Fatal(err)
	}
	if o.Port != 4222 {
		t.Errorf("port = %d", o.Port)
	}
	want := []string{
		`w.conf:3:1: "cluster" is not supported by Canopy, ignored`,
		`w.conf:4:1: "gateway" is not supported by Canopy, ignored`,
		`w.conf:5:1: "jetstream" is not supported by Canopy, ignored`,
		`w.conf:7:1: "mqtt" is not supported by Canopy, ignored`,
		`w.conf:8:1: "server_tags" is not supported by Canopy, ignored`,
		`w.conf:9:1: "client_advertise" is not supported by Canopy, ignored`,
		`w.conf:11:3: "write_deadline" is not supported by Canopy, ignored`,
		`w.conf:12:35: "proxy" is not supported by Canopy, ignored`,
		`w.conf:14:17: "jetstream" is not supported by Canopy, ignored`,
		`w.conf:14:37: "mappings" is not supported by Canopy, ignored`,
		`w.conf:15:17: "auth_callout" is not supported by Canopy, ignored`,
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPermissionShapes covers every form nats-server accepts for
// permissions.
func TestPermissionShapes(t *testing.T) {
	resp := &ResponsePermission{MaxMsgs: defaultResponseMaxMsgs, Expires: defaultResponseExpires}
	tests := []struct {
		name  string
		perms string
		want  *Permissions
	}{
		{"publish string", `publish: "a.>"`, &Permissions{Publish: &SubjectPermission{Allow: []string{"a.>"}}}},
		{"publish list", `publish: ["a", "b.*"]`, &Permissions{Publish: &SubjectPermission{Allow: []string{"a", "b.*"}}}},
		{"pub alias", `pub: "a"`, &Permissions{Publish: &SubjectPermission{Allow: []string{"a"}}}},
		{"import alias", `import: "a"`, &Permissions{Publish: &SubjectPermission{Allow: []string{"a"}}}},
		{"allow and deny", `publish: { allow: ["a.>"], deny: "a.secret" }`,
			&Permissions{Publish: &SubjectPermission{Allow: []string{"a.>"}, Deny: []string{"a.secret"}}}},
		{"deny only", `subscribe: { deny: ["x.>"] }`, &Permissions{Subscribe: &SubjectPermission{Deny: []string{"x.>"}}}},
		{"empty map", `publish: {}`, &Permissions{}},
		{"empty list", `publish: []`, &Permissions{Publish: &SubjectPermission{}}},
		{"sub alias", `sub: "a"`, &Permissions{Subscribe: &SubjectPermission{Allow: []string{"a"}}}},
		{"export alias", `export: "a"`, &Permissions{Subscribe: &SubjectPermission{Allow: []string{"a"}}}},
		{"queue entries verbatim", `subscribe: { allow: ["jobs workers", "foo.*  v1"], deny: "jobs bad" }`,
			&Permissions{Subscribe: &SubjectPermission{Allow: []string{"jobs workers", "foo.*  v1"}, Deny: []string{"jobs bad"}}}},
		{"allow_responses true", `allow_responses: true`,
			&Permissions{Publish: &SubjectPermission{Allow: []string{}}, Response: resp}},
		{"allow_responses false", `allow_responses: false`, &Permissions{}},
		{"allow_responses map", `allow_responses: { max: 3, expires: "30s" }`,
			&Permissions{Publish: &SubjectPermission{Allow: []string{}}, Response: &ResponsePermission{MaxMsgs: 3, Expires: 30 * time.Second}}},
		{"allow_responses map defaults", `allow_responses: { max: 0 }`,
			&Permissions{Publish: &SubjectPermission{Allow: []string{}}, Response: resp}},
		{"allow_responses unlimited", `publish_allow_responses: { max: -1, ttl: "-1s" }`,
			&Permissions{Publish: &SubjectPermission{Allow: []string{}}, Response: &ResponsePermission{MaxMsgs: -1, Expires: -time.Second}}},
		{"allow_responses keeps publish allow", `publish: "a", allow_responses: true`,
			&Permissions{Publish: &SubjectPermission{Allow: []string{"a"}}, Response: resp}},
		{"allow_responses with deny only", `publish: { deny: "a" }, allow_responses: true`,
			&Permissions{Publish: &SubjectPermission{Allow: []string{}, Deny: []string{"a"}}, Response: resp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "authorization { users: [ { user: u, password: p, permissions: { " + tt.perms + " } } ] }"
			o := mustParse(t, data)
			got := o.Authorization.Users[0].Permissions
			if !reflect.DeepEqual(got, tt.want) {
				diffOptions(t, reflect.ValueOf(got), reflect.ValueOf(tt.want), "Permissions")
			}
			// The same shapes are accepted as default permissions.
			o = mustParse(t, "authorization { default_permissions: { "+tt.perms+" }, users: [ { user: u } ] }")
			if got := o.Authorization.Users[0].Permissions; !reflect.DeepEqual(got, tt.want) {
				diffOptions(t, reflect.ValueOf(got), reflect.ValueOf(tt.want), "default Permissions")
			}
		})
	}
}

func TestUserPermissionAliases(t *testing.T) {
	for _, key := range []string{"permission", "permissions", "authorization"} {
		o := mustParse(t, "authorization { users: [ { user: u, "+key+": { publish: a } } ] }")
		if p := o.Authorization.Users[0].Permissions; p == nil || p.Publish.Allow[0] != "a" {
			t.Errorf("%s: permissions %+v", key, p)
		}
	}
	o := mustParse(t, "authorization { permissions: { publish: d }, users: [ { user: u }, { user: v, permissions: { publish: own } } ] }")
	if got := o.Authorization.Users[0].Permissions.Publish.Allow[0]; got != "d" {
		t.Errorf("default permissions not applied: %s", got)
	}
	if got := o.Authorization.Users[1].Permissions.Publish.Allow[0]; got != "own" {
		t.Errorf("own permissions overridden: %s", got)
	}
}

func TestAuthorizationShapes(t *testing.T) {
	o := mustParse(t, "authorization { user: a, password: b, timeout: 1 }")
	if a := o.Authorization; a.Username != "a" || a.Password != "b" || a.Timeout != time.Second {
		t.Errorf("user/password: %+v", a)
	}
	o = mustParse(t, "authorization { username: a, pass: b }")
	if a := o.Authorization; a.Username != "a" || a.Password != "b" {
		t.Errorf("username/pass aliases: %+v", a)
	}
	_, warns, err := Parse([]byte("authorization { token: t, timeout: 120 }"), "t.conf")
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0].Error(), "timeout of 2m0s is high") {
		t.Errorf("high timeout: %v %v", warns, err)
	}
}

func TestAccountsList(t *testing.T) {
	o := mustParse(t, "accounts: [A, B]")
	if len(o.Accounts) != 2 || o.Accounts[0].Name != "A" || o.Accounts[1].Name != "B" {
		t.Errorf("accounts %+v", o.Accounts)
	}
	got := errorLines(t, "accounts: [A, A]")
	if len(got) != 1 || got[0] != `/tmp/x.conf:1:14: duplicate account "A"` {
		t.Errorf("duplicate account: %q", got)
	}
}

func TestAccountVariablesSkipped(t *testing.T) {
	o := mustParse(t, "accounts { PW: pass, A: { users: [ { user: a, password: $PW } ] } }")
	if len(o.Accounts) != 1 || o.Accounts[0].Users[0].Password != "pass" {
		t.Errorf("accounts %+v", o.Accounts)
	}
}

func TestImportWithoutSource(t *testing.T) {
	_, warns, err := Parse([]byte("accounts { A: { imports: [ { prefix: x } ], exports: [ { accounts: [A] } ] } }"), "i.conf")
	var got []string
	for _, w := range warns {
		got = append(got, w.Error())
	}
	want := []string{
		"i.conf:1:29: import has neither a stream nor a service, ignored",
		"i.conf:1:57: export has neither a stream nor a service, ignored",
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("warnings %q, err %v", got, err)
	}
}

func TestAccountLimitsUnlimited(t *testing.T) {
	o := mustParse(t, "accounts { A: { limits: { max_conn: -1, max_subs: -1, max_pay: -1, max_leafs: -1 } } }")
	a := o.Accounts[0]
	if a.MaxConnections != -1 || a.MaxSubs != -1 || a.MaxPayload != -1 || a.MaxLeafNodes != -1 {
		t.Errorf("limits %+v", a)
	}
}

func TestStreamImportTo(t *testing.T) {
	o := mustParse(t, `accounts {
  A: { exports: [ { stream: "a.>" } ] }
  B: { imports: [ { stream: { account: A, subject: "a.x" }, to: "b.x" } ] }
}`)
	im := o.Accounts[1].Imports[0]
	if im.To != "b.x" || im.Prefix != "" || im.Service {
		t.Errorf("import %+v", im)
	}
}

func TestRemoteURLs(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"nats-leaf://localhost", "nats-leaf://localhost:7422"},
		{"nats://user:pw@hub:4000", "nats://user:pw@hub:4000"},
		{"NATS-LEAF://hub", "nats-leaf://hub:7422"},
		{"nats-leaf://[::1]", "nats-leaf://[::1]:7422"},
		{" nats-leaf://spaced ", "nats-leaf://spaced:7422"},
	}
	for _, tt := range tests {
		o := mustParse(t, `leafnodes { remotes: [ { url: "`+tt.url+`" } ] }`)
		if got := o.LeafNode.Remotes[0].URLs[0].String(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.url, got, tt.want)
		}
	}
	_, warns, err := Parse([]byte(`leafnodes { remotes: [ { urls: ["nats://a", "nats://a", "nats://b"] } ] }`), "r.conf")
	if err != nil || len(warns) != 1 || warns[0].Error() != `r.conf:1:25: duplicate leafnode url nats://a ignored` {
		t.Errorf("duplicate url: %v %v", warns, err)
	}
	for _, bad := range []string{"localhost:7422", "http://hub", "nats-leaf://", "nats://hub:0"} {
		if _, _, err := Parse([]byte(`leafnodes { remotes: [ { url: "`+bad+`" } ] }`), "r.conf"); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	_, warns, err = Parse([]byte(`leafnodes { remotes: [ { account: A2 } ] }, accounts: [A2]`), "r.conf")
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0].Error(), "has no url") {
		t.Errorf("remote without url: %v %v", warns, err)
	}
}

func TestCompressionForms(t *testing.T) {
	tests := map[string]string{
		"true": "s2_auto", "false": "off", "on": "s2_auto", `"off"`: "off",
		"accept": "accept", "s2_auto": "s2_auto", "auto": "s2_auto", "fast": "s2_fast",
		"s2_better": "s2_better", "best": "s2_best", "not_supported": "not supported",
		`"not supported"`: "not supported", "disabled": "off", "enabled": "s2_auto",
		"{ mode: s2_best }": "s2_best",
	}
	for in, want := range tests {
		o := mustParse(t, "leafnodes { compression: "+in+", remotes: [ { url: \"nats://h\", compression: "+in+" } ] }")
		if o.LeafNode.Compression != want || o.LeafNode.Remotes[0].Compression != want {
			t.Errorf("compression %s: got %q and %q, want %q", in, o.LeafNode.Compression, o.LeafNode.Remotes[0].Compression, want)
		}
	}
}

func TestCompressionRTTThresholds(t *testing.T) {
	o := mustParse(t, `leafnodes { remotes: [ { url: "nats://h", compression: { mode: s2_auto, rtt_thresholds: ["0ms", "20ms", "0ms"] } } ] }`)
	r := o.LeafNode.Remotes[0]
	if r.Compression != "s2_auto" || len(r.CompressionRTT) != 2 || r.CompressionRTT[0] != 0 || r.CompressionRTT[1] != 20*time.Millisecond {
		t.Fatalf("got %q %v", r.Compression, r.CompressionRTT)
	}
}

func TestLeafAuthorization(t *testing.T) {
	o := mustParse(t, `
accounts: [A]
leafnodes {
  port: 7422
  authorization { user: leaf, password: pw, account: A, timeout: 3 }
}`)
	ln := o.LeafNode
	if ln.Username != "leaf" || ln.Password != "pw" || ln.Account != "A" || ln.AuthTimeout != 3*time.Second {
		t.Errorf("leaf authorization %+v", ln)
	}
	o = mustParse(t, `leafnodes { authorization { nkey: UBCVX7GX3G3KX34MQQ62NFUHW7OQV2RPOJNHNKSC5Z3HZZJXGMN6R33R } }`)
	if o.LeafNode.Nkey != "UBCVX7GX3G3KX34MQQ62NFUHW7OQV2RPOJNHNKSC5Z3HZZJXGMN6R33R" {
		t.Errorf("leaf nkey %q", o.LeafNode.Nkey)
	}
	if o.LeafNode.AuthTimeout != DefaultAuthTimeout {
		t.Errorf("leaf auth timeout default %v", o.LeafNode.AuthTimeout)
	}
}

func TestEmptyConfigWarns(t *testing.T) {
	o, warns, err := Parse([]byte("# nothing\n"), "e.conf")
	if err != nil || o == nil || len(warns) != 1 || warns[0].Error() != "e.conf: config has no values or is empty" {
		t.Errorf("empty config: %v %v", warns, err)
	}
}

// TestExportResponseType reads a service export's response type in every
// spelling nats-server accepts, and refuses what it refuses.
func TestExportResponseType(t *testing.T) {
	o := mustParse(t, `accounts { A: { exports: [
  { service: a, response: stream }
  { service: b, response_type: Chunk }
  { service: c, response: singleton }
  { service: d }
] } }`)
	var got []string
	for _, x := range o.Accounts[0].Exports {
		got = append(got, x.Subject+"="+x.Response)
	}
	if want := []string{"a=Stream", "b=Chunked", "c=Singleton", "d="}; !reflect.DeepEqual(got, want) {
		t.Errorf("response types %q, want %q", got, want)
	}
	for text, want := range map[string]string{
		`accounts { A: { exports: [ { stream: a, response: stream } ] } }`:                        "Detected response directive on non-service",
		`accounts { A: { exports: [ { service: a, response: lots } ] } }`:                         `Unknown response type: "lots"`,
		`accounts { A: { exports: [ { service: a, response: stream, response_type: chunk } ] } }`: "Duplicate response type definition",
	} {
		_, _, err := Parse([]byte(text), "r.conf")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "r.conf:1:") {
			t.Errorf("%s: err %v, want r.conf:1:…%s", text, err, want)
		}
	}
}
