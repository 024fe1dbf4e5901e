package bench

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
)

// Comparison is one scenario run against two servers in alternation,
// A B A B ..., so that drift in the machine (other load, thermal state, page
// cache) falls on both alike.
type Comparison struct {
	Scenario Scenario     `json:"scenario"`
	A        string       `json:"a"`
	B        string       `json:"b"`
	Pairs    int          `json:"pairs"`
	Rows     []CompareRow `json:"rows"`
	ARuns    []*Result    `json:"a_runs"`
	BRuns    []*Result    `json:"b_runs"`
}

// CompareRow is one metric of a comparison: every run's value, the medians,
// and Ratio = B median / A median. Whether a ratio above 1 is good depends
// on HigherIsBetter.
type CompareRow struct {
	Metric         string    `json:"metric"`
	Unit           string    `json:"unit"`
	HigherIsBetter bool      `json:"higher_is_better"`
	A              []float64 `json:"a"`
	B              []float64 `json:"b"`
	AMedian        float64   `json:"a_median"`
	BMedian        float64   `json:"b_median"`
	Ratio          float64   `json:"ratio"`
}

// Compare runs the scenario of a against a's server and the same scenario
// against b's, pairs times each, alternating. b normally differs from a only
// in its URLs and label. It stops at the first failed run and returns what
// it has so far with the error.
func Compare(ctx context.Context, a, b Options, pairs int) (*Comparison, error) {
	if pairs <= 0 {
		pairs = 3
	}
	if err := a.normalize(); err != nil {
		return nil, err
	}
	if err := b.normalize(); err != nil {
		return nil, err
	}
	c := &Comparison{Scenario: a.Scenario, A: a.Label, B: b.Label, Pairs: pairs}
	for range pairs {
		ra, err := Run(ctx, a)
		c.ARuns = append(c.ARuns, ra)
		if err != nil {
			c.summarize()
			return c, fmt.Errorf("server A (%s): %w", a.Label, err)
		}
		rb, err := Run(ctx, b)
		c.BRuns = append(c.BRuns, rb)
		if err != nil {
			c.summarize()
			return c, fmt.Errorf("server B (%s): %w", b.Label, err)
		}
	}
	c.summarize()
	return c, nil
}

func (c *Comparison) summarize() {
	c.Rows = compareRows(c.ARuns, c.BRuns)
}

// compareRows builds one row per metric of the first run, from the runs that
// succeeded.
func compareRows(as, bs []*Result) []CompareRow {
	if len(as) == 0 {
		return nil
	}
	var rows []CompareRow
	for _, m := range as[0].Metrics() {
		row := CompareRow{Metric: m.Name, Unit: m.Unit, HigherIsBetter: m.HigherIsBetter}
		row.A = metricValues(as, m.Name)
		row.B = metricValues(bs, m.Name)
		row.AMedian, row.BMedian = median(row.A), median(row.B)
		if row.AMedian != 0 {
			row.Ratio = row.BMedian / row.AMedian
		}
		rows = append(rows, row)
	}
	return rows
}

func metricValues(rs []*Result, name string) []float64 {
	var vs []float64
	for _, r := range rs {
		if !r.OK {
			continue
		}
		if m, ok := r.Metric(name); ok {
			vs = append(vs, m.Value)
		}
	}
	return vs
}

// median of the values; the mean of the middle two for an even count.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// better says how a ratio reads: "higher" or "lower" is better.
func better(higher bool) string {
	if higher {
		return "higher"
	}
	return "lower"
}

// WriteComparisonTable prints every run, then the medians and ratios.
func WriteComparisonTable(w io.Writer, c *Comparison) error {
	var all []*Result
	for i := range max(len(c.ARuns), len(c.BRuns)) {
		if i < len(c.ARuns) {
			all = append(all, c.ARuns[i])
		}
		if i < len(c.BRuns) {
			all = append(all, c.BRuns[i])
		}
	}
	if err := WriteTable(w, all); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s: medians of %d pairs, A = %s, B = %s\n", c.Scenario, c.Pairs, c.A, c.B)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\tunit\tA median\tB median\tB/A\tbetter\t")
	for _, r := range c.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Metric, r.Unit, fmtFloat(r.AMedian), fmtFloat(r.BMedian), fmtRatio(r.Ratio), better(r.HigherIsBetter))
	}
	return tw.Flush()
}

// WriteComparisonJSON writes the comparison, runs included, as JSON.
func WriteComparisonJSON(w io.Writer, c *Comparison) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// WriteComparisonCSV writes one row per metric.
func WriteComparisonCSV(w io.Writer, c *Comparison) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"scenario", "a", "b", "pairs", "metric", "unit", "higher_is_better", "a_median", "b_median", "ratio"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range c.Rows {
		_ = cw.Write([]string{string(c.Scenario), c.A, c.B, strconv.Itoa(c.Pairs), r.Metric, r.Unit,
			strconv.FormatBool(r.HigherIsBetter), f(r.AMedian), f(r.BMedian), f(r.Ratio)})
	}
	cw.Flush()
	return cw.Error()
}

func fmtRatio(r float64) string {
	if r == 0 {
		return "-"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "x"
}
