package loop_test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestSysOperator: in operator mode the operator's system account answers
// $SYS requests, and any account's user may ask who it is; the answers
// name the same accounts on both servers. (The monitoring documents are
// tested with the monitor in monitor/sys_test.go; IDZ and USER.INFO need
// none.)
func TestSysOperator(t *testing.T) {
	tr := newTrust(t)
	akp, apub := tr.account(t, "A", nil)
	sysUser := newUser(t, tr.sys, tr.sysPub, nil)
	appUser := newUser(t, akp, apub, nil)
	servers(t, tr.config(t), func(t *testing.T, addr string) {
		url := "nats://" + addr
		sys := connect(t, url, sysUser.creds(t))
		m, err := sys.Request("$SYS.REQ.SERVER.PING.IDZ", nil, 2*time.Second)
		if err != nil {
			t.Fatalf("IDZ: %v", err)
		}
		var id struct{ Name, Host, ID string }
		if err := json.Unmarshal(m.Data, &id); err != nil || id.ID == "" {
			t.Fatalf("IDZ: %s (%v)", m.Data, err)
		}
		app := connect(t, url, appUser.creds(t))
		m, err = app.Request("$SYS.REQ.USER.INFO", nil, 2*time.Second)
		if err != nil {
			t.Fatalf("USER.INFO: %v", err)
		}
		var ui struct {
			Data struct {
				User        string `json:"user"`
				Account     string `json:"account"`
				AccountName string `json:"account_name"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data, &ui); err != nil || ui.Data.Account != apub || ui.Data.User != appUser.pub ||
			ui.Data.AccountName != "A" {
			t.Fatalf("USER.INFO: %s (%v), want account %s user %s", m.Data, err, apub, appUser.pub)
		}
	})
}
