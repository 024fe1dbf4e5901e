package loop_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
)

const accountsConf = `
accounts {
  A: {
    users: [ {user: a, password: a} ]
    exports: [ {stream: "events.>"}, {service: "svc.time"} ]
  }
  B: {
    users: [ {user: b, password: b} ]
    imports: [
      {stream: {account: A, subject: "events.>"}, prefix: "from_a"}
      {service: {account: A, subject: "svc.time"}, to: "time"}
    ]
  }
  C: {
    users: [ {user: c, password: c} ]
  }
}
`

func TestAccountIsolationAndImports(t *testing.T) {
	s := natstest.StartCanopy(t, accountsConf)
	addr := s.ClientAddr().String()
	na := natstest.Connect(t, "nats://a:a@"+addr)
	nb := natstest.Connect(t, "nats://b:b@"+addr)
	nc := natstest.Connect(t, "nats://c:c@"+addr)

	// Isolation: C sees nothing of A, B sees only what it imports.
	cs, _ := nc.SubscribeSync(">")
	bs, _ := nb.SubscribeSync(">")
	nc.Flush()
	nb.Flush()
	na.Publish("private.x", []byte("p"))
	na.Publish("events.login", []byte("e"))
	na.Flush()
	m, err := bs.NextMsg(2 * time.Second)
	if err != nil || m.Subject != "from_a.events.login" || string(m.Data) != "e" {
		t.Fatalf("B got %v, %v; want from_a.events.login", m, err)
	}
	// A barrier in C: its own message arrives after anything from A would.
	nc.Publish("c.barrier", nil)
	m, err = cs.NextMsg(2 * time.Second)
	if err != nil || m.Subject != "c.barrier" {
		t.Fatalf("C got %v, %v; want only its own barrier", m, err)
	}
	if m, err := bs.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("B got a second message %q", m.Subject)
	}

	// Service import answered across accounts.
	na.Subscribe("svc.time", func(m *nats.Msg) { m.Respond([]byte("noon")) })
	na.Flush()
	r, err := nb.Request("time", nil, 2*time.Second)
	if err != nil || string(r.Data) != "noon" {
		t.Fatalf("service import: %v, %v", r, err)
	}
	// Nobody in C can reach A's service, and nobody answers: no responders.
	cs.Unsubscribe()
	if _, err := nc.Request("time", nil, 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("C requesting: %v, want no responders", err)
	}
}

func TestServiceImportNoResponders(t *testing.T) {
	s := natstest.StartCanopy(t, accountsConf)
	nb := natstest.Connect(t, "nats://b:b@"+s.ClientAddr().String())
	if _, err := nb.Request("time", nil, 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request to an unanswered service: %v, want no responders", err)
	}
}

func TestServiceReplyCannotBeForged(t *testing.T) {
	s := natstest.StartCanopy(t, accountsConf)
	addr := s.ClientAddr().String()
	na := natstest.Connect(t, "nats://a:a@"+addr)
	nb := natstest.Connect(t, "nats://b:b@"+addr)
	var issued string
	na.Subscribe("svc.time", func(m *nats.Msg) {
		issued = m.Reply
		m.Respond([]byte("noon"))
	})
	na.Flush()
	if _, err := nb.Request("time", nil, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	bs, _ := nb.SubscribeSync(">")
	nb.Flush()
	// An answer to an already answered reply, and a made-up one, go nowhere.
	na.Publish(issued, []byte("again"))
	na.Publish(issued[:len(issued)-1]+"999", []byte("forged"))
	na.Flush()
	nb.Publish("b.barrier", nil)
	m, err := bs.NextMsg(2 * time.Second)
	if err != nil || m.Subject != "b.barrier" {
		t.Fatalf("B got %v, %v; want only its barrier", m, err)
	}
}
