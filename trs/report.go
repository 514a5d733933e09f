package trs

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// Clearance is one clearance as the study sees it: closed ones from their result, running ones
// from their status up to now.
type Clearance struct {
	DeclarationID string          `json:"declarationId"`
	State         workflows.State `json:"state"`
	Lane          policy.Lane     `json:"lane"`
	Expedited     bool            `json:"expedited"`
	Categories    []string        `json:"categories"`
	Running       bool            `json:"running"`
	Submitted     time.Time       `json:"submitted"`
	Elapsed       time.Duration   `json:"elapsed"`
	Standard      time.Duration   `json:"standard"`
	// Counting is how the clearance's allowances were counted: calendar or business-days.
	Counting    string                  `json:"counting"`
	Timeline    []workflows.StageRecord `json:"timeline"`
	Escalations []workflows.Escalation  `json:"escalations,omitempty"`
	// OtherAgency is the time other agencies' holds stood (the WCO study's other-agency time).
	OtherAgency time.Duration `json:"otherAgency,omitempty"`
	// WorkflowID is the clearance's workflow ID, when it was read from the server; Appeals counts
	// the upheld appeals that reopened it. Of the runs of one workflow ID, the clearance is the one
	// with the most appeals: the others are refusals an appeal reopened.
	WorkflowID string `json:"workflowId,omitempty"`
	Appeals    int    `json:"appeals,omitempty"`
}

// counted is the time the clearance sets against the standard: its elapsed time less the time
// waiting on the exporter stopped the clock (the policy's traderTime "stop").
func (c Clearance) counted() time.Duration {
	d := c.Elapsed
	for _, s := range c.Timeline {
		d -= s.ClockStopped.D()
	}
	return d
}

// traderTime is the time the clearance waited on its exporter.
func (c Clearance) traderTime() time.Duration {
	var d time.Duration
	for _, s := range c.Timeline {
		d += s.ExporterWait.D()
	}
	return d
}

// Biological reports whether the clearance had a biological review.
func (c Clearance) Biological() bool {
	for _, s := range c.Timeline {
		if s.Stage == policy.StageBiologicalReview {
			return true
		}
	}
	return false
}

// FromResult turns a closed clearance's result into an observation.
func FromResult(r workflows.Result, categories []string) Clearance {
	return Clearance{DeclarationID: r.DeclarationID, State: r.State, Lane: r.Lane, Expedited: r.Expedited,
		Categories: categories, Submitted: r.Submitted, Elapsed: r.Elapsed.D(), Standard: r.Standard.D(), Counting: r.Counting, Timeline: r.Timeline,
		Escalations: r.Escalations, OtherAgency: r.OtherAgencyTime.D(), Appeals: len(r.Appeals)}
}

// FromStatus turns a running clearance's status (brought up to now) into an observation.
func FromStatus(s workflows.Status, categories []string) Clearance {
	return Clearance{DeclarationID: s.DeclarationID, State: s.State, Lane: s.Lane, Expedited: s.Expedited,
		Categories: categories, Running: !s.State.Final(), Submitted: s.Submitted, Elapsed: s.Elapsed.D(),
		Standard: s.Standard.D(), Counting: s.Counting, Timeline: s.Timeline, Escalations: s.Escalations,
		OtherAgency: s.OtherAgencyTime.D(), Appeals: len(s.Appeals)}
}

// FromStudy turns a clearance's study memo (workflows.MemoStudy) into an observation, a running
// clearance counted on to now.
func FromStudy(st workflows.Study, declarationID string, categories []string, now time.Time) Clearance {
	s := st.Status(declarationID)
	s.UpTo(now)
	c := FromStatus(s, categories)
	c.Appeals = st.Appeals
	return c
}

// Latest keeps one observation per clearance: of those with the same workflow ID (a refusal and
// the run an upheld appeal reopened it in), the one with the most appeals, the first where they
// tie. Observations without a workflow ID are each their own clearance. The order is kept.
func Latest(cs []Clearance) []Clearance {
	best := map[string]int{}
	for i, c := range cs {
		if c.WorkflowID == "" {
			continue
		}
		if j, ok := best[c.WorkflowID]; !ok || c.Appeals > cs[j].Appeals {
			best[c.WorkflowID] = i
		}
	}
	out := make([]Clearance, 0, len(cs))
	for i, c := range cs {
		if c.WorkflowID == "" || best[c.WorkflowID] == i {
			out = append(out, c)
		}
	}
	return out
}

// StageStats are the statistics of one stage within a group, over the stages that ended: a
// stage still running is not yet within or over its allowance.
type StageStats struct {
	Stage policy.Stage `json:"stage"`
	Stats
	// Allowance is the stage's allowance as the policy set it, the one most of the group's
	// stages had; Allowances lists every one when they differ (expedited and standard
	// clearances have different ones).
	Allowance  time.Duration   `json:"allowance"`
	Allowances []time.Duration `json:"allowances,omitempty"`
}

// Waits split where the time went.
type Waits struct {
	Officers time.Duration `json:"officers"`
	Exporter time.Duration `json:"exporter"`
	Checks   time.Duration `json:"checks"`
	// Other is the rest: between stages, issuing notices, the workflow's own work.
	Other time.Duration `json:"other"`
}

// Group is the study of one slice of the clearances. Its statistics are of the clearances that
// ended; those still running are counted apart, with their time so far, and never as within the
// standard before they end.
type Group struct {
	// Dimension is "all", "outcome", "lane", "procedure", "category" or "biological"; Key its
	// value.
	Dimension string       `json:"dimension"`
	Key       string       `json:"key"`
	Stages    []StageStats `json:"stages"`
	Total     Stats        `json:"total"`
	// SoFar is the time so far of the clearances still running.
	SoFar Stats `json:"soFar"`
	// CustomsShare, TraderShare and OtherAgencyShare split the ended clearances' total time:
	// waiting on the exporter is trader time, other agencies' holds other-agency time, the rest
	// (officers, checks, the engine's own work, customs' own holds) customs time.
	CustomsShare     float64 `json:"customsShare"`
	TraderShare      float64 `json:"traderShare"`
	OtherAgencyShare float64 `json:"otherAgencyShare,omitempty"`
	// WithinStandard is the share of clearances whose counted time (customs time, where the
	// exporter's time stopped the clock) kept the standard; MeanVsStandard is the mean counted
	// time minus the standard (negative: faster).
	WithinStandard float64       `json:"withinStandard"`
	MeanVsStandard time.Duration `json:"meanVsStandard"`
	// MeanWaits is the mean time per clearance by who it waited on.
	MeanWaits Waits `json:"meanWaits"`
	Running   int   `json:"running"`
}

// Report is a whole study.
type Report struct {
	Generated time.Time     `json:"generated"`
	Query     string        `json:"query,omitempty"`
	Standard  time.Duration `json:"standard"`
	// Counting says how the allowances were counted: "calendar time", "working days", or both
	// when the clearances ran under different policies. Durations are always elapsed time.
	Counting   string `json:"counting"`
	Clearances int    `json:"clearances"`
	// Notes are what the reader should know of the policy itself, such as paths whose stage
	// allowances add up past the standard.
	Notes []string `json:"notes,omitempty"`
	// Headline is the study in an analyst's words: how many were released, their median, the
	// share within the standard, and how their time splits between customs and the trader.
	Headline string  `json:"headline"`
	Groups   []Group `json:"groups"`
	// Breaches are the stages that overran their allowance, the longest first.
	Breaches []Breach `json:"breaches,omitempty"`
	// Trend is the study per week of lodgement, oldest first.
	Trend []Week `json:"trend,omitempty"`
	// Reopened counts the clearances an upheld appeal reopened after a refusal: each is counted
	// once, by how its last run ended; ReopenedReleased of them were released.
	Reopened         int         `json:"reopened,omitempty"`
	ReopenedReleased int         `json:"reopenedReleased,omitempty"`
	Totals           []Clearance `json:"-"`
}

// Breach is a stage that overran its allowance.
type Breach struct {
	DeclarationID string       `json:"declarationId"`
	Stage         policy.Stage `json:"stage"`
	// Over is how far past its due time the stage ended, or stands when still running.
	Over       time.Duration `json:"over"`
	Supervisor string        `json:"supervisor,omitempty"`
	Running    bool          `json:"running"`
}

// Week is the study of the clearances lodged in one week (from Monday, UTC).
type Week struct {
	Start  time.Time `json:"start"`
	Lodged int       `json:"lodged"`
	// Ended of them; Median and WithinStandard are theirs.
	Ended          int           `json:"ended"`
	Median         time.Duration `json:"median"`
	WithinStandard float64       `json:"withinStandard"`
}

// PolicyNotes are the notes a policy earns: each path whose stage allowances add up to more
// than its standard, so that clearances taking every allowance miss the standard.
func PolicyNotes(p policy.Policy) []string {
	var notes []string
	for _, a := range workflows.PathsOverStandard(p) {
		notes = append(notes, fmt.Sprintf("%s, more than the %s standard", a, p.Standard))
	}
	return notes
}

// Build studies the clearances against the standard.
func Build(cs []Clearance, standard time.Duration, query string, generated time.Time) Report {
	cs = Latest(cs)
	r := Report{Generated: generated, Query: query, Standard: standard, Counting: counting(cs), Clearances: len(cs), Totals: cs}
	r.Groups = append(r.Groups, group("all", "all", cs, standard))
	r.Headline = headline(cs, standard)
	r.Breaches = breaches(cs, generated)
	r.Trend = trend(cs, standard)
	for _, c := range cs {
		if c.Appeals > 0 {
			r.Reopened++
			if c.State == workflows.StateReleased {
				r.ReopenedReleased++
			}
		}
	}
	for _, dim := range []struct {
		name string
		key  func(Clearance) []string
	}{
		{"outcome", func(c Clearance) []string {
			if c.Running {
				return []string{"running"}
			}
			return []string{string(c.State)}
		}},
		{"lane", func(c Clearance) []string { return []string{string(c.Lane)} }},
		{"procedure", func(c Clearance) []string {
			if c.Expedited {
				return []string{"expedited"}
			}
			return []string{"standard"}
		}},
		{"biological", func(c Clearance) []string {
			if c.Biological() {
				return []string{"biological review"}
			}
			return []string{"no biological review"}
		}},
		{"category", func(c Clearance) []string { return c.Categories }},
	} {
		buckets := map[string][]Clearance{}
		for _, c := range cs {
			for _, k := range dim.key(c) {
				buckets[k] = append(buckets[k], c)
			}
		}
		keys := make([]string, 0, len(buckets))
		for k := range buckets {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			r.Groups = append(r.Groups, group(dim.name, k, buckets[k], standard))
		}
	}
	return r
}

func group(dim, key string, cs []Clearance, standard time.Duration) Group {
	g := Group{Dimension: dim, Key: key}
	var totals, soFar []time.Duration
	var within []bool
	var sum, counted, waitO, waitE, waitC, waitA time.Duration
	ended := 0
	byStage := map[policy.Stage][]workflows.StageRecord{}
	for _, c := range cs {
		for _, s := range c.Timeline {
			if !s.Ended.IsZero() || !c.Running {
				byStage[s.Stage] = append(byStage[s.Stage], s)
			}
		}
		if c.Running {
			g.Running++
			soFar = append(soFar, c.Elapsed)
			continue
		}
		ended++
		totals = append(totals, c.Elapsed)
		within = append(within, c.counted() <= standard)
		sum += c.Elapsed
		counted += c.counted()
		waitA += c.OtherAgency
		for _, s := range c.Timeline {
			waitO += s.OfficerWait.D()
			waitE += s.ExporterWait.D()
			waitC += s.CheckTime.D()
		}
	}
	g.Total = summarise(totals, within)
	g.SoFar = summarise(soFar, nil)
	g.WithinStandard = g.Total.Within
	if sum > 0 {
		g.TraderShare = float64(waitE) / float64(sum)
		g.OtherAgencyShare = float64(waitA) / float64(sum)
		g.CustomsShare = 1 - g.TraderShare - g.OtherAgencyShare
	}
	if n := time.Duration(ended); n > 0 {
		g.MeanVsStandard = counted/n - standard
		g.MeanWaits = Waits{Officers: waitO / n, Exporter: waitE / n, Checks: waitC / n}
		g.MeanWaits.Other = sum/n - g.MeanWaits.Officers - g.MeanWaits.Exporter - g.MeanWaits.Checks
		if g.MeanWaits.Other < 0 {
			g.MeanWaits.Other = 0
		}
	}
	for _, st := range policy.Stages {
		recs := byStage[st]
		if len(recs) == 0 {
			continue
		}
		ds := make([]time.Duration, len(recs))
		ok := make([]bool, len(recs))
		seen := map[time.Duration]int{}
		for i, s := range recs {
			ds[i] = s.Duration.D()
			ok[i] = withinAllowance(s)
			seen[s.Allowance.D()]++
		}
		ss := StageStats{Stage: st, Stats: summarise(ds, ok)}
		for a, n := range seen {
			ss.Allowances = append(ss.Allowances, a)
			if n > seen[ss.Allowance] || (n == seen[ss.Allowance] && a > ss.Allowance) {
				ss.Allowance = a
			}
		}
		sort.Slice(ss.Allowances, func(i, j int) bool { return ss.Allowances[i] < ss.Allowances[j] })
		if len(ss.Allowances) == 1 {
			ss.Allowances = nil
		}
		g.Stages = append(g.Stages, ss)
	}
	return g
}

// withinAllowance reports whether a stage ended (or, running, stands) before its allowance ran
// out: its due time, which working-day counting moves past weekends and holidays.
func withinAllowance(s workflows.StageRecord) bool {
	if s.Due.IsZero() {
		return s.Duration <= s.Allowance
	}
	end := s.Ended
	if end.IsZero() {
		end = s.Started.Add(s.Duration.D())
	}
	return !end.After(s.Due)
}

func counting(cs []Clearance) string {
	seen := map[string]bool{}
	for _, c := range cs {
		seen[c.Counting] = true
	}
	var names []string
	if seen[policy.CountingCalendar] || seen[""] {
		names = append(names, "calendar time")
	}
	if seen[policy.CountingBusinessDays] {
		names = append(names, "working days")
	}
	return strings.Join(names, " and ")
}

// headline says the study in an analyst's words, of the released clearances: "12 released;
// median 3d 4h; 92% within 20d; customs time 62%, trader time 38%".
func headline(cs []Clearance, standard time.Duration) string {
	var released []time.Duration
	var within []bool
	var sum, trader, agency time.Duration
	running := 0
	for _, c := range cs {
		switch {
		case c.Running:
			running++
		case c.State == workflows.StateReleased:
			released = append(released, c.Elapsed)
			within = append(within, c.counted() <= standard)
			sum += c.Elapsed
			trader += c.traderTime()
			agency += c.OtherAgency
		}
	}
	tail := ""
	if running > 0 {
		tail = fmt.Sprintf("; %d still running", running)
	}
	if len(released) == 0 {
		return "none released" + tail
	}
	st := summarise(released, within)
	share, agencies := 0.0, 0.0
	if sum > 0 {
		share, agencies = float64(trader)/float64(sum), float64(agency)/float64(sum)
	}
	other := ""
	if agency > 0 {
		other = ", other-agency time " + percent(agencies)
	}
	return fmt.Sprintf("%d released; median %s; %s within %s; customs time %s, trader time %s%s%s",
		st.Count, Human(st.Median), percent(st.Within), Human(standard), percent(1-share-agencies), percent(share), other, tail)
}

func percent(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// breaches lists the stages that overran their allowance, the longest overrun first; a stage
// still running stands at now.
func breaches(cs []Clearance, now time.Time) []Breach {
	var out []Breach
	for _, c := range cs {
		for _, s := range c.Timeline {
			if s.Due.IsZero() || !(s.Overrun || s.Escalated) {
				continue
			}
			end, running := s.Ended, false
			if end.IsZero() {
				end, running = s.Started.Add(s.Duration.D()), true
				if !now.IsZero() && c.Running && now.After(end) {
					end = now
				}
			}
			b := Breach{DeclarationID: c.DeclarationID, Stage: s.Stage, Over: end.Sub(s.Due), Running: running}
			for _, e := range c.Escalations {
				if e.Stage == s.Stage {
					b.Supervisor = e.Supervisor
				}
			}
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Over > out[j].Over })
	return out
}

// trend groups the clearances by the week they were lodged in.
func trend(cs []Clearance, standard time.Duration) []Week {
	type acc struct {
		lodged int
		ended  []time.Duration
		within []bool
	}
	weeks := map[time.Time]*acc{}
	for _, c := range cs {
		if c.Submitted.IsZero() {
			continue
		}
		d := c.Submitted.UTC()
		monday := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		a := weeks[monday]
		if a == nil {
			a = &acc{}
			weeks[monday] = a
		}
		a.lodged++
		if !c.Running {
			a.ended = append(a.ended, c.Elapsed)
			a.within = append(a.within, c.counted() <= standard)
		}
	}
	out := make([]Week, 0, len(weeks))
	for start, a := range weeks {
		st := summarise(a.ended, a.within)
		out = append(out, Week{Start: start, Lodged: a.lodged, Ended: st.Count, Median: st.Median, WithinStandard: st.Within})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}
