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
	Counting string                  `json:"counting"`
	Timeline []workflows.StageRecord `json:"timeline"`
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
		Categories: categories, Submitted: r.Submitted, Elapsed: r.Elapsed.D(), Standard: r.Standard.D(), Counting: r.Counting, Timeline: r.Timeline}
}

// FromStatus turns a running clearance's status (brought up to now) into an observation.
func FromStatus(s workflows.Status, categories []string) Clearance {
	return Clearance{DeclarationID: s.DeclarationID, State: s.State, Lane: s.Lane, Expedited: s.Expedited,
		Categories: categories, Running: !s.State.Final(), Submitted: s.Submitted, Elapsed: s.Elapsed.D(),
		Standard: s.Standard.D(), Counting: s.Counting, Timeline: s.Timeline}
}

// StageStats are the statistics of one stage within a group.
type StageStats struct {
	Stage policy.Stage `json:"stage"`
	Stats
	// Allowance is the mean allowance of the stage in the group (expedited and standard
	// clearances have different ones).
	Allowance time.Duration `json:"allowance"`
}

// Waits split where the time went.
type Waits struct {
	Officers time.Duration `json:"officers"`
	Exporter time.Duration `json:"exporter"`
	Checks   time.Duration `json:"checks"`
	// Other is the rest: between stages, issuing notices, the workflow's own work.
	Other time.Duration `json:"other"`
}

// Group is the study of one slice of the clearances.
type Group struct {
	// Dimension is "all", "lane", "procedure", "category" or "biological"; Key its value.
	Dimension string       `json:"dimension"`
	Key       string       `json:"key"`
	Stages    []StageStats `json:"stages"`
	Total     Stats        `json:"total"`
	// WithinStandard is the share of clearances whose total time kept the standard;
	// MeanVsStandard is the mean total minus the standard (negative: faster).
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
	Notes  []string    `json:"notes,omitempty"`
	Groups []Group     `json:"groups"`
	Totals []Clearance `json:"-"`
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
	r := Report{Generated: generated, Query: query, Standard: standard, Counting: counting(cs), Clearances: len(cs), Totals: cs}
	r.Groups = append(r.Groups, group("all", "all", cs, standard))
	for _, dim := range []struct {
		name string
		key  func(Clearance) []string
	}{
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
	var totals []time.Duration
	var within []bool
	var sum, waitO, waitE, waitC time.Duration
	byStage := map[policy.Stage][]workflows.StageRecord{}
	for _, c := range cs {
		totals = append(totals, c.Elapsed)
		within = append(within, c.Elapsed <= standard)
		sum += c.Elapsed
		if c.Running {
			g.Running++
		}
		for _, s := range c.Timeline {
			byStage[s.Stage] = append(byStage[s.Stage], s)
			waitO += s.OfficerWait.D()
			waitE += s.ExporterWait.D()
			waitC += s.CheckTime.D()
		}
	}
	g.Total = summarise(totals, within)
	g.WithinStandard = g.Total.Within
	if n := time.Duration(len(cs)); n > 0 {
		g.MeanVsStandard = sum/n - standard
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
		var allow time.Duration
		for i, s := range recs {
			ds[i] = s.Duration.D()
			ok[i] = withinAllowance(s)
			allow += s.Allowance.D()
		}
		g.Stages = append(g.Stages, StageStats{Stage: st, Stats: summarise(ds, ok), Allowance: allow / time.Duration(len(recs))})
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
