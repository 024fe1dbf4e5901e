package main

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestServeSystemAccount: the command answers the system account's
// monitoring requests without any HTTP port (the monitor is built anyway,
// for them), and announces its shutdown on SIGTERM.
func TestServeSystemAccount(t *testing.T) {
	port := freePort(t)
	f := writeFile(t, t.TempDir(), "sys.conf", fmt.Sprintf(`
listen: 127.0.0.1:%d
accounts { SYS { users [{user: sys, password: pass}] } }
system_account: SYS
`, port))
	s := startServer(t, "-c", f)
	s.waitFor(t, "Server is ready")
	nc, err := nats.Connect(fmt.Sprintf("nats://sys:pass@127.0.0.1:%d", port), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m, err := nc.Request("$SYS.REQ.SERVER.PING.VARZ", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("VARZ: %v", err)
	}
	var v struct {
		Server struct{ ID string } `json:"server"`
		Data   struct {
			Port          int    `json:"port"`
			SystemAccount string `json:"system_account"`
		} `json:"data"`
	}
	if err := json.Unmarshal(m.Data, &v); err != nil || v.Data.Port != port || v.Data.SystemAccount != "SYS" {
		t.Fatalf("VARZ: %s (%v)", m.Data, err)
	}
	sub, err := nc.SubscribeSync("$SYS.SERVER." + v.Server.ID + ".SHUTDOWN")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Errorf("no shutdown event: %v", err)
	}
}
