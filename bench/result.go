package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Result is what one run measured. It is filled in as far as the run got, so
// a failed run still shows its numbers next to its error.
type Result struct {
	Scenario Scenario `json:"scenario"`
	Label    string   `json:"server"`
	URL      string   `json:"url"`
	SubURL   string   `json:"sub_url,omitempty"`
	Size     int      `json:"size"`
	Pubs     int      `json:"pubs"`
	Subs     int      `json:"subs"`

	// Sent is how many data messages (or requests) were published.
	Sent int64 `json:"sent"`
	// Expected is how many deliveries should have arrived in all: Sent once
	// per subscriber, or once per queue group.
	Expected int64 `json:"expected"`
	// Received counts deliveries, duplicates included.
	Received   int64 `json:"received"`
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	Reordered  int64 `json:"reordered"`
	Unexpected int64 `json:"unexpected"`
	Warmup     int64 `json:"warmup,omitempty"`

	// PubSeconds is how long publishing took, until the last publisher's
	// flush returned; Seconds runs until the last delivery arrived.
	PubSeconds    float64 `json:"pub_seconds"`
	Seconds       float64 `json:"seconds"`
	PubMsgsPerSec float64 `json:"pub_msgs_per_sec"`
	// MsgsPerSec is deliveries per second summed over the subscribers
	// (published messages per second for Pub, requests per second for
	// ReqRep, connections opened per second for Conns).
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"`

	Latency *Latency     `json:"latency,omitempty"`
	Conns   *ConnsResult `json:"conns,omitempty"`

	// ServerCPU is the CPU time the server processes spent per delivery
	// (per request for ReqRep, per connection opened for Conns, per
	// message published for Pub), in
	// nanoseconds, when the suite started
	// them and could read /proc; 0 otherwise. On a machine where the load
	// generator and the server share the cores, throughput is often the
	// client's limit, and this is what tells the servers apart.
	ServerCPU float64 `json:"server_cpu_ns_per_msg,omitempty"`

	OK     bool     `json:"ok"`
	Errors []string `json:"errors,omitempty"`
}

// Latency is a round-trip distribution, in microseconds: request to reply
// for ReqRep, PING to PONG on a random sample of the idle connections for
// Conns.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p99_9_us"`
	Max   float64 `json:"max_us"`
	// Percentiles is the curve through the HdrHistogram, from 0 to 99.999,
	// that the HTML report draws.
	Percentiles []Percentile `json:"percentiles,omitempty"`
}

// Percentile is one point of a latency curve: Q percent of the round trips
// took at most Us microseconds.
type Percentile struct {
	Q  float64 `json:"q"`
	Us float64 `json:"us"`
}

// ConnsResult is what the idle-connection scenario measured.
type ConnsResult struct {
	Opened     int  `json:"opened"`
	Subscribed bool `json:"subscribed"`
	SourceIPs  int  `json:"source_ips"`
	// TLS says each connection did a full TLS handshake; Dialers is how
	// many were being opened at once, which the opening rate depends on.
	TLS     bool `json:"tls"`
	Dialers int  `json:"dialers"`
	// HeldSeconds is how long they were held; Alive is how many were still
	// open at the end of the hold.
	HeldSeconds float64 `json:"held_seconds"`
	Alive       int     `json:"alive"`
	// Server memory, when the server's pid was given (bytes).
	ServerPID       int   `json:"server_pid,omitempty"`
	ServerRSSBefore int64 `json:"server_rss_before,omitempty"`
	ServerRSSAfter  int64 `json:"server_rss_after,omitempty"`
	// BytesPerConn is measured once the connections have been idle for
	// connsSettle, which is what a server holding them costs;
	// BytesPerConnAtOpen right after the last one got its PONG, which
	// still holds what opening them left behind.
	BytesPerConn       float64 `json:"server_bytes_per_conn,omitempty"`
	BytesPerConnAtOpen float64 `json:"server_bytes_per_conn_at_open,omitempty"`
	// The harness's own memory per connection, for reference.
	ClientBytesPerConn float64 `json:"client_bytes_per_conn"`
	NoFileLimit        uint64  `json:"nofile_limit"`
}

// Metric is one number a comparison looks at.
type Metric struct {
	Name           string  `json:"name"`
	Unit           string  `json:"unit"`
	Value          float64 `json:"value"`
	HigherIsBetter bool    `json:"higher_is_better"`
}

// Metric names, used by Compare and the suite to pick numbers out of results.
const (
	MetricMsgs     = "msgs/s"
	MetricMB       = "MB/s"
	MetricP50      = "p50"
	MetricP90      = "p90"
	MetricP99      = "p99"
	MetricP999     = "p99.9"
	MetricMax      = "max"
	MetricConnMem  = "mem/conn"
	MetricConnRate = "conns/s"
	MetricCPU      = "server CPU"
)

// Metrics lists the numbers of the result that are worth comparing, the
// headline first.
func (r *Result) Metrics() []Metric {
	switch r.Scenario {
	case ReqRep:
		ms := []Metric{{MetricMsgs, "req/s", r.MsgsPerSec, true}}
		if l := r.Latency; l != nil {
			ms = append(ms,
				Metric{MetricP50, "us", l.P50, false},
				Metric{MetricP90, "us", l.P90, false},
				Metric{MetricP99, "us", l.P99, false},
				Metric{MetricP999, "us", l.P999, false},
				Metric{MetricMax, "us", l.Max, false})
		}
		if r.ServerCPU > 0 {
			ms = append(ms, Metric{MetricCPU, "ns/req", r.ServerCPU, false})
		}
		return ms
	case Conns:
		var ms []Metric
		if c := r.Conns; c != nil && c.ServerPID != 0 {
			ms = append(ms, Metric{MetricConnMem, "B", c.BytesPerConn, false})
		}
		ms = append(ms, Metric{MetricConnRate, "conns/s", r.MsgsPerSec, true})
		if l := r.Latency; l != nil {
			ms = append(ms, Metric{MetricP50, "us", l.P50, false}, Metric{MetricP99, "us", l.P99, false})
		}
		if r.ServerCPU > 0 {
			ms = append(ms, Metric{MetricCPU, "ns/conn", r.ServerCPU, false})
		}
		return ms
	default:
		ms := []Metric{
			{MetricMsgs, "msgs/s", r.MsgsPerSec, true},
			{MetricMB, "MB/s", r.MBPerSec, true},
		}
		if r.ServerCPU > 0 {
			ms = append(ms, Metric{MetricCPU, "ns/msg", r.ServerCPU, false})
		}
		return ms
	}
}

// Metric returns the named metric of the result.
func (r *Result) Metric(name string) (Metric, bool) {
	for _, m := range r.Metrics() {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

func (r *Result) status() string {
	if r.OK {
		return "ok"
	}
	return "FAIL"
}

// WriteTable writes the results as an aligned, human-readable table, one
// row per run, followed by the errors of any failed run.
func WriteTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tserver\tsize\tpubs\tsubs\tsent\treceived\tmsgs/s\tMB/s\tp50 us\tp99 us\tp99.9 us\tmax us\tmem/conn\tstatus\t")
	for _, r := range results {
		p50, p99, p999, pmax, mem := "-", "-", "-", "-", "-"
		if l := r.Latency; l != nil {
			p50, p99, p999, pmax = fmtFloat(l.P50), fmtFloat(l.P99), fmtFloat(l.P999), fmtFloat(l.Max)
		}
		if c := r.Conns; c != nil && c.ServerPID != 0 {
			mem = fmtBytes(c.BytesPerConn)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Scenario, r.Label, r.Size, r.Pubs, r.Subs, r.Sent, r.Received,
			fmtFloat(r.MsgsPerSec), fmtFloat(r.MBPerSec), p50, p99, p999, pmax, mem, r.status())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		for _, e := range r.Errors {
			if _, err := fmt.Fprintf(w, "%s %s: %s\n", r.Scenario, r.Label, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteJSON writes the results as one indented JSON array.
func WriteJSON(w io.Writer, results []*Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

// csvHeader is the column list of WriteCSV; it never changes order, only
// grows at the end.
var csvHeader = []string{
	"scenario", "server", "url", "sub_url", "size", "pubs", "subs",
	"sent", "expected", "received", "lost", "duplicated", "reordered", "unexpected",
	"pub_seconds", "seconds", "pub_msgs_per_sec", "msgs_per_sec", "mb_per_sec",
	"p50_us", "p90_us", "p99_us", "p99_9_us", "max_us",
	"conns", "server_bytes_per_conn", "ok", "errors",
}

// WriteCSV writes a header row and one row per result.
func WriteCSV(w io.Writer, results []*Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, r := range results {
		var l Latency
		if r.Latency != nil {
			l = *r.Latency
		}
		conns, mem := "", ""
		if c := r.Conns; c != nil {
			conns = strconv.Itoa(c.Opened)
			if c.ServerPID != 0 {
				mem = f(c.BytesPerConn)
			}
		}
		row := []string{
			string(r.Scenario), r.Label, r.URL, r.SubURL, strconv.Itoa(r.Size), strconv.Itoa(r.Pubs), strconv.Itoa(r.Subs),
			i(r.Sent), i(r.Expected), i(r.Received), i(r.Lost), i(r.Duplicated), i(r.Reordered), i(r.Unexpected),
			f(r.PubSeconds), f(r.Seconds), f(r.PubMsgsPerSec), f(r.MsgsPerSec), f(r.MBPerSec),
			f(l.P50), f(l.P90), f(l.P99), f(l.P999), f(l.Max),
			conns, mem, strconv.FormatBool(r.OK), strings.Join(r.Errors, "; "),
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// fmtFloat prints a number with thousands separators and a precision that
// suits its size.
func fmtFloat(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return groupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtBytes(v float64) string {
	switch {
	case v >= 1<<20:
		return strconv.FormatFloat(v/(1<<20), 'f', 2, 64) + " MiB"
	case v >= 1<<10:
		return strconv.FormatFloat(v/(1<<10), 'f', 2, 64) + " KiB"
	default:
		return strconv.FormatFloat(v, 'f', 0, 64) + " B"
	}
}
