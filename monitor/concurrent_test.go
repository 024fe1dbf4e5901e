package monitor_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/natstest"
)

// TestConcurrentRequests runs every endpoint from several goroutines while
// clients come and go, publish and subscribe, and the configuration is
// reloaded: the monitor's cross-goroutine paths under -race.
func TestConcurrentRequests(t *testing.T) {
	hub := natstest.StartCanopy(t, hubConf)
	spoke := natstest.StartCanopy(t, spokeConf(hub.LeafPort()))
	base := startMonitor(t, hub)
	natstest.WaitFor(t, wait, "leaf link", func() bool { return hub.NumLeafs() == 1 && spoke.NumLeafs() == 1 })

	paths := []string{"/varz", "/connz?subs=detail&state=any", "/leafz?subs=1", "/subsz?subs=1",
		"/accountz?acc=APP", "/healthz", "/connz?sort=msgs_to&limit=2"}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Timeout: wait}
			for i := range 40 {
				p := paths[(w+i)%len(paths)]
				resp, err := cl.Get(base + p)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("%s: %d", p, resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			nc, err := nats.Connect(hub.ClientURL(), nats.UserInfo("app", "pw"))
			if err != nil {
				errs <- err
				return
			}
			sub, _ := nc.SubscribeSync(fmt.Sprintf("churn.%d", i))
			nc.Publish(sub.Subject, []byte("x"))
			nc.Flush()
			nc.Close()
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 3 {
			opts, _, err := conf.Load(hub.ConfigFile)
			if err != nil {
				errs <- err
				return
			}
			if err := hub.Reload(opts); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
