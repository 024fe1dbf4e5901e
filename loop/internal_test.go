package loop_test

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestPublishInternal: the server's own messages, published from many
// goroutines at once, all reach a subscriber, each goroutine's in order,
// and only in the account they were published in.
func TestPublishInternal(t *testing.T) {
	const config = `
accounts {
  A { users [{user: a, password: pass}] }
  B { users [{user: b, password: pass}] }
}
loops: 2
`
	s, _ := startCanopy(t, config)
	na := connect(t, "nats://a:pass@"+s.ClientAddr().String())
	nb := connect(t, "nats://b:pass@"+s.ClientAddr().String())
	sub, err := na.SubscribeSync("internal.>")
	if err != nil {
		t.Fatal(err)
	}
	other, err := nb.SubscribeSync("internal.>")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, na)
	flush(t, nb)
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subj := "internal." + strconv.Itoa(g)
			for i := range each {
				if !s.PublishInternal("A", subj, []byte(strconv.Itoa(i))) {
					t.Error("no account A")
					return
				}
			}
		}()
	}
	wg.Wait()
	next := map[string]int{}
	for n := 0; n < goroutines*each; n++ {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("after %d messages: %v", n, err)
		}
		i, _ := strconv.Atoi(string(m.Data))
		if i != next[m.Subject] {
			t.Fatalf("%s: got %d, want %d", m.Subject, i, next[m.Subject])
		}
		next[m.Subject]++
	}
	if m, err := other.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("account B got %s %q", m.Subject, m.Data)
	}
}
