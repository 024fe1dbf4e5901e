package loop_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

// serveWho answers requests on svc.who, as user svc, with the
// Nats-Request-Info the service saw as the body and the requester's
// X-App header as Kept.
func serveWho(t *testing.T, addr string) {
	t.Helper()
	svc := connect(t, "nats://svc:pass@"+addr)
	if _, err := svc.Subscribe("svc.who", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Data = []byte(m.Header.Get("Nats-Request-Info"))
		r.Header.Set("Kept", m.Header.Get("X-App"))
		_ = svc.PublishMsg(r)
	}); err != nil {
		t.Fatal(err)
	}
	flush(t, svc)
}

// requestInfo decodes the Nats-Request-Info a serveWho answer carries.
func requestInfo(t *testing.T, resp *nats.Msg) map[string]any {
	t.Helper()
	var info map[string]any
	if err := json.Unmarshal(resp.Data, &info); err != nil {
		t.Fatalf("Nats-Request-Info %q: %v", resp.Data, err)
	}
	return info
}

// requestInfoKeys runs fn against both servers and compares the keys of
// the Nats-Request-Info each returns.
func requestInfoKeys(t *testing.T, config string, fn func(t *testing.T, addr string) map[string]any) {
	keys := map[string][]string{}
	servers(t, config, func(t *testing.T, addr string) {
		keys[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = slices.Sorted(maps.Keys(fn(t, addr)))
	})
	if c, n := keys["canopy"], keys["nats-server"]; !slices.Equal(c, n) {
		t.Errorf("Nats-Request-Info keys: canopy %v, nats-server %v", c, n)
	}
}

// TestServiceImportRequestInfo: a request that crosses a service import
// reaches the service with Nats-Request-Info naming the requester's
// account, as nats-server sets it, replacing whatever the requester put
// there; the requester's own headers stay. The JSON's keys match
// nats-server's.
func TestServiceImportRequestInfo(t *testing.T) {
	const config = `
accounts {
  APP { users [{user: app, password: pass}], imports [{service: {account: SVC, subject: "svc.who"}, to: "who"}] }
  SVC { users [{user: svc, password: pass}], exports [{service: "svc.who"}] }
}
`
	requestInfoKeys(t, config, func(t *testing.T, addr string) map[string]any {
		serveWho(t, addr)
		app := connect(t, "nats://app:pass@"+addr)
		req := nats.NewMsg("who")
		req.Header.Set("X-App", "mine")
		req.Header.Set("Nats-Request-Info", `{"acc":"SVC"}`)
		req.Data = []byte("hello")
		resp, err := app.RequestMsg(req, wait)
		if err != nil {
			t.Fatal(err)
		}
		if info := requestInfo(t, resp); info["acc"] != "APP" {
			t.Fatalf("Nats-Request-Info %s: want the requester's account APP", resp.Data)
		}
		if got := resp.Header.Get("Kept"); got != "mine" {
			t.Fatalf("the requester's header reached the service as %q", got)
		}
		// A request without headers gets them for the service.
		plain, err := app.Request("who", []byte("hi"), wait)
		if err != nil {
			t.Fatal(err)
		}
		info := requestInfo(t, plain)
		if info["acc"] != "APP" {
			t.Fatalf("Nats-Request-Info of a request without headers: %q", plain.Data)
		}
		return info
	})
}

// TestServiceImportRequestInfoShared: an import with share: true gives the
// service the requester's details, with nats-server's keys.
func TestServiceImportRequestInfoShared(t *testing.T) {
	const config = `
server_name: reqinfo
accounts {
  APP { users [{user: app, password: pass}], imports [{service: {account: SVC, subject: "svc.who"}, to: "who", share: true}] }
  SVC { users [{user: svc, password: pass}], exports [{service: "svc.who"}] }
}
`
	requestInfoKeys(t, config, func(t *testing.T, addr string) map[string]any {
		serveWho(t, addr)
		app := connect(t, "nats://app:pass@"+addr, nats.Name("asker"))
		resp, err := app.Request("who", nil, wait)
		if err != nil {
			t.Fatal(err)
		}
		info := requestInfo(t, resp)
		if info["acc"] != "APP" || info["user"] != "app" || info["name"] != "asker" || info["server"] != "reqinfo" || info["kind"] != "Client" {
			t.Fatalf("Nats-Request-Info %s: want the requester's details", resp.Data)
		}
		return info
	})
}

// TestServiceImportRequestInfoChained: a request that crosses two
// imports keeps the requester's account and names the account between
// them (svc), as nats-server's does.
func TestServiceImportRequestInfoChained(t *testing.T) {
	const config = `
accounts {
  APP { users [{user: app, password: pass}], imports [{service: {account: MID, subject: "mid.who"}, to: "who"}] }
  MID { users [{user: mid, password: pass}], exports [{service: "mid.who"}], imports [{service: {account: SVC, subject: "svc.who"}, to: "mid.who"}] }
  SVC { users [{user: svc, password: pass}], exports [{service: "svc.who"}] }
}
`
	requestInfoKeys(t, config, func(t *testing.T, addr string) map[string]any {
		serveWho(t, addr)
		app := connect(t, "nats://app:pass@"+addr)
		resp, err := app.Request("who", nil, wait)
		if err != nil {
			t.Fatal(err)
		}
		info := requestInfo(t, resp)
		if info["acc"] != "APP" || info["svc"] != "MID" {
			t.Fatalf("Nats-Request-Info %s: want acc APP, svc MID", resp.Data)
		}
		return info
	})
}
