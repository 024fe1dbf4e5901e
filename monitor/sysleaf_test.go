package monitor_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/monitor"
)

// pingAll sends $SYS.REQ.SERVER.PING and gathers the ids of the servers
// that answer within d.
func pingAll(t *testing.T, nc *nats.Conn, d time.Duration) []string {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SYS.REQ.SERVER.PING", inbox, nil); err != nil {
		t.Fatal(err)
	}
	var ids []string
	deadline := time.Now().Add(d)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			break
		}
		var sm struct {
			Server struct{ ID string } `json:"server"`
		}
		if json.Unmarshal(m.Data, &sm) == nil {
			ids = append(ids, sm.Server.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// TestSysAcrossLeaf: a Canopy leaf whose remote binds the system account
// answers the hub's system requests, and sees the hub's: each side's ping
// finds both servers, as with a nats-server leaf.
func TestSysAcrossLeaf(t *testing.T) {
	hubConf := `
listen: "127.0.0.1:-1"
accounts {
  SYS { users [{user: sys, password: pass}, {user: sysleaf, password: lpw}] }
  APP { users [{user: app, password: pass}] }
}
system_account: SYS
leafnodes { listen: "127.0.0.1:-1" }
`
	hub := natstest.StartNATS(t, hubConf)
	leafConf := fmt.Sprintf(`
listen: "127.0.0.1:-1"
accounts {
  SYS { users [{user: sys, password: pass}] }
  APP { users [{user: app, password: pass}] }
}
system_account: SYS
leafnodes {
  remotes [ { url: "nats-leaf://sysleaf:lpw@127.0.0.1:%d", account: SYS } ]
}
`, hub.LeafPort())
	leaf := natstest.StartCanopy(t, leafConf)
	monitor.New(leaf.Server, quiet{})
	want := []string{hub.ID(), leaf.ID()}
	sort.Strings(want)
	hc := natstest.Connect(t, "nats://"+hub.Addr().String(), nats.UserInfo("sys", "pass"))
	lc := natstest.Connect(t, leaf.ClientURL(), nats.UserInfo("sys", "pass"))
	var got []string
	natstest.WaitFor(t, 10*time.Second, "the hub's ping finds both servers", func() bool {
		got = pingAll(t, hc, 500*time.Millisecond)
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	natstest.WaitFor(t, 10*time.Second, "the leaf's ping finds both servers", func() bool {
		got = pingAll(t, lc, 500*time.Millisecond)
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	if bin := natstest.NATSCLIIfInstalled(); bin != "" {
		out, err := runCLI(t, bin, "nats://"+hub.Addr().String(), 20*time.Second, "server", "list", "2")
		if err != nil || !strings.Contains(out, leaf.ID()) {
			t.Errorf("nats server list on the hub does not show the Canopy leaf %s: %v\n%s", leaf.ID(), err, out)
		}
	}
}
