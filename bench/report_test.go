package bench

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"image/png"
	"os"
	"regexp"
	"strings"
	"testing"
)

// testdata/suite.json is a small recorded run of `canopy-bench suite`
// (nats-server v2.15.2 as A, Canopy as B, two pairs of pubsub-16,
// fanout-128, reqrep and conns at reduced counts, conns also at two more
// counts of the curve), kept so that the report is tested on what the suite
// really writes.
func loadSuiteFixture(t *testing.T) *SuiteReport {
	t.Helper()
	b, err := os.ReadFile("testdata/suite.json")
	if err != nil {
		t.Fatal(err)
	}
	var r SuiteReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Runs) == 0 {
		t.Fatal("the fixture holds no runs")
	}
	return &r
}

var imgRE = regexp.MustCompile(`<img src="([^"]*)" alt="([^"]*)">`)

// embeddedCharts checks that every image of page is a PNG inside the page
// and returns the charts' titles.
func embeddedCharts(t *testing.T, page string) []string {
	t.Helper()
	var titles []string
	for _, m := range imgRE.FindAllStringSubmatch(page, -1) {
		data, ok := strings.CutPrefix(html.UnescapeString(m[1]), "data:image/png;base64,")
		if !ok {
			t.Errorf("chart %q is not an embedded PNG: %.60s", m[2], m[1])
			continue
		}
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			t.Errorf("chart %q: %v", m[2], err)
			continue
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width < 1000 {
			t.Errorf("chart %q: not a PNG of a useful size (%v, %dx%d)", m[2], err, cfg.Width, cfg.Height)
		}
		titles = append(titles, html.UnescapeString(m[2]))
	}
	return titles
}

// selfContained fails on anything the page would fetch from elsewhere.
func selfContained(t *testing.T, page string) {
	t.Helper()
	for _, ref := range []string{`src="http`, `href=`, `<script`, `<link`, `@import`, `url(`} {
		if strings.Contains(page, ref) {
			t.Errorf("the page refers outside itself: %q", ref)
		}
	}
}

func TestSuiteHTMLReport(t *testing.T) {
	r := loadSuiteFixture(t)
	var buf bytes.Buffer
	if err := WriteSuiteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	selfContained(t, page)
	got := embeddedCharts(t, page)
	want := []string{chartThroughput, chartCPU, chartLatency, chartConnMem, chartConnRate, chartConnPing}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("charts embedded: %q, want %q", got, want)
	}
	for _, title := range want {
		if !strings.Contains(page, "<h2>"+title+"</h2>") {
			t.Errorf("chart %q has no heading", title)
		}
	}
	for _, run := range r.Runs {
		for _, name := range []string{run.Case, html.EscapeString(run.Title), html.EscapeString(run.Server)} {
			if !strings.Contains(page, name) {
				t.Errorf("the page never names %q", name)
			}
		}
	}
	for _, row := range r.Rows {
		if !strings.Contains(page, "<td>"+html.EscapeString(row.Title)+"</td>") {
			t.Errorf("the results table has no row for %q", row.Title)
		}
	}
}

func TestResultsHTMLReport(t *testing.T) {
	r := loadSuiteFixture(t)
	var as, bs []*Result
	for _, run := range r.Runs {
		if run.Case != "reqrep" {
			continue
		}
		if run.Side == "A" {
			as = append(as, run.Result)
		} else {
			bs = append(bs, run.Result)
		}
	}
	var buf bytes.Buffer
	if err := WriteResultsHTML(&buf, "reqrep: A against B", as, bs); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	selfContained(t, page)
	got := embeddedCharts(t, page)
	// No idle-connection run, so none of their charts.
	want := []string{chartThroughput, chartCPU, chartLatency}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("charts embedded: %q, want %q", got, want)
	}

	// A failed run alone draws no chart but still makes a page that says so.
	buf.Reset()
	failed := &Result{Scenario: PubSub, Label: "down", Errors: []string{"cannot connect"}}
	if err := WriteResultsHTML(&buf, "failed", []*Result{failed}, nil); err != nil {
		t.Fatal(err)
	}
	if page := buf.String(); len(embeddedCharts(t, page)) != 0 || !strings.Contains(page, "cannot connect") {
		t.Fatalf("a failed run's page: %s", page)
	}
}
