package bench

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestFlowCheck: the steady flow's check accepts what the publisher sends
// and catches any single changed byte, a cut message and a wrong length.
func TestFlowCheck(t *testing.T) {
	b := make([]byte, flowPayload)
	flowMessage(b, 12345)
	if seq, ok := flowCheck(b); !ok || seq != 12345 {
		t.Fatalf("intact message: seq %d ok %v", seq, ok)
	}
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x20
		if _, ok := flowCheck(c); ok {
			t.Fatalf("byte %d changed, still intact", i)
		}
	}
	if _, ok := flowCheck(b[:flowPayload-1]); ok {
		t.Fatal("a cut message passed")
	}
	if _, ok := flowCheck(append(bytes.Clone(b), 0)); ok {
		t.Fatal("a longer message passed")
	}
}

// TestChaosTrafficSameForEveryServer: the fuzzed sessions depend on the
// seed only, so both servers get the same bytes, and mutation never
// panics whatever it is given.
func TestChaosTrafficSameForEveryServer(t *testing.T) {
	for _, build := range []func(*rand.Rand, int) []byte{clientTraffic, leafTraffic} {
		a, b := rand.New(rand.NewPCG(7, 1)), rand.New(rand.NewPCG(7, 1))
		for i := 0; i < 200; i++ {
			x, y := build(a, i), build(b, i)
			if !bytes.Equal(x, y) {
				t.Fatalf("session %d differs between two runs of the same seed", i)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		op := make([]byte, rng.IntN(4))
		mutate(rng, op)
	}
}
