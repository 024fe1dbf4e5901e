package bench

import "testing"

func TestSeqSet(t *testing.T) {
	var s seqSet
	const n = 3*chunkBits + 100
	for seq := uint64(1); seq <= n; seq++ {
		if seq == 64 || seq == chunkBits+1 || seq == n {
			continue
		}
		if s.add(seq) {
			t.Fatalf("seq %d reported as a duplicate on first sight", seq)
		}
	}
	if !s.add(7) {
		t.Fatal("a duplicate was not reported")
	}
	missing, first := s.missing(n)
	if missing != 3 || first != 64 {
		t.Fatalf("missing %d (first %d), want 3 (first 64)", missing, first)
	}
	// A chunk never touched counts as missing in full.
	var empty seqSet
	empty.add(5 * chunkBits)
	if m, f := empty.missing(5 * chunkBits); m != 5*chunkBits-1 || f != 1 {
		t.Fatalf("sparse set: missing %d first %d", m, f)
	}
}

func TestTagRoundTrip(t *testing.T) {
	for _, in := range []tag{
		{kindData, 1, 0, 1},
		{kindProbe, 0xffffff, 7, 1 << 40},
		{kindWarmup, 12345, 0xffffffff, 99},
	} {
		var b [tagLen]byte
		in.put(b[:])
		out, ok := parseTag(b[:])
		if !ok || out != in {
			t.Fatalf("round trip of %+v gave %+v (%v)", in, out, ok)
		}
	}
	if _, ok := parseTag([]byte("0123456789abcdef")); ok {
		t.Fatal("a text payload parsed as a tag")
	}
}
