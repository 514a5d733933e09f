package trs

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

const day = 24 * time.Hour

func TestStatsMatchHandComputedValues(t *testing.T) {
	// 1, 2, 3, 4, 10 days: mean 4d; median 3d; p90 at rank 3.6 -> 4d + 0.6*(10d-4d) = 7.6d.
	ds := []time.Duration{10 * day, 1 * day, 3 * day, 2 * day, 4 * day}
	s := summarise(ds, []bool{false, true, true, true, true})
	if s.Count != 5 || s.Mean != 4*day || s.Median != 3*day || s.Max != 10*day {
		t.Fatalf("%+v", s)
	}
	if want := time.Duration(7.6 * float64(day)); s.P90 != want {
		t.Errorf("p90 = %s, want %s", s.P90, want)
	}
	if s.Within != 0.8 {
		t.Errorf("within = %v, want 0.8", s.Within)
	}
	// Even count: the median is the mean of the middle two.
	if m := summarise([]time.Duration{1 * time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}, nil).Median; m != 3*time.Hour {
		t.Errorf("median = %s, want 3h", m)
	}
	if s := summarise(nil, nil); s.Count != 0 || s.Max != 0 {
		t.Errorf("empty: %+v", s)
	}
	if s := summarise([]time.Duration{5 * time.Minute}, nil); s.P90 != 5*time.Minute || s.Median != 5*time.Minute {
		t.Errorf("one value: %+v", s)
	}
}

func rec(stage policy.Stage, d, allowance, officer, exporter, checks time.Duration) workflows.StageRecord {
	return workflows.StageRecord{Stage: stage, Duration: policy.Duration(d), Allowance: policy.Duration(allowance),
		OfficerWait: policy.Duration(officer), ExporterWait: policy.Duration(exporter), CheckTime: policy.Duration(checks)}
}

// week1 is Monday 6 April 2020; sample's generated time is 1 May.
var week1 = time.Date(2020, 4, 6, 0, 0, 0, 0, time.UTC)

func sample() []Clearance {
	now := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	bDoc := rec(policy.StageDocumentCheck, 3*day, 2*day, 2*day, day, 0)
	bDoc.Started, bDoc.Due, bDoc.Ended, bDoc.Overrun, bDoc.Escalated = week1, week1.Add(2*day), week1.Add(3*day), true, true
	cBio := rec(policy.StageBiologicalReview, 20*day, 3*day, 20*day, 0, 0)
	cBio.Started, cBio.Due, cBio.Escalated = now.Add(-20*day), now.Add(-17*day), true
	dDoc := rec(policy.StageDocumentCheck, 6*time.Hour, 12*time.Hour, 6*time.Hour, 0, 0)
	return []Clearance{
		{DeclarationID: "A", State: workflows.StateReleased, Lane: policy.LaneGreen, Categories: []string{"medical-mask"}, Submitted: week1, Elapsed: 2 * day,
			Timeline: []workflows.StageRecord{rec(policy.StageDocumentCheck, day, 2*day, 0, 0, time.Minute), rec(policy.StageCertificationCheck, day, 4*day, 0, 0, time.Minute)}},
		{DeclarationID: "B", State: workflows.StateReleased, Lane: policy.LaneYellow, Categories: []string{"test-kit", "medical-mask"}, Submitted: week1.Add(time.Hour), Elapsed: 16 * day,
			Timeline:    []workflows.StageRecord{bDoc, rec(policy.StageBiologicalReview, 13*day, 12*day, 13*day, 0, 0)},
			Escalations: []workflows.Escalation{{Stage: policy.StageDocumentCheck, Supervisor: "sup-huang"}}},
		{DeclarationID: "C", State: workflows.StateAwaitingOfficer, Lane: policy.LaneYellow, Expedited: true, Running: true, Categories: []string{"test-kit"}, Submitted: week1.Add(2 * time.Hour), Elapsed: 24 * day,
			Timeline: []workflows.StageRecord{rec(policy.StageDocumentCheck, 4*day, day, 4*day, 0, 0), cBio}},
		{DeclarationID: "D", State: workflows.StateReleased, Lane: policy.LaneGreen, Expedited: true, Categories: []string{"ventilator"}, Submitted: week1.AddDate(0, 0, 8), Elapsed: day,
			Timeline: []workflows.StageRecord{dDoc}},
	}
}

func find(t *testing.T, r Report, dim, key string) Group {
	t.Helper()
	for _, g := range r.Groups {
		if g.Dimension == dim && g.Key == key {
			return g
		}
	}
	t.Fatalf("no group %s=%s", dim, key)
	return Group{}
}

// TestBuildSplitsAndComparesWithTheStandard: each group's statistics are of the clearances that
// ended; the running one is counted apart, with its time so far, and never as within.
func TestBuildSplitsAndComparesWithTheStandard(t *testing.T) {
	r := Build(sample(), 20*day, "", time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC))
	all := find(t, r, "all", "all")
	if all.Total.Count != 3 || all.Total.Mean != 19*day/3 || all.Total.Median != 2*day || all.Running != 1 || all.SoFar.Count != 1 || all.SoFar.Max != 24*day {
		t.Fatalf("all: total %+v, running %d so far %+v", all.Total, all.Running, all.SoFar)
	}
	if all.WithinStandard != 1 || all.MeanVsStandard != 19*day/3-20*day {
		t.Errorf("within %v vs standard %s: the running clearance, 24 days in, must not count", all.WithinStandard, all.MeanVsStandard)
	}
	doc := all.Stages[0]
	if doc.Stage != policy.StageDocumentCheck || doc.Count != 3 || doc.Mean != (day+3*day+6*time.Hour)/3 || doc.Within != 2.0/3 {
		t.Errorf("document check: %+v", doc)
	}
	if doc.Allowance != 2*day || len(doc.Allowances) != 2 || doc.Allowances[0] != 12*time.Hour {
		t.Errorf("document check allowance %s of %v: want the policy's 2d (most stages), both listed", doc.Allowance, doc.Allowances)
	}
	if all.MeanWaits.Officers != (15*day+6*time.Hour)/3 || all.MeanWaits.Exporter != day/3 {
		t.Errorf("waits %+v", all.MeanWaits)
	}
	if want := 1.0 / 19; all.TraderShare != want || all.CustomsShare != 1-want {
		t.Errorf("shares customs %v trader %v, want trader %v", all.CustomsShare, all.TraderShare, want)
	}
	if g := find(t, r, "lane", "yellow"); g.Total.Count != 1 || g.Total.Mean != 16*day || g.WithinStandard != 1 || g.Running != 1 {
		t.Errorf("yellow: %+v running %d", g.Total, g.Running)
	}
	if g := find(t, r, "outcome", "released"); g.Total.Count != 3 {
		t.Errorf("released: %+v", g.Total)
	}
	if g := find(t, r, "outcome", "running"); g.Total.Count != 0 || g.Running != 1 {
		t.Errorf("running: %+v %d", g.Total, g.Running)
	}
	if g := find(t, r, "procedure", "expedited"); g.Total.Count != 1 || g.Running != 1 || g.Stages[0].Allowance != 12*time.Hour {
		t.Errorf("expedited: %+v", g)
	}
	if g := find(t, r, "category", "medical-mask"); g.Total.Count != 2 {
		t.Errorf("a clearance with two categories counts in both: %+v", g.Total)
	}
	if g := find(t, r, "biological", "biological review"); g.Total.Count != 1 || g.Running != 1 {
		t.Errorf("biological: %+v", g.Total)
	}
	if want := "3 released; median 2d 0h; 100% within 20d 0h; customs time 95%, trader time 5%; 1 still running"; r.Headline != want {
		t.Errorf("headline %q, want %q", r.Headline, want)
	}
	if len(r.Breaches) != 2 || r.Breaches[0] != (Breach{DeclarationID: "C", Stage: policy.StageBiologicalReview, Over: 17 * day, Running: true}) ||
		r.Breaches[1] != (Breach{DeclarationID: "B", Stage: policy.StageDocumentCheck, Over: day, Supervisor: "sup-huang"}) {
		t.Errorf("breaches %+v", r.Breaches)
	}
	if len(r.Trend) != 2 || r.Trend[0] != (Week{Start: week1, Lodged: 3, Ended: 2, Median: 9 * day, WithinStandard: 1}) ||
		r.Trend[1] != (Week{Start: week1.AddDate(0, 0, 7), Lodged: 1, Ended: 1, Median: day, WithinStandard: 1}) {
		t.Errorf("trend %+v", r.Trend)
	}
}

func TestOutputs(t *testing.T) {
	r := Build(sample(), 20*day, "ClearanceStatus = 'released'", time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC))

	var table bytes.Buffer
	if err := WriteTable(&table, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4 clearances against the 20d 0h standard", "3 released; median 2d 0h", "== lane: yellow (1 ended, 1 still running",
		"biological-review", "12h 0m / 2d 0h", "C            biological-review  17d 0h (still running)", "week of 2020-04-06"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}

	var c bytes.Buffer
	if err := WriteCSV(&c, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[1][0] != "all" || rows[1][2] != "document-check" || rows[1][4] != strconv.FormatFloat(((day+3*day+6*time.Hour)/3).Seconds(), 'f', 3, 64) {
		t.Errorf("csv row %v", rows[1])
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Clearances int `json:"clearances"`
		Groups     []Group
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Clearances != 4 || len(back.Groups) != len(r.Groups) {
		t.Fatalf("json: %v %+v", err, back.Clearances)
	}
}

func TestHTMLCarriesTheChartsData(t *testing.T) {
	r := Build(sample(), 20*day, "", time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC))
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	var stageBars, allowances, bins, standard int
	binTotal := 0
	var data string
	var walk func(n *html.Node, in string)
	walk = func(n *html.Node, in string) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch {
			case n.Data == "svg":
				in = attr["id"]
			case n.Data == "rect" && in == "stage-chart" && (attr["class"] == "mean" || attr["class"] == "p90"):
				stageBars++
			case n.Data == "rect" && in == "stage-chart" && attr["class"] == "mark allowance":
				allowances++
			case n.Data == "rect" && in == "total-histogram" && attr["class"] == "bin":
				bins++
				n, _ := strconv.Atoi(attr["data-count"])
				binTotal += n
			case n.Data == "rect" && in == "total-histogram" && attr["class"] == "mark standard":
				standard++
				if attr["data-value"] != strconv.FormatInt(int64(20*day), 10) {
					t.Errorf("standard line at %s", attr["data-value"])
				}
			case n.Data == "script" && attr["id"] == "trs-data":
				data = n.FirstChild.Data
			case n.Data == "script" && attr["src"] != "", n.Data == "link" && attr["href"] != "":
				t.Errorf("the page loads %v: it must be self-contained", attr)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, "")
	// Three stages in the "all" group, a mean and a p90 bar each, one allowance mark each.
	if stageBars != 6 || allowances != 3 {
		t.Errorf("stage chart: %d bars, %d allowance marks", stageBars, allowances)
	}
	// The running clearance has no total time yet.
	if bins != 20 || binTotal != 3 || standard != 1 {
		t.Errorf("histogram: %d bins holding %d clearances, %d standard lines", bins, binTotal, standard)
	}
	var back struct{ Clearances int }
	if err := json.Unmarshal([]byte(data), &back); err != nil || back.Clearances != 4 {
		t.Errorf("embedded data: %v %+v", err, back)
	}
}

func TestWorkingDayAllowances(t *testing.T) {
	start := time.Date(2020, 4, 3, 1, 0, 0, 0, time.UTC)
	// Four calendar days against a 2-day allowance that working-day counting moved to the 8th.
	stage := workflows.StageRecord{Stage: policy.StageDocumentCheck, Started: start, Ended: start.Add(4 * day),
		Duration: policy.Duration(4 * day), Allowance: policy.Duration(2 * day), Due: start.Add(5 * day)}
	c := Clearance{DeclarationID: "W", Lane: policy.LaneYellow, Counting: policy.CountingBusinessDays, Elapsed: 4 * day,
		Timeline: []workflows.StageRecord{stage}}
	r := Build([]Clearance{c}, 20*day, "", start)
	if r.Counting != "working days" {
		t.Errorf("counting %q", r.Counting)
	}
	if got := r.Groups[0].Stages[0].Within; got != 1 {
		t.Errorf("within %v: the stage ended before its working-day due time", got)
	}
	late := stage
	late.Ended, late.Duration = start.Add(6*day), policy.Duration(6*day)
	c2 := Clearance{DeclarationID: "X", Counting: policy.CountingCalendar, Elapsed: 6 * day, Timeline: []workflows.StageRecord{late}}
	r = Build([]Clearance{c, c2}, 20*day, "", start)
	if r.Counting != "calendar time and working days" || r.Groups[0].Stages[0].Within != 0.5 {
		t.Errorf("counting %q within %v", r.Counting, r.Groups[0].Stages[0].Within)
	}
}

func TestPolicyNotesInTheTable(t *testing.T) {
	notes := PolicyNotes(policy.Default())
	if len(notes) != 1 || !strings.Contains(notes[0], "red lane with biological review, standard procedure: the stages' allowances add up to 22d, more than the 20d standard") {
		t.Fatalf("notes %q", notes)
	}
	var b strings.Builder
	if err := WriteTable(&b, Report{Notes: notes, Standard: 20 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Note: red lane with biological review") {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestStoppedTraderTimeDoesNotCountAgainstTheStandard: 25 days elapsed, 10 of them waiting on
// the exporter with the clock stopped, are 15 days against the 20-day standard: within.
func TestStoppedTraderTimeDoesNotCountAgainstTheStandard(t *testing.T) {
	doc := rec(policy.StageDocumentCheck, 12*day, 2*day, day, 10*day, 0)
	doc.ClockStopped = policy.Duration(10 * day)
	c := Clearance{DeclarationID: "T", State: workflows.StateReleased, Lane: policy.LaneYellow, Elapsed: 25 * day,
		Timeline: []workflows.StageRecord{doc}}
	r := Build([]Clearance{c}, 20*day, "", time.Time{})
	all := find(t, r, "all", "all")
	if all.WithinStandard != 1 || all.MeanVsStandard != -5*day || all.TraderShare != 0.4 {
		t.Errorf("within %v, vs standard %s, trader share %v; want within, -5d, 40%%", all.WithinStandard, all.MeanVsStandard, all.TraderShare)
	}
	if !strings.Contains(r.Headline, "100% within 20d 0h") {
		t.Errorf("headline %q", r.Headline)
	}
}

// TestHTMLChartsReadFromMillisecondsToDays: the stage chart's scale is logarithmic with labelled
// ticks from below the shortest stage (an automated check of 85 ms) to above the longest
// allowance (12 days), so both read in one chart; the trend chart has a bar per week.
func TestHTMLChartsReadFromMillisecondsToDays(t *testing.T) {
	auto := rec(policy.StageDocumentCheck, 85*time.Millisecond, 2*day, 0, 0, 85*time.Millisecond)
	bio := rec(policy.StageBiologicalReview, 9*day, 12*day, 9*day, 0, 0)
	cs := []Clearance{
		{DeclarationID: "M", State: workflows.StateReleased, Submitted: week1, Elapsed: 9 * day, Timeline: []workflows.StageRecord{auto, bio}},
		{DeclarationID: "N", State: workflows.StateReleased, Submitted: week1.AddDate(0, 0, 14), Elapsed: 2 * day, Timeline: []workflows.StageRecord{auto}},
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, Build(cs, 20*day, "", time.Time{})); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	var ticks []string
	widths := map[string]float64{}
	weeks := 0
	var walk func(n *html.Node, in string)
	walk = func(n *html.Node, in string) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch {
			case n.Data == "svg":
				in = attr["id"]
			case n.Data == "text" && in == "stage-chart" && attr["class"] == "tick-label":
				ticks = append(ticks, n.FirstChild.Data)
			case n.Data == "rect" && in == "stage-chart" && attr["class"] == "mean":
				w, _ := strconv.ParseFloat(attr["width"], 64)
				widths[strings.Fields(attr["data-value"])[0]] = w
			case n.Data == "rect" && in == "trend-chart" && attr["class"] == "week":
				weeks++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, "")
	joined := strings.Join(ticks, " ")
	if joined != "10ms 100ms 1s 10s 1m 10m 1h 6h 1d 5d 20d" {
		t.Errorf("stage chart ticks %q", joined)
	}
	for _, want := range []string{"10ms", "1s", "1h", "1d", "20d"} {
		if !strings.Contains(joined, want) {
			t.Errorf("stage chart ticks %q lack %q", joined, want)
		}
	}
	if doc, bio := widths["document-check"], widths["biological-review"]; !(doc > 1 && bio > doc && bio <= 560) {
		t.Errorf("mean bars: document check %v px, biological review %v px", doc, bio)
	}
	if weeks != 2 {
		t.Errorf("trend chart: %d week bars, want 2 (the empty week between has none)", weeks)
	}
}

// TestHTMLDrawsEachLanesDistributions: the page has one distribution chart per lane, of the
// stages that ended there, each with its median, 90th percentile, longest and allowance.
func TestHTMLDrawsEachLanesDistributions(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, Build(sample(), 20*day, "", time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string][]string{} // chart id: data-value of every box, whisker, median and allowance
	var walk func(n *html.Node, in string)
	walk = func(n *html.Node, in string) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch {
			case n.Data == "svg" && attr["class"] == "lane-chart":
				in = attr["id"]
				values[in] = nil
			case n.Data == "svg":
				in = ""
			case n.Data == "rect" && in != "":
				values[in] = append(values[in], attr["class"]+": "+attr["data-value"])
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, "")
	if len(values) != 2 {
		t.Fatalf("lane charts %v, want green and yellow", values)
	}
	ns := func(d time.Duration) string { return strconv.FormatInt(int64(d), 10) }
	// Green: A's document check took 1d, D's 6h (median 15h, p90 6h+0.9*18h, max 1d, allowance
	// 2d for A's standard procedure, 12h for D's expedited one: the group's most common, A's);
	// A's certification check 1d. Yellow: B alone ended (C still runs), document check 3d and
	// biological review 13d.
	want := map[string][]string{
		"lane-green": {
			"whisker: document-check max " + ns(day), "box: document-check p90 " + ns(6*time.Hour+day*9/10*18/24), "median: document-check median " + ns(15*time.Hour),
			"whisker: certification-check max " + ns(day), "box: certification-check p90 " + ns(day), "median: certification-check median " + ns(day),
		},
		"lane-yellow": {
			"whisker: document-check max " + ns(3*day), "box: document-check p90 " + ns(3*day), "median: document-check median " + ns(3*day),
			"whisker: biological-review max " + ns(13*day), "box: biological-review p90 " + ns(13*day), "median: biological-review median " + ns(13*day),
		},
	}
	for id, w := range want {
		var got []string
		marks := 0
		for _, v := range values[id] {
			if strings.HasPrefix(v, "mark allowance: ") {
				marks++
				continue
			}
			got = append(got, v)
		}
		if strings.Join(got, "\n") != strings.Join(w, "\n") || marks != 2 {
			t.Errorf("%s: %d allowance marks and\n%s\nwant\n%s", id, marks, strings.Join(got, "\n"), strings.Join(w, "\n"))
		}
	}
}

// A refusal that an upheld appeal reopened is one clearance, counted by how its last run ended:
// the refused run is left out, the report counts it as reopened, and the text says so.
func TestReopenedClearanceIsCountedOnce(t *testing.T) {
	at := time.Date(2020, 5, 20, 0, 0, 0, 0, time.UTC)
	base := Clearance{Lane: policy.LaneYellow, Submitted: at.Add(-72 * time.Hour), Elapsed: 72 * time.Hour, Standard: 20 * day,
		Counting: "calendar", Timeline: []workflows.StageRecord{{Stage: policy.StageDocumentCheck, Started: at.Add(-72 * time.Hour),
			Ended: at, Duration: policy.Duration(72 * time.Hour), Allowance: policy.Duration(48 * time.Hour), Outcome: "approved"}}}
	refused, reopened, other := base, base, base
	refused.DeclarationID, refused.WorkflowID, refused.State = "A", "clearance-1-A", workflows.StateRefused
	reopened.DeclarationID, reopened.WorkflowID, reopened.State, reopened.Appeals = "A", "clearance-1-A", workflows.StateReleased, 1
	other.DeclarationID, other.WorkflowID, other.State = "B", "clearance-1-B", workflows.StateReleased

	r := Build([]Clearance{refused, other, reopened}, 20*day, "", at)
	if r.Clearances != 2 || r.Reopened != 1 || r.ReopenedReleased != 1 {
		t.Fatalf("clearances %d, reopened %d (released %d); want 2, 1, 1", r.Clearances, r.Reopened, r.ReopenedReleased)
	}
	for _, g := range r.Groups {
		if g.Dimension == "outcome" && g.Key == string(workflows.StateRefused) {
			t.Errorf("the reopened refusal is still counted as refused: %+v", g.Total)
		}
	}
	var b strings.Builder
	if err := WriteTable(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Reopened on appeal: 1 (released since: 1)") {
		t.Errorf("the table does not say how many were reopened:\n%s", b.String())
	}
	if got := Latest([]Clearance{refused, reopened}); len(got) != 1 || got[0].Appeals != 1 {
		t.Errorf("Latest kept %+v, want the reopened run alone", got)
	}
}
