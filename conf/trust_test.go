package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestResolverBlock: a full and a cache resolver block are read into the
// options, and the blocks nats-server v2.15.2 refuses are refused with its
// words, which the test reads from nats-server itself.
func TestResolverBlock(t *testing.T) {
	dir := t.TempDir()
	o := mustParse(t, `resolver { type: full, dir: "`+dir+`", allow_delete: true, hard_delete: true, interval: "2m", limit: 10, timeout: "3s" }`)
	if o.Resolver != "FULL" || o.ResolverDir != dir || !o.ResolverAllowDelete || !o.ResolverHardDelete ||
		o.ResolverInterval != 2*time.Minute || o.ResolverLimit != 10 || o.ResolverTimeout != 3*time.Second {
		t.Errorf("full block read as %+v", o)
	}
	o = mustParse(t, `resolver { type: CACHE, dir: "`+dir+`", ttl: "1h", limit: 5 }`)
	if o.Resolver != "CACHE" || o.ResolverDir != dir || o.ResolverTTL != time.Hour || o.ResolverLimit != 5 {
		t.Errorf("cache block read as %+v", o)
	}

	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ block, want string }{
		{`{ type: full }`, "dir has no value and needs to point to a directory"},
		{`{ type: full, dir: "` + file + `" }`, "dir needs to point to an accessible directory"},
		{`{ type: disk, dir: "` + dir + `" }`, `error parsing account resolver, should be MEM or  URL("url") or a map containing dir and type state=[FULL|CACHE])`},
		{`{ type: cache, dir: "` + dir + `", allow_delete: true }`, "CACHE does not accept allow_delete"},
		{`{ type: cache, dir: "` + dir + `", interval: "1m" }`, "CACHE does not accept sync"},
		{`{ type: cache, dir: "` + dir + `", hard_delete: false }`, "CACHE does not accept hard_delete"},
		{`{ type: full, dir: "` + dir + `", ttl: "1h" }`, "FULL does not accept ttl"},
		{`{ type: full, dir: "` + dir + `", hard_delete: true }`, "hard_delete has no effect without delete"},
		{`{ type: full, dir: "` + dir + `", interval: "soon" }`, `time: invalid duration "soon"`},
		{`{ type: full, dir: "` + dir + `", timeout: "0s" }`, "Fetch timeout 0s is too smal"},
	} {
		text := "resolver: " + tt.block + "\n"
		_, _, err := Parse([]byte(text), "/tmp/x.conf")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Canopy says %v, want %q", tt.block, err, tt.want)
		}
		path := filepath.Join(t.TempDir(), "nats.conf")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := server.ProcessConfigFile(path); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: nats-server says %v, want %q", tt.block, err, tt.want)
		}
	}
}
