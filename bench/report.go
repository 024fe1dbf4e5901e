package bench

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The HTML report is one file with nothing outside it: the charts are PNG
// images drawn by gonum.org/v1/plot and embedded as data: URLs, the style
// sheet is inline, and there is no script. PNG rather than SVG because an
// SVG names its fonts and leaves them to the browser, which lays out the
// labels with other metrics than the plot measured them with; a PNG shows
// what was drawn. They are drawn at twice the size they are shown at, to
// stay sharp on dense screens.

// Chart titles; the report test looks for each of them.
const (
	chartThroughput = "Throughput per scenario"
	chartCPU        = "Server CPU per message"
	chartLatency    = "Request/reply latency by percentile"
	chartConnMem    = "Server memory per idle connection"
	chartConnRate   = "Connection opening rate"
	chartConnPing   = "PING round trip on idle connections"
)

const (
	chartWidth  = 9 * vg.Inch
	chartHeight = 4.5 * vg.Inch
	chartDPI    = 192
)

// The two sides keep their colours in every chart: A (the baseline) grey
// blue, B (the candidate) green.
var sideColors = map[string]color.Color{
	"A": color.RGBA{R: 0x4c, G: 0x6e, B: 0xa8, A: 0xff},
	"B": color.RGBA{R: 0x2e, G: 0x9e, B: 0x4f, A: 0xff},
}

// chart is one embedded image with its caption.
type chart struct {
	Title   string
	Caption string
	PNG     template.URL // a data: URL
}

// reportPage is what the template lays out.
type reportPage struct {
	Title   string
	Header  []string
	Charts  []chart
	Suite   *SuiteReport
	Runs    []SuiteRun
	Cases   []caseLabel
	Problem []string
}

type caseLabel struct{ Key, Title string }

// WriteSuiteHTML writes the suite report as one self-contained HTML page:
// the suite's table, and charts of throughput and server CPU per message
// for both servers with every pair's value, request/reply latency curves,
// and memory per connection against the connection count.
func WriteSuiteHTML(w io.Writer, r *SuiteReport) error {
	m := r.Machine
	pg := &reportPage{
		Title: fmt.Sprintf("canopy-bench suite: %s against %s", r.B.Name, r.A.Name),
		Header: []string{
			fmt.Sprintf("A = %s, B = %s; %d pair(s) per case in alternation, fresh servers every run; scale %g; %.0f s.", r.A.Name, r.B.Name, r.Pairs, r.Scale, r.Seconds),
			fmt.Sprintf("Machine: %d cores, %s, %s/%s, %s; load average %s at start, %s at end.", m.Cores, m.CPU, m.OS, m.Arch, m.Go, m.LoadStart, m.LoadEnd),
		},
		Suite:   r,
		Runs:    r.Runs,
		Problem: r.Failures,
	}
	return writePage(w, pg)
}

// WriteResultsHTML writes single runs as a page of the same charts. Runs of
// a comparison are A and B by turns, as Compare returns them.
func WriteResultsHTML(w io.Writer, title string, as, bs []*Result) error {
	pg := &reportPage{Title: title, Header: []string{"Generated " + time.Now().UTC().Format(time.RFC1123) + "."}}
	add := func(side string, rs []*Result) {
		for i, r := range rs {
			if r == nil {
				continue
			}
			key := string(r.Scenario)
			pg.Runs = append(pg.Runs, SuiteRun{Case: key, Title: key, Side: side, Server: r.Label, Pair: i + 1, Result: r})
			for _, e := range r.Errors {
				pg.Problem = append(pg.Problem, fmt.Sprintf("%s %s: %s", r.Scenario, r.Label, e))
			}
		}
	}
	add("A", as)
	add("B", bs)
	return writePage(w, pg)
}

func writePage(w io.Writer, pg *reportPage) error {
	seen := map[string]bool{}
	for _, r := range pg.Runs {
		if !seen[r.Case] {
			seen[r.Case] = true
			pg.Cases = append(pg.Cases, caseLabel{r.Case, r.Title})
		}
	}
	for _, build := range []func([]SuiteRun) (*chart, error){
		throughputChart, cpuChart, latencyChart, connMemChart, connRateChart, connPingChart,
	} {
		c, err := build(pg.Runs)
		if err != nil {
			return fmt.Errorf("bench: report chart: %w", err)
		}
		if c != nil {
			pg.Charts = append(pg.Charts, *c)
		}
	}
	return pageTemplate.Execute(w, pg)
}

// sideNames maps "A" and "B" to the server names the runs carry.
func sideNames(runs []SuiteRun) map[string]string {
	names := map[string]string{}
	for _, r := range runs {
		if names[r.Side] == "" {
			names[r.Side] = r.Server
		}
	}
	return names
}

// spread is the median and range of one side's values for one case.
type spread struct {
	med, lo, hi float64
	n           int
}

func spreadOf(vs []float64) spread {
	if len(vs) == 0 {
		return spread{}
	}
	return spread{med: median(vs), lo: slices.Min(vs), hi: slices.Max(vs), n: len(vs)}
}

// perCase gathers value(result) for each case and side, over the runs that
// succeeded and have the value; the cases keep their order of first run.
func perCase(runs []SuiteRun, value func(*Result) (float64, bool)) (keys []string, vals map[string]map[string][]float64) {
	vals = map[string]map[string][]float64{}
	for _, r := range runs {
		if r.Result == nil || !r.Result.OK {
			continue
		}
		v, ok := value(r.Result)
		if !ok || v <= 0 {
			continue
		}
		if vals[r.Case] == nil {
			vals[r.Case] = map[string][]float64{}
			keys = append(keys, r.Case)
		}
		vals[r.Case][r.Side] = append(vals[r.Case][r.Side], v)
	}
	return keys, vals
}

func throughputChart(runs []SuiteRun) (*chart, error) {
	return caseChart(runs, chartThroughput, "messages per second (log)",
		"Median of each server's runs (large dot) and every run (small dots, joined by the range bar); higher is better. Request/reply counts requests.",
		func(r *Result) (float64, bool) { return r.MsgsPerSec, r.Scenario != Conns })
}

func cpuChart(runs []SuiteRun) (*chart, error) {
	return caseChart(runs, chartCPU, "server CPU ns per message (log)",
		"User and system CPU of the server processes over the run, per delivered message (per request for request/reply); lower is better. Every run is a dot, the large dot the median.",
		func(r *Result) (float64, bool) { return r.ServerCPU, r.Scenario != Conns })
}

// caseChart draws one value per case on a log axis: for each side its
// median as a large dot, every run as a small one, and a bar over the
// range of the runs.
func caseChart(runs []SuiteRun, title, ylabel, caption string, value func(*Result) (float64, bool)) (*chart, error) {
	keys, vals := perCase(runs, value)
	if len(keys) == 0 {
		return nil, nil
	}
	p := newPlot("", ylabel)
	p.NominalX(keys...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.X.Min, p.X.Max = -0.6, float64(len(keys))-0.4
	var every []float64
	for _, byside := range vals {
		for _, vs := range byside {
			every = append(every, vs...)
		}
	}
	padLog(&p.Y, every)
	names := sideNames(runs)
	for _, side := range []string{"A", "B"} {
		offset := -0.15
		if side == "B" {
			offset = 0.15
		}
		var meds, all plotter.XYs
		var bars spreadBars
		for i, k := range keys {
			vs := vals[k][side]
			if len(vs) == 0 {
				continue
			}
			x := float64(i) + offset
			s := spreadOf(vs)
			meds = append(meds, plotter.XY{X: x, Y: s.med})
			bars = append(bars, spreadBar{x: x, s: s})
			for _, v := range vs {
				all = append(all, plotter.XY{X: x, Y: v})
			}
		}
		if len(meds) == 0 {
			continue
		}
		if err := addSide(p, side, names[side], meds, all, bars); err != nil {
			return nil, err
		}
	}
	return render(p, title, caption)
}

// spreadBar is the range of one case's runs; spreadBars gives them to
// YErrorBars as offsets from the median.
type spreadBar struct {
	x float64
	s spread
}

type spreadBars []spreadBar

func (b spreadBars) Len() int                    { return len(b) }
func (b spreadBars) XY(i int) (float64, float64) { return b[i].x, b[i].s.med }
func (b spreadBars) YError(i int) (float64, float64) {
	return b[i].s.med - b[i].s.lo, b[i].s.hi - b[i].s.med
}

// addSide draws one side's medians, runs and ranges, and names it in the
// legend.
func addSide(p *plot.Plot, side, name string, meds, all plotter.XYs, bars spreadBars) error {
	col := sideColors[side]
	if len(bars) > 0 {
		eb, err := plotter.NewYErrorBars(bars)
		if err != nil {
			return err
		}
		eb.Color = col
		eb.Width = vg.Points(1.2)
		p.Add(eb)
	}
	runs, err := plotter.NewScatter(all)
	if err != nil {
		return err
	}
	runs.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(1.8), Shape: draw.RingGlyph{}}
	med, err := plotter.NewScatter(meds)
	if err != nil {
		return err
	}
	med.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
	p.Add(runs, med)
	p.Legend.Add(legendName(side, name), med)
	return nil
}

func legendName(side, name string) string {
	if name == "" {
		return side
	}
	return side + ": " + name
}

// latencyChart draws the percentile curve of every request/reply run: the
// x axis spreads the tail out, as HdrHistogram's plots do, with 90% at 1,
// 99% at 2, 99.9% at 3.
func latencyChart(runs []SuiteRun) (*chart, error) {
	p := newPlot("percentile", "round trip µs (log)")
	p.Legend.Top, p.Legend.Left = false, false
	p.X.Min, p.X.Max = 0, 5.4
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.X.Tick.Marker = plot.ConstantTicks{
		{Value: 0, Label: "0%"}, {Value: 1, Label: "90%"}, {Value: 2, Label: "99%"},
		{Value: 3, Label: "99.9%"}, {Value: 4, Label: "99.99%"}, {Value: 5, Label: "99.999%"},
	}
	names := sideNames(runs)
	legend := map[string]bool{}
	drawn := 0
	var every []float64
	for _, r := range runs {
		if r.Result == nil || r.Result.Scenario != ReqRep || r.Result.Latency == nil || len(r.Result.Latency.Percentiles) == 0 {
			continue
		}
		var xys plotter.XYs
		for _, pc := range r.Result.Latency.Percentiles {
			if pc.Us <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: -math.Log10(1 - pc.Q/100), Y: pc.Us})
			every = append(every, pc.Us)
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color = sideColors[r.Side]
		l.Width = vg.Points(1.2)
		p.Add(l)
		if !legend[r.Side] {
			legend[r.Side] = true
			p.Legend.Add(legendName(r.Side, names[r.Side]), l)
		}
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	padLog(&p.Y, every)
	return render(p, chartLatency, fmt.Sprintf("One line per run (%d runs): the latency below which that percentage of the requests' round trips fell, from the run's HdrHistogram; lower is better.", drawn))
}

// connSeries gathers value(result) of the idle-connection runs by series
// (the side, and the side over TLS apart) and connection count.
func connSeries(runs []SuiteRun, value func(*Result) (float64, bool)) map[string]map[int][]float64 {
	series := map[string]map[int][]float64{}
	for _, r := range runs {
		res := r.Result
		if res == nil || !res.OK || res.Scenario != Conns || res.Conns == nil {
			continue
		}
		v, ok := value(res)
		if !ok || v <= 0 {
			continue
		}
		key := r.Side
		if res.Conns.TLS {
			key += " TLS"
		}
		if series[key] == nil {
			series[key] = map[int][]float64{}
		}
		series[key][res.Conns.Opened] = append(series[key][res.Conns.Opened], v)
	}
	return series
}

func connMemChart(runs []SuiteRun) (*chart, error) {
	return connChart(runs, chartConnMem, "KiB per connection",
		"Growth of the server's resident memory per idle connection, read after the connections sat idle for 3 s; every run a small dot, the line through the medians; lower is better.",
		func(r *Result) (float64, bool) {
			return r.Conns.BytesPerConn / 1024, r.Conns.ServerPID != 0
		})
}

func connRateChart(runs []SuiteRun) (*chart, error) {
	return connChart(runs, chartConnRate, "connections opened per second",
		"Connections that completed INFO, CONNECT, PING and PONG per second, 64 being opened at once; higher is better.",
		func(r *Result) (float64, bool) { return r.MsgsPerSec, true })
}

func connPingChart(runs []SuiteRun) (*chart, error) {
	return connChart(runs, chartConnPing, "p99 PING round trip µs",
		"99th percentile of one PING/PONG at a time on a random sample of the open connections; lower is better, and flat means the connection count costs nothing per message.",
		func(r *Result) (float64, bool) {
			if r.Latency == nil {
				return 0, false
			}
			return r.Latency.P99, true
		})
}

// connChart draws a value of the idle-connection runs against how many
// connections were open: every run a small dot, a line through the medians,
// one series per side (and per side over TLS).
func connChart(runs []SuiteRun, title, ylabel, caption string, value func(*Result) (float64, bool)) (*chart, error) {
	series := connSeries(runs, value)
	if len(series) == 0 {
		return nil, nil
	}
	p := newPlot("idle connections open", ylabel)
	p.Legend.Left = false
	p.X.Min = 0
	p.X.Tick.Marker = humanTicks{}
	p.Y.Tick.Marker = humanTicks{}
	names := sideNames(runs)
	for _, key := range []string{"A", "B", "A TLS", "B TLS"} {
		byCount := series[key]
		if byCount == nil {
			continue
		}
		counts := make([]int, 0, len(byCount))
		for n := range byCount {
			counts = append(counts, n)
		}
		slices.Sort(counts)
		var meds, all plotter.XYs
		for _, n := range counts {
			meds = append(meds, plotter.XY{X: float64(n), Y: median(byCount[n])})
			for _, v := range byCount[n] {
				all = append(all, plotter.XY{X: float64(n), Y: v})
			}
		}
		side := key[:1]
		col := sideColors[side]
		line, points, err := plotter.NewLinePoints(meds)
		if err != nil {
			return nil, err
		}
		line.Color, line.Width = col, vg.Points(1.5)
		if len(key) > 1 {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		points.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
		dots, err := plotter.NewScatter(all)
		if err != nil {
			return nil, err
		}
		dots.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(1.8), Shape: draw.RingGlyph{}}
		p.Add(line, points, dots)
		name := legendName(side, names[side])
		if len(key) > 1 {
			name += " (TLS)"
		}
		p.Legend.Add(name, line, points)
	}
	// Room above the highest line for the legend, and the y axis from 0
	// so that a flat curve looks flat.
	p.Y.Min = 0
	p.Y.Max *= 1.35
	p.X.Max *= 1.05
	return render(p, title, caption)
}

// newPlot makes a plot in sans-serif type with a grid. The page's heading
// is the chart's title, so the image has none of its own.
func newPlot(xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	for _, ts := range []*text.Style{&p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		ts.Font.Variant = "Sans"
	}
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// padLog widens a log axis by a fifth of a decade past the data on both
// ends, so that no point sits on the axis line.
func padLog(a *plot.Axis, vals []float64) {
	if len(vals) == 0 {
		return
	}
	a.Min, a.Max = slices.Min(vals)/1.6, slices.Max(vals)*1.6
}

// render draws p into a PNG and wraps it as a chart.
func render(p *plot.Plot, title, caption string) (*chart, error) {
	c := vgimg.NewWith(vgimg.UseWH(chartWidth, chartHeight), vgimg.UseDPI(chartDPI))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, err
	}
	// The URL is built here from base64 text alone, so marking it safe
	// for the template cannot let anything else into the page.
	url := template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
	return &chart{Title: title, Caption: caption, PNG: url}, nil
}

// logTicks labels a log axis at 1, 2 and 5 times each power of ten, with
// the thousands grouped, and marks the other integers between them.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for i := 1; i < 10; i++ {
			v := float64(i) * base
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if i == 1 || i == 2 || i == 5 {
				t.Label = tickLabel(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// humanTicks is gonum's default ticker with the thousands grouped.
type humanTicks struct{}

func (humanTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = tickLabel(ts[i].Value)
		}
	}
	return ts
}

func tickLabel(v float64) string {
	switch {
	case v >= 1000:
		return groupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	case v >= 1:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":   fmtFloat,
	"ratio": fmtRatio,
	"runs":  joinFloats,
	"unit":  unitOf,
	"met": func(row SuiteRow) string {
		switch {
		case row.Error != "" || row.Ratio == 0 || row.Goal == "":
			return "-"
		case row.Met:
			return "yes"
		}
		return "no"
	},
	"rateUnit": func(r *Result) string {
		switch r.Scenario {
		case ReqRep:
			return "req/s"
		case Conns:
			return "conns/s"
		}
		return "msgs/s"
	},
	"connMem": func(r *Result) string {
		if c := r.Conns; c != nil && c.ServerPID != 0 {
			return fmtBytes(c.BytesPerConn)
		}
		return "-"
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; }
h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { padding: 0.2em 0.6em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child, td.l { text-align: left; }
td.yes { color: #1d7a3a; } td.no { color: #b3261e; }
figure { margin: 1.5em 0; }
figure img { width: 100%; max-width: 864px; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; max-width: 864px; }
.fail { color: #b3261e; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Header}}<p>{{.}}</p>
{{end}}
{{- if .Problem}}<h2 class="fail">Failures</h2>
<ul>{{range .Problem}}<li class="fail">{{.}}</li>{{end}}</ul>
{{end}}
{{- with .Suite}}<h2>Results</h2>
<table>
<tr><th>case</th><th>metric</th><th>A median</th><th>B median</th><th>B/A</th><th>goal</th><th>met</th><th>runs A</th><th>runs B</th></tr>
{{range .Rows}}<tr><td>{{.Title}}</td><td class="l">{{.Metric}} {{unit .}}</td><td>{{num .AMedian}}</td><td>{{num .BMedian}}</td><td>{{ratio .Ratio}}</td><td>{{.Goal}}</td><td class="{{met .}}">{{met .}}</td><td>{{runs .A}}</td><td>{{runs .B}}</td></tr>
{{end}}</table>
{{end}}
{{- range .Charts}}<h2>{{.Title}}</h2>
<figure><img src="{{.PNG}}" alt="{{.Title}}"><figcaption>{{.Caption}}</figcaption></figure>
{{end}}
<h2>Runs</h2>
<table>
<tr><th>case</th><th>side</th><th>server</th><th>pair</th><th>rate</th><th>unit</th><th>server CPU ns per msg, req or conn</th><th>server memory per conn</th><th>status</th></tr>
{{range .Runs}}<tr><td>{{.Case}}{{with .Result.Conns}} ({{.Opened}}){{end}}</td><td>{{.Side}}</td><td class="l">{{.Server}}</td><td>{{.Pair}}</td><td>{{num .Result.MsgsPerSec}}</td><td class="l">{{rateUnit .Result}}</td><td>{{num .Result.ServerCPU}}</td><td>{{connMem .Result}}</td><td>{{if .Result.OK}}ok{{else}}<span class="fail">FAIL</span>{{end}}</td></tr>
{{end}}</table>
<h2>Cases</h2>
<table>
{{range .Cases}}<tr><td>{{.Key}}</td><td class="l">{{.Title}}</td></tr>
{{end}}</table>
</body>
</html>
`))
