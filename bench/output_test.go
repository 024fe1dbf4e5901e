package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

// results returns one real result of each kind and one failed run.
func sampleResults(t *testing.T) []*Result {
	t.Helper()
	s := runServer(t, nil)
	var rs []*Result
	for _, sc := range []Scenario{PubSub, ReqRep, Conns} {
		o := quick(s.ClientURL(), sc)
		o.Count, o.Conns, o.ServerPID = 200, 10, 0
		rs = append(rs, mustRun(t, o))
	}
	failed, _ := Run(context.Background(), Options{URL: "nats://127.0.0.1:1", Timeout: 200e6})
	return append(rs, failed)
}

func TestJSONIsWellFormed(t *testing.T) {
	rs := sampleResults(t)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rs); err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, buf.String())
	}
	if len(back) != len(rs) {
		t.Fatalf("%d objects, want %d", len(back), len(rs))
	}
	if back[0]["scenario"] != "pubsub" || back[0]["received"].(float64) != 200 || back[0]["ok"] != true {
		t.Errorf("pubsub object wrong: %v", back[0])
	}
	lat, ok := back[1]["latency"].(map[string]any)
	if !ok || lat["p99_us"].(float64) <= 0 {
		t.Errorf("reqrep latency missing: %v", back[1])
	}
	if back[3]["ok"] != false || len(back[3]["errors"].([]any)) == 0 {
		t.Errorf("failed run not marked: %v", back[3])
	}
}

func TestCSVIsWellFormed(t *testing.T) {
	rs := sampleResults(t)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	if len(rows) != len(rs)+1 {
		t.Fatalf("%d rows, want a header and %d", len(rows), len(rs))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for i, r := range rows[1:] {
		if len(r) != len(csvHeader) {
			t.Fatalf("row %d has %d fields, want %d", i, len(r), len(csvHeader))
		}
	}
	if rows[1][col["received"]] != "200" || rows[1][col["ok"]] != "true" {
		t.Errorf("pubsub row wrong: %v", rows[1])
	}
	if rows[4][col["ok"]] != "false" || rows[4][col["errors"]] == "" {
		t.Errorf("failed row not marked: %v", rows[4])
	}
}

func TestTable(t *testing.T) {
	rs := sampleResults(t)
	var buf bytes.Buffer
	if err := WriteTable(&buf, rs); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"scenario", "pubsub", "reqrep", "conns", "FAIL", "cannot connect"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestCompareAlternates(t *testing.T) {
	a, b := runServer(t, nil), runServer(t, nil)
	oa := quick(a.ClientURL(), PubSub)
	ob := oa
	ob.URL = b.ClientURL()
	c, err := Compare(context.Background(), oa, ob, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ARuns) != 2 || len(c.BRuns) != 2 || c.ARuns[0].URL != a.ClientURL() || c.BRuns[0].URL != b.ClientURL() {
		t.Fatalf("runs not alternated between the two servers: %+v", c)
	}
	if len(c.Rows) == 0 || c.Rows[0].Metric != MetricMsgs || c.Rows[0].Ratio <= 0 || len(c.Rows[0].A) != 2 {
		t.Fatalf("rows wrong: %+v", c.Rows)
	}
	var buf bytes.Buffer
	if err := WriteComparisonJSON(&buf, c); err != nil || !json.Valid(buf.Bytes()) {
		t.Fatalf("comparison JSON: %v", err)
	}
	buf.Reset()
	if err := WriteComparisonCSV(&buf, c); err != nil {
		t.Fatal(err)
	}
	if _, err := csv.NewReader(&buf).ReadAll(); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := WriteComparisonTable(&buf, c); err != nil || !strings.Contains(buf.String(), "B/A") {
		t.Fatalf("comparison table: %v\n%s", err, buf.String())
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
