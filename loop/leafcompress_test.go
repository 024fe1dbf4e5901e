package loop

import (
	"net/url"
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

func TestTLSName(t *testing.T) {
	u := func(s string) *url.URL { x, _ := url.Parse(s); return x }
	conf := []*url.URL{u("tls://hub.example.com:7422")}
	if got := tlsName(u("tls://10.1.2.3:7422"), conf); got != "hub.example.com" {
		t.Errorf("discovered IP: %s", got)
	}
	if got := tlsName(u("tls://other.example.com:7422"), conf); got != "other.example.com" {
		t.Errorf("host: %s", got)
	}
	if got := tlsName(u("tls://127.0.0.1:7422"), []*url.URL{u("tls://127.0.0.1:7422")}); got != "127.0.0.1" {
		t.Errorf("only IPs: %s", got)
	}
}
