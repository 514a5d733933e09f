package trs

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Human formats a duration for people: "12d 4h", "5h 12m", "3m 4s", "85ms".
func Human(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	day := 24 * time.Hour
	switch {
	case d >= day:
		d = d.Round(time.Hour)
		return fmt.Sprintf("%s%dd %dh", sign, d/day, (d%day)/time.Hour)
	case d >= time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%s%dh %dm", sign, d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		d = d.Round(time.Second)
		return fmt.Sprintf("%s%dm %ds", sign, d/time.Minute, (d%time.Minute)/time.Second)
	case d >= time.Second:
		return sign + d.Round(10*time.Millisecond).String()
	}
	return sign + d.Round(time.Millisecond).String()
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 0, 64) + "%" }

// WriteTable prints the report as terminal tables, one per group.
func WriteTable(w io.Writer, r Report) error {
	fmt.Fprintf(w, "Time Release Study: %d clearances against the %s standard (allowances counted in %s)\n", r.Clearances, Human(r.Standard), r.Counting)
	if r.Query != "" {
		fmt.Fprintf(w, "Query: %s\n", r.Query)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	if r.Headline != "" {
		fmt.Fprintf(w, "\n%s\n", r.Headline)
	}
	if r.Reopened > 0 {
		fmt.Fprintf(w, "%s\n", r.AppealLine())
	}
	for _, g := range r.Groups {
		fmt.Fprintf(w, "\n== %s: %s (%d ended", g.Dimension, g.Key, g.Total.Count)
		if g.Running > 0 {
			fmt.Fprintf(w, ", %d still running, %s so far at the median, not counted", g.Running, Human(g.SoFar.Median))
		}
		fmt.Fprintln(w, ")")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "stage\tn\tmean\tmedian\tp90\tmax\tallowance\twithin\t")
		for _, s := range g.Stages {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Stage, s.Count, Human(s.Mean), Human(s.Median), Human(s.P90), Human(s.Max), allowances(s), pct(s.Within))
		}
		fmt.Fprintf(tw, "total\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", g.Total.Count, Human(g.Total.Mean), Human(g.Total.Median), Human(g.Total.P90), Human(g.Total.Max), Human(r.Standard), pct(g.WithinStandard))
		if err := tw.Flush(); err != nil {
			return err
		}
		agencies := ""
		if g.MeanWaits.Agencies > 0 {
			agencies = ", on other agencies " + Human(g.MeanWaits.Agencies)
		}
		fmt.Fprintf(w, "mean vs standard: %s; %s; mean wait on officers %s, on the exporter %s%s, on checks %s, other %s\n",
			Human(g.MeanVsStandard), g.TimeByParty(), Human(g.MeanWaits.Officers), Human(g.MeanWaits.Exporter), agencies, Human(g.MeanWaits.Checks), Human(g.MeanWaits.Other))
	}
	if len(r.Trend) > 0 {
		fmt.Fprintln(w, "\n== trend: by week of lodgement")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "week\tlodged\tended\tmedian\twithin\t")
		for _, wk := range r.Trend {
			fmt.Fprintf(tw, "week of %s\t%d\t%d\t%s\t%s\t\n", wk.Start.Format(time.DateOnly), wk.Lodged, wk.Ended, Human(wk.Median), pct(wk.WithinStandard))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Breaches) > 0 {
		fmt.Fprintf(w, "\n== breaches: %d stages over their allowance, the longest first\n", len(r.Breaches))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "declaration\tstage\tover by\tescalated to\t")
		for _, b := range r.Breaches {
			over := Human(b.Over)
			if b.Running {
				over += " (still running)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", b.DeclarationID, b.Stage, over, orDash(b.Supervisor))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// allowances is the stage's allowance as the policy set it, or each one when they differ.
func allowances(s StageStats) string {
	if len(s.Allowances) == 0 {
		return Human(s.Allowance)
	}
	parts := make([]string, len(s.Allowances))
	for i, a := range s.Allowances {
		parts[i] = Human(a)
	}
	return strings.Join(parts, " / ")
}

// WriteCSV writes one row per group and stage (and a "total" row per group), durations in
// seconds.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
	if err := cw.Write([]string{"dimension", "key", "stage", "count", "mean_s", "median_s", "p90_s", "max_s", "allowance_s", "within_share",
		"mean_vs_standard_s", "wait_officers_s", "wait_exporter_s", "wait_checks_s"}); err != nil {
		return err
	}
	for _, g := range r.Groups {
		for _, s := range g.Stages {
			if err := cw.Write([]string{g.Dimension, g.Key, string(s.Stage), strconv.Itoa(s.Count), secs(s.Mean), secs(s.Median), secs(s.P90), secs(s.Max),
				secs(s.Allowance), strconv.FormatFloat(s.Within, 'f', 4, 64), "", "", "", ""}); err != nil {
				return err
			}
		}
		t := g.Total
		if err := cw.Write([]string{g.Dimension, g.Key, "total", strconv.Itoa(t.Count), secs(t.Mean), secs(t.Median), secs(t.P90), secs(t.Max),
			secs(r.Standard), strconv.FormatFloat(g.WithinStandard, 'f', 4, 64), secs(g.MeanVsStandard),
			secs(g.MeanWaits.Officers), secs(g.MeanWaits.Exporter), secs(g.MeanWaits.Checks)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the report as JSON; durations are nanoseconds.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Report
		DurationUnit string `json:"durationUnit"`
	}{r, "ns"})
}

// bar is one bar of a chart.
type bar struct {
	Label      string
	X, Y, W, H float64
	// TX is where the value's label starts: just right of the bar.
	TX    float64
	Value string
	Data  string
}

type chart struct {
	Width, Height float64
	Bars          []bar
	Marks         []bar // allowance or standard markers
	Axis          []bar // labels
	Ticks         []bar // the scale: a grid line and its label
	// AxisY is where the scale's labels stand.
	AxisY float64
}

// durationTicks are the marks of a duration scale that spans milliseconds to weeks.
var durationTicks = []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second, 10 * time.Second,
	time.Minute, 10 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 5 * 24 * time.Hour, 20 * 24 * time.Hour, 100 * 24 * time.Hour}

// tickLabel names a tick of the duration scale in its own unit: 10ms, 1s, 10m, 6h, 20d.
func tickLabel(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dd", d/(24*time.Hour))
}

// logScale maps durations from lo to hi onto width pixels, logarithmically: an automated check of
// milliseconds and a biological review of days read in one chart.
func logScale(lo, hi time.Duration, width float64) func(time.Duration) float64 {
	l, h := math.Log10(float64(lo)), math.Log10(float64(hi))
	return func(d time.Duration) float64 {
		if d <= lo {
			return 1
		}
		return max(1, width*(math.Log10(float64(d))-l)/(h-l))
	}
}

// durationAxis is a logarithmic duration scale over values, from the tick below the smallest to
// the tick above the largest, width pixels wide from x, with its ticks from y down to axisY.
func durationAxis(values []time.Duration, x, width, y, axisY float64) (func(time.Duration) float64, []bar) {
	lo, hi := durationTicks[len(durationTicks)-1], durationTicks[0]
	for _, d := range values {
		if d > 0 {
			lo, hi = min(lo, d), max(hi, d)
		}
	}
	first, last := 0, len(durationTicks)-1
	for i, t := range durationTicks {
		if t <= lo {
			first = i
		}
		if t >= hi && last == len(durationTicks)-1 {
			last = i
		}
	}
	if last <= first {
		last = min(first+1, len(durationTicks)-1)
	}
	scale := logScale(durationTicks[first], durationTicks[last], width)
	var ticks []bar
	for _, t := range durationTicks[first : last+1] {
		ticks = append(ticks, bar{X: x + scale(t), Y: y, H: axisY - 12, Label: tickLabel(t), Data: strconv.FormatInt(int64(t), 10)})
	}
	return scale, ticks
}

// stageChart draws, per stage, the mean and p90 against the allowance on a logarithmic duration
// scale with labelled ticks.
func stageChart(g Group) chart {
	c := chart{Width: 900, Height: 70 + 46*float64(len(g.Stages))}
	var values []time.Duration
	for _, s := range g.Stages {
		values = append(values, s.Mean, s.P90, s.Allowance)
	}
	c.AxisY = 20 + 46*float64(len(g.Stages)) + 24
	scale, ticks := durationAxis(values, 180, 560, 10, c.AxisY-10)
	c.Ticks = ticks
	for i, s := range g.Stages {
		y := 20 + 46*float64(i)
		c.Axis = append(c.Axis, bar{Label: string(s.Stage), X: 0, Y: y + 20})
		c.Bars = append(c.Bars,
			bar{Label: "mean", X: 180, Y: y, W: scale(s.Mean), TX: 184 + scale(s.Mean), H: 14, Value: "mean " + Human(s.Mean), Data: fmt.Sprintf("%s mean %d", s.Stage, s.Mean)},
			bar{Label: "p90", X: 180, Y: y + 16, W: scale(s.P90), TX: 184 + scale(s.P90), H: 14, Value: "p90 " + Human(s.P90), Data: fmt.Sprintf("%s p90 %d", s.Stage, s.P90)})
		c.Marks = append(c.Marks, bar{Label: "allowance " + Human(s.Allowance), X: 180 + scale(s.Allowance), Y: y - 2, H: 34,
			Data: fmt.Sprintf("%s allowance %d", s.Stage, s.Allowance)})
	}
	return c
}

// laneChart is one lane's distribution chart.
type laneChart struct {
	Lane  string
	Count int
	chart
}

// distributionChart draws, per stage of one group, how its durations spread on the logarithmic
// scale: a box from the median to the 90th percentile, a whisker on to the longest, the median
// marked, and the stage's allowance in red, each labelled.
func distributionChart(g Group) chart {
	const left, width = 180, 470
	c := chart{Width: 960, Height: 60 + 34*float64(len(g.Stages))}
	var values []time.Duration
	for _, s := range g.Stages {
		values = append(values, s.Median, s.P90, s.Max, s.Allowance)
	}
	c.AxisY = 20 + 34*float64(len(g.Stages)) + 20
	scale, ticks := durationAxis(values, left, width, 10, c.AxisY-10)
	c.Ticks = ticks
	for i, s := range g.Stages {
		y := 20 + 34*float64(i)
		med, p90, most := left+scale(s.Median), left+scale(s.P90), left+scale(s.Max)
		c.Axis = append(c.Axis, bar{Label: fmt.Sprintf("%s (%d)", s.Stage, s.Count), X: 0, Y: y + 14})
		c.Bars = append(c.Bars,
			bar{Label: "whisker", X: p90, Y: y + 9, W: max(most-p90, 1), H: 2, Data: fmt.Sprintf("%s max %d", s.Stage, s.Max)},
			bar{Label: "box", X: med, Y: y + 2, W: max(p90-med, 2), H: 16, Data: fmt.Sprintf("%s p90 %d", s.Stage, s.P90)},
			bar{Label: "median", X: med - 1, Y: y, W: 3, H: 20, TX: left + width + 16,
				Value: fmt.Sprintf("median %s, p90 %s, max %s", Human(s.Median), Human(s.P90), Human(s.Max)), Data: fmt.Sprintf("%s median %d", s.Stage, s.Median)})
		c.Marks = append(c.Marks, bar{Label: "allowance " + Human(s.Allowance), X: left + scale(s.Allowance), Y: y - 3, H: 26,
			Data: fmt.Sprintf("%s allowance %d", s.Stage, s.Allowance)})
	}
	return c
}

// histogram bins total times, with the standard marked.
func histogram(cs []Clearance, standard time.Duration) (chart, []int) {
	var top time.Duration = standard
	for _, c := range cs {
		top = max(top, c.Elapsed)
	}
	const bins = 20
	width := time.Duration(math.Ceil(float64(top) / bins))
	if width <= 0 {
		width = 1
	}
	counts := make([]int, bins)
	for _, c := range cs {
		i := int(c.Elapsed / width)
		if i >= bins {
			i = bins - 1
		}
		counts[i]++
	}
	most := 1
	for _, n := range counts {
		most = max(most, n)
	}
	ch := chart{Width: 760, Height: 260}
	for i, n := range counts {
		h := 200 * float64(n) / float64(most)
		ch.Bars = append(ch.Bars, bar{X: 40 + 34*float64(i), Y: 220 - h, W: 30, H: h, Value: strconv.Itoa(n),
			Label: Human(width*time.Duration(i)) + "–" + Human(width*time.Duration(i+1)), Data: strconv.Itoa(n)})
	}
	x := 40 + 34*float64(bins)*float64(standard)/float64(width*bins)
	ch.Marks = append(ch.Marks, bar{X: x, Y: 10, H: 215, Label: "standard " + Human(standard), Data: strconv.FormatInt(int64(standard), 10)})
	ch.Axis = append(ch.Axis, bar{Label: "0", X: 40, Y: 240}, bar{Label: Human(width * bins), X: 40 + 34*bins - 20, Y: 240})
	return ch, counts
}

// trendChart draws the median total time of each week's ended clearances, with the standard
// marked and each week's count and share within the standard labelled.
func trendChart(weeks []Week, standard time.Duration) chart {
	c := chart{Width: 760, Height: 270}
	top := standard
	for _, w := range weeks {
		top = max(top, w.Median)
	}
	if top <= 0 {
		top = 1
	}
	step := 680 / math.Max(float64(len(weeks)), 1)
	bw := math.Min(step-6, 60)
	for i, w := range weeks {
		h := 190 * float64(w.Median) / float64(top)
		x := 50 + step*float64(i)
		c.Bars = append(c.Bars, bar{X: x, Y: 210 - h, W: bw, H: h, TX: x, Label: w.Start.Format("Jan 2"),
			Value: fmt.Sprintf("%s, %d ended, %s within", Human(w.Median), w.Ended, pct(w.WithinStandard)), Data: strconv.Itoa(w.Ended)})
	}
	y := 210 - 190*float64(standard)/float64(top)
	c.Marks = append(c.Marks, bar{X: 50, Y: y, W: 690, Label: "standard " + Human(standard), Data: strconv.FormatInt(int64(standard), 10)})
	return c
}

var page = template.Must(template.New("trs").Funcs(template.FuncMap{"human": Human, "pct": pct, "allowances": allowances, "byParty": Group.byParty}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Time Release Study</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#1d2433;max-width:1000px}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .6em;border-bottom:1px solid #dde;text-align:right}
th:first-child,td:first-child{text-align:left}h2{margin-top:2em}.note{color:#556}
svg text{font-size:12px;fill:#1d2433}.tick{stroke:#dde;stroke-width:1}.tick-label{fill:#556}.week{fill:#3b6fd8}@media print{body{margin:0}h2{break-after:avoid}svg{break-inside:avoid}}.mean{fill:#3b6fd8}.p90{fill:#9bb7ef}.mark{stroke:#c0392b;stroke-width:2}.box{fill:#9bb7ef}.whisker{fill:#556}.median{fill:#1d2433}.bin{fill:#3b6fd8}
</style></head><body>
<h1>Time Release Study</h1>
<p>{{.R.Clearances}} clearances against the {{human .R.Standard}} standard; allowances counted in {{.R.Counting}}. Generated {{.R.Generated.UTC.Format "2006-01-02 15:04 MST"}}.{{if .R.Query}} Query: <code>{{.R.Query}}</code>.{{end}}</p>
{{range .R.Notes}}<p><strong>Note:</strong> {{.}}</p>
{{end}}{{if .R.Headline}}<p id="headline"><strong>{{.R.Headline}}</strong></p>{{end}}
{{if .R.Reopened}}<p id="appeals">{{.R.AppealLine}}</p>{{end}}
<h2>Stage durations against allowances</h2>
<p class="note">Dark bars: mean; light bars: 90th percentile; red lines: the stage's allowance. The scale is logarithmic, so that checks of milliseconds and reviews of days read in one chart.</p>
<svg id="stage-chart" width="{{.Stages.Width}}" height="{{.Stages.Height}}" role="img" aria-label="stage durations">
{{range .Stages.Axis}}<text x="{{.X}}" y="{{.Y}}">{{.Label}}</text>
{{end}}{{range .Stages.Bars}}<rect class="{{.Label}}" data-value="{{.Data}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Label}} {{.Value}}</title></rect>
<text x="{{.TX}}" y="{{.Y}}" dy="11">{{.Value}}</text>
{{end}}{{range .Stages.Marks}}<rect class="mark allowance" data-value="{{.Data}}" x="{{.X}}" y="{{.Y}}" width="2" height="{{.H}}"><title>{{.Label}}</title></rect>
{{end}}{{range .Stages.Ticks}}<line class="tick" data-value="{{.Data}}" x1="{{.X}}" x2="{{.X}}" y1="{{.Y}}" y2="{{.H}}"/><text class="tick-label" x="{{.X}}" y="{{$.Stages.AxisY}}" text-anchor="middle">{{.Label}}</text>
{{end}}</svg>
{{if .Lanes}}<h2>Stage durations by lane</h2>
<p class="note">Per lane, how each stage's durations spread: the box runs from the median (dark line) to the 90th percentile, the whisker to the longest; the red line is the stage's allowance. Logarithmic scales, fitted to each lane; a duration of nothing (a check the simulator counts as instant) stands at the left edge.</p>
{{range .Lanes}}<h3>{{.Lane}} lane: {{.Count}} ended</h3>
<svg class="lane-chart" id="lane-{{.Lane}}" width="{{.Width}}" height="{{.Height}}" role="img" aria-label="stage durations in the {{.Lane}} lane">
{{range .Axis}}<text x="{{.X}}" y="{{.Y}}">{{.Label}}</text>
{{end}}{{range .Bars}}<rect class="{{.Label}}" data-value="{{.Data}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"></rect>{{if .Value}}<text x="{{.TX}}" y="{{.Y}}" dy="14">{{.Value}}</text>{{end}}
{{end}}{{range .Marks}}<rect class="mark allowance" data-value="{{.Data}}" x="{{.X}}" y="{{.Y}}" width="2" height="{{.H}}"><title>{{.Label}}</title></rect>
{{end}}{{$y := .AxisY}}{{range .Ticks}}<line class="tick" data-value="{{.Data}}" x1="{{.X}}" x2="{{.X}}" y1="{{.Y}}" y2="{{.H}}"/><text class="tick-label" x="{{.X}}" y="{{$y}}" text-anchor="middle">{{.Label}}</text>
{{end}}</svg>
{{end}}{{end}}<h2>Total time against the standard</h2>
<p class="note">Clearances that ended, by total time; the red line is the {{human .R.Standard}} standard.</p>
<svg id="total-histogram" width="{{.Hist.Width}}" height="{{.Hist.Height}}" role="img" aria-label="distribution of total time">
{{range .Hist.Bars}}<rect class="bin" data-count="{{.Data}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Label}}: {{.Value}}</title></rect>{{if ne .Value "0"}}<text class="count" x="{{.X}}" y="{{.Y}}" dx="15" dy="-3" text-anchor="middle">{{.Value}}</text>{{end}}
{{end}}{{range .Hist.Marks}}<rect class="mark standard" data-value="{{.Data}}" x="{{.X}}" y="{{.Y}}" width="2" height="{{.H}}"><title>{{.Label}}</title></rect><text x="{{.X}}" y="{{.Y}}" dx="-4" dy="10" text-anchor="end">{{.Label}}</text>
{{end}}{{range .Hist.Axis}}<text x="{{.X}}" y="{{.Y}}">{{.Label}}</text>
{{end}}</svg>
{{range .R.Groups}}
<h2>{{.Dimension}}: {{.Key}}</h2>
<p>{{.Total.Count}} ended{{if .Running}}, {{.Running}} still running ({{human .SoFar.Median}} so far at the median, not counted){{end}}; {{pct .WithinStandard}} within the standard; mean {{human .MeanVsStandard}} against it; {{with byParty .}}{{if .Parties}}<span class="time-by-party">{{.Elapsed}}: {{range $i, $p := .Parties}}{{if $i}}, {{end}}<span class="party" data-party="{{$p.Name}}" data-share="{{printf "%.4f" $p.Share}}" data-mean="{{$p.Mean.Nanoseconds}}">{{$p.Text}}</span>{{end}}</span>{{else}}no clearance ended{{end}}{{end}}. Mean wait on officers {{human .MeanWaits.Officers}}, on the exporter {{human .MeanWaits.Exporter}}{{if .MeanWaits.Agencies}}, on other agencies {{human .MeanWaits.Agencies}}{{end}}, on checks {{human .MeanWaits.Checks}}.</p>
<table><tr><th>stage</th><th>n</th><th>mean</th><th>median</th><th>p90</th><th>max</th><th>allowance</th><th>within</th></tr>
{{range .Stages}}<tr><td>{{.Stage}}</td><td>{{.Count}}</td><td>{{human .Mean}}</td><td>{{human .Median}}</td><td>{{human .P90}}</td><td>{{human .Max}}</td><td>{{allowances .}}</td><td>{{pct .Within}}</td></tr>
{{end}}<tr><th>total</th><td>{{.Total.Count}}</td><td>{{human .Total.Mean}}</td><td>{{human .Total.Median}}</td><td>{{human .Total.P90}}</td><td>{{human .Total.Max}}</td><td>{{human $.R.Standard}}</td><td>{{pct .WithinStandard}}</td></tr></table>
{{end}}
{{if .R.Trend}}<h2>Trend by week of lodgement</h2>
<p class="note">Median total time of each week's ended clearances; the red line is the {{human .R.Standard}} standard.</p>
<svg id="trend-chart" width="{{.Trend.Width}}" height="{{.Trend.Height}}" role="img" aria-label="median total time by week of lodgement">
{{range .Trend.Bars}}<rect class="week" data-ended="{{.Data}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>week of {{.Label}}: {{.Value}}</title></rect>
<text x="{{.TX}}" y="228">{{.Label}}</text><text x="{{.TX}}" y="244" class="note">{{.Value}}</text>
{{end}}{{range .Trend.Marks}}<rect class="mark standard" data-value="{{.Data}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="2"><title>{{.Label}}</title></rect><text x="{{.X}}" y="{{.Y}}" dy="-4">{{.Label}}</text>
{{end}}</svg>
<table id="trend"><tr><th>week of</th><th>lodged</th><th>ended</th><th>median</th><th>within the standard</th></tr>
{{range .R.Trend}}<tr><td>{{.Start.Format "2006-01-02"}}</td><td>{{.Lodged}}</td><td>{{.Ended}}</td><td>{{human .Median}}</td><td>{{pct .WithinStandard}}</td></tr>
{{end}}</table>{{end}}
{{if .R.Breaches}}<h2>Stages over their allowance</h2>
<table id="breaches"><tr><th>declaration</th><th>stage</th><th>over by</th><th>escalated to</th></tr>
{{range .R.Breaches}}<tr><td>{{.DeclarationID}}</td><td>{{.Stage}}</td><td>{{human .Over}}{{if .Running}} (still running){{end}}</td><td>{{if .Supervisor}}{{.Supervisor}}{{else}}-{{end}}</td></tr>
{{end}}</table>{{end}}
<script type="application/json" id="trs-data">{{.JSON}}</script>
</body></html>
`))

// WriteHTML writes a self-contained page with the tables and the charts: stage durations against
// allowances, their spread per lane, the distribution of total time against the standard and
// the trend. It needs no network to display.
func WriteHTML(w io.Writer, r Report) error {
	all := Group{}
	for _, g := range r.Groups {
		if g.Dimension == "all" {
			all = g
		}
	}
	var ended []Clearance
	for _, c := range r.Totals {
		if !c.Running {
			ended = append(ended, c)
		}
	}
	hist, _ := histogram(ended, r.Standard)
	var lanes []laneChart
	for _, g := range r.Groups {
		if g.Dimension == "lane" && g.Key != "" && len(g.Stages) > 0 {
			lanes = append(lanes, laneChart{Lane: g.Key, Count: g.Total.Count, chart: distributionChart(g)})
		}
	}
	var js strings.Builder
	if err := WriteJSON(&js, r); err != nil {
		return err
	}
	return page.Execute(w, struct {
		R      Report
		Stages chart
		Hist   chart
		Trend  chart
		Lanes  []laneChart
		JSON   template.JS
	}{r, stageChart(all), hist, trendChart(r.Trend, r.Standard), lanes, template.JS(js.String())})
}

// AppealLine says how many clearances an upheld appeal reopened and how many of them were released.
func (r Report) AppealLine() string {
	return fmt.Sprintf("Reopened on appeal: %d (released since: %d); each is counted once, by how it ended last.",
		r.Reopened, r.ReopenedReleased)
}
