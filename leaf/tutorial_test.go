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

// TestTutorial runs the seed's tutorial in each pairing: a replier on the
// hub answers 42, and a request on the leaf receives it.
func TestTutorial(t *testing.T) {
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			port := natstest.FreePort(t)
			hub := start(t, p.hub, hubConf(port))
			lf := start(t, p.leaf, leafConf(port))
			hc := connect(t, hub, "s3cr3t")
			if _, err := hc.Subscribe("q", func(m *nats.Msg) { m.Respond([]byte("42")) }); err != nil {
				t.Fatal(err)
			}
			flush(t, hc)
			// The leaf must have heard of the replier before asking, or the
			// request finds no responders.
			waitSub(t, lf, "q", true)
			lc := connect(t, lf, "")
			reply, err := lc.Request("q", nil, 5*time.Second)
			if err != nil {
				t.Fatalf("request on leaf: %v", err)
			}
			if string(reply.Data) != "42" {
				t.Fatalf("reply %q", reply.Data)
			}
		})
	}
}
