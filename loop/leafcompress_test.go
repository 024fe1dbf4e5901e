package loop

import (
	"testing"
	"time"
)

func TestS2AutoLevel(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		rtt        time.Duration
		thresholds []time.Duration
		want       string
	}{
		{ms, nil, compressUncompressed},
		{10 * ms, nil, compressUncompressed},
		{11 * ms, nil, compressFast},
		{60 * ms, nil, compressBetter},
		{200 * ms, nil, compressBest},
		{time.Second, nil, compressBest},
		{5 * ms, []time.Duration{0, 0, 20 * ms}, compressBetter},
		{50 * ms, []time.Duration{0, 0, 20 * ms}, compressBest},
		{50 * ms, []time.Duration{10 * ms, 20 * ms}, compressFast},
		{5 * ms, []time.Duration{0, 30 * ms}, compressFast},
	}
	for _, c := range cases {
		if got := s2AutoLevel(c.rtt, c.thresholds); got != c.want {
			t.Errorf("s2AutoLevel(%v, %v) = %s, want %s", c.rtt, c.thresholds, got, c.want)
		}
	}
}

func TestSelectCompression(t *testing.T) {
	cases := []struct{ ours, theirs, want string }{
		{compressAuto, "", compressNotSupported},
		{compressAuto, compressNotSupported, compressNotSupported},
		{compressFast, compressOff, compressOff},
		{compressAccept, compressAccept, compressOff},
		{compressBest, compressAccept, compressBest},
		{compressAccept, compressAuto, compressFast},
		{compressAccept, compressBetter, compressBetter},
		{compressBetter, compressFast, compressBetter},
	}
	for _, c := range cases {
		got, err := selectCompression(c.ours, c.theirs)
		if err != nil || got != c.want {
			t.Errorf("selectCompression(%s, %s) = %s, %v; want %s", c.ours, c.theirs, got, err, c.want)
		}
	}
	if _, err := selectCompression(compressAuto, "zstd"); err == nil || err.Error() != `unsupported route compression mode "zstd"` {
		t.Errorf("unknown mode: %v", err)
	}
}
