package leaf_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// hubConf and leafConf are the seed tutorial's two files, with the fixed
// ports replaced by free ones.
func hubConf(leafPort int) string {
	return fmt.Sprintf(`
listen: "127.0.0.1:-1"
leafnodes {
  port: %d
}
authorization {
  token: "s3cr3t"
}
`, leafPort)
}

func leafConf(leafPort int) string {
	return fmt.Sprintf(`
listen: "127.0.0.1:-1"
leafnodes {
  remotes = [
    {
      url: "nats-leaf://s3cr3t@localhost:%d"
    },
  ]
}
`, leafPort)
}

func TestTutorialCanopyBoth(t *testing.T) {
	port := natstest.FreePort(t)
	hub := natstest.StartCanopy(t, hubConf(port))
	lf := natstest.StartCanopy(t, leafConf(port))

	hc := natstest.Connect(t, "nats://s3cr3t@"+hub.ClientAddr().String())
	if _, err := hc.Subscribe("q", func(m *nats.Msg) { m.Respond([]byte("42")) }); err != nil {
		t.Fatal(err)
	}
	hc.Flush()
	lc := natstest.Connect(t, lf.ClientURL())
	var reply *nats.Msg
	var err error
	for i := 0; i < 50; i++ {
		reply, err = lc.Request("q", nil, 200*time.Millisecond)
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("request on leaf: %v", err)
	}
	if string(reply.Data) != "42" {
		t.Fatalf("reply %q", reply.Data)
	}
}

func tutorialRequest(t *testing.T, hubURL, leafURL string) {
	t.Helper()
	hc := natstest.Connect(t, hubURL)
	if _, err := hc.Subscribe("q", func(m *nats.Msg) { m.Respond([]byte("42")) }); err != nil {
		t.Fatal(err)
	}
	hc.Flush()
	lc := natstest.Connect(t, leafURL)
	var reply *nats.Msg
	var err error
	for i := 0; i < 50; i++ {
		reply, err = lc.Request("q", nil, 200*time.Millisecond)
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("request on leaf: %v", err)
	}
	if string(reply.Data) != "42" {
		t.Fatalf("reply %q", reply.Data)
	}
}

func TestTutorialNATSHubCanopyLeaf(t *testing.T) {
	port := natstest.FreePort(t)
	hub := natstest.StartNATS(t, hubConf(port))
	lf := natstest.StartCanopy(t, leafConf(port))
	tutorialRequest(t, "nats://s3cr3t@"+hub.Addr().String(), lf.ClientURL())
}

func TestTutorialCanopyHubNATSLeaf(t *testing.T) {
	port := natstest.FreePort(t)
	hub := natstest.StartCanopy(t, hubConf(port))
	lf := natstest.StartNATS(t, leafConf(port))
	tutorialRequest(t, "nats://s3cr3t@"+hub.ClientAddr().String(), lf.ClientURL())
}
