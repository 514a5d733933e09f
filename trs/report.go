package trs

import (
	"fmt"
	"sort"
	"strconv"
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
	// OtherAgency is the time other agencies held the clearance (the WCO study's other-agency
	// time): their holds, and the permits its release waited for through the single window.
	// Agencies tells it apart by agency (workflows.AgencyTimesApart: a span two agencies held the
	// clearance at once is shared between them). What a clearance recorded before it told agencies
	// apart is other agencies' holds, unattributed: OtherAgency less the agencies' times.
	OtherAgency time.Duration            `json:"otherAgency,omitempty"`
	Agencies    map[string]time.Duration `json:"agencyTime,omitempty"`
	// AgencyInformation is the time the release waited for the exporter's answers to partner
	// agencies' requests for more information: trader time, beside the stages' exporter waits.
	AgencyInformation time.Duration `json:"agencyInformation,omitempty"`
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

// traderTime is the time the clearance waited on its exporter: at its stages, and for its
// answers to partner agencies.
func (c Clearance) traderTime() time.Duration {
	d := c.AgencyInformation
	for _, s := range c.Timeline {
		d += s.ExporterWait.D()
	}
	return d
}

// otherHolds is the other-agency time no agency is named for: other agencies' holds, recorded
// before clearances told agencies apart.
func (c Clearance) otherHolds() time.Duration {
	d := c.OtherAgency
	for _, a := range c.Agencies {
		d -= a
	}
	return max(d, 0)
}

// setAgencies keeps the agencies' times apart; OtherAgency is their sum.
func (c *Clearance) setAgencies(times map[string]policy.Duration) {
	if times == nil {
		return
	}
	c.Agencies, c.OtherAgency = make(map[string]time.Duration, len(times)), 0
	for a, d := range times {
		c.Agencies[a] = d.D()
		c.OtherAgency += d.D()
	}
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

// FromResult turns a closed clearance's result into an observation. A result that tells the
// agencies' time apart (AgencyTime) has it from the holds and permits it records, a span two
// agencies held the clearance at once shared between them; an earlier result's other-agency time
// is other agencies' holds.
func FromResult(r workflows.Result, categories []string) Clearance {
	c := Clearance{DeclarationID: r.DeclarationID, State: r.State, Lane: r.Lane, Expedited: r.Expedited,
		Categories: categories, Submitted: r.Submitted, Elapsed: r.Elapsed.D(), Standard: r.Standard.D(), Counting: r.Counting, Timeline: r.Timeline,
		Escalations: r.Escalations, OtherAgency: r.OtherAgencyTime.D(), Appeals: len(r.Appeals)}
	for _, p := range r.Permits {
		c.AgencyInformation += p.ExporterWait.D()
	}
	if r.AgencyTime != nil {
		c.setAgencies(workflows.AgencyTimesApart(r.Holds, r.Permits, nil, r.Ended))
	}
	return c
}

// FromStatus turns a running clearance's status (brought up to now) into an observation: each
// agency's time from the holds and permits it records, the wait for agencies in progress included.
func FromStatus(s workflows.Status, categories []string) Clearance {
	c := Clearance{DeclarationID: s.DeclarationID, State: s.State, Lane: s.Lane, Expedited: s.Expedited,
		Categories: categories, Running: !s.State.Final(), Submitted: s.Submitted, Elapsed: s.Elapsed.D(),
		Standard: s.Standard.D(), Counting: s.Counting, Timeline: s.Timeline, Escalations: s.Escalations,
		OtherAgency: s.OtherAgencyTime.D(), Appeals: len(s.Appeals)}
	c.setAgencies(workflows.AgencyTimesApart(s.Holds, s.Permits, s.Waiting, s.Submitted.Add(s.Elapsed.D())))
	for _, p := range s.Permits {
		c.AgencyInformation += p.ExporterWait.D()
	}
	if w := s.Waiting; w != nil && w.For == workflows.WaitingForExporter && len(w.Agencies) > 0 && !s.State.Final() {
		// The exporter's answer to an agency, in progress.
		if at := s.Submitted.Add(s.Elapsed.D()); at.After(w.Since) {
			c.AgencyInformation += at.Sub(w.Since)
		}
	}
	return c
}

// FromStudy turns a clearance's study memo (workflows.MemoStudy) into an observation, a running
// clearance counted on to now: the agencies whose permits its release awaits share the time since
// the memo was written.
func FromStudy(st workflows.Study, declarationID string, categories []string, now time.Time) Clearance {
	s := st.Status(declarationID)
	s.UpTo(now)
	c := FromStatus(s, categories)
	c.Appeals = st.Appeals
	c.AgencyInformation += st.AgencyInformation.D()
	if st.AgencyTime != nil {
		times := make(map[string]policy.Duration, len(st.AgencyTime))
		for a, d := range st.AgencyTime {
			times[a] = d
		}
		if w := st.Waiting; w != nil && w.For == workflows.WaitingForAgency && len(w.Agencies) > 0 && !st.State.Final() && now.After(st.AsOf) {
			since := now.Sub(st.AsOf)
			for i, a := range w.Agencies {
				part := since / time.Duration(len(w.Agencies))
				if i == 0 {
					part = since - part*time.Duration(len(w.Agencies)-1)
				}
				times[a] += policy.Duration(part)
			}
		}
		c.setAgencies(times)
	}
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
	// Agencies is the time other agencies held the clearances (Clearance.OtherAgency).
	Agencies time.Duration `json:"agencies,omitempty"`
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
	// waiting on the exporter is trader time, the time other agencies held a clearance (their
	// holds, the permits its release waited for) other-agency time, the rest (officers, checks,
	// the engine's own work, customs' own holds) customs time. AgencyShares tells
	// OtherAgencyShare apart by agency; OtherHoldsShare is the rest of it, other agencies' holds
	// that no agency is named for. The shares add up to 1.
	CustomsShare     float64            `json:"customsShare"`
	TraderShare      float64            `json:"traderShare"`
	OtherAgencyShare float64            `json:"otherAgencyShare,omitempty"`
	AgencyShares     map[string]float64 `json:"agencyShares,omitempty"`
	OtherHoldsShare  float64            `json:"otherHoldsShare,omitempty"`
	// Parties is the elapsed time by party, in the order the report names them: customs, the
	// exporter, each agency by name, other agencies' holds; each with its mean time per ended
	// clearance and its share.
	Parties []Party `json:"parties,omitempty"`
	// WithinStandard is the share of clearances whose counted time (customs time, where the
	// exporter's time stopped the clock) kept the standard; MeanVsStandard is the mean counted
	// time minus the standard (negative: faster).
	WithinStandard float64       `json:"withinStandard"`
	MeanVsStandard time.Duration `json:"meanVsStandard"`
	// MeanWaits is the mean time per clearance by who it waited on.
	MeanWaits Waits `json:"meanWaits"`
	Running   int   `json:"running"`
}

// Party is one party's part of a group's elapsed time, as the WCO Time Release Study counts it.
type Party struct {
	// Name is PartyCustoms, PartyExporter, an agency's short name (NMPA) or PartyOtherHolds.
	Name string `json:"name"`
	// Mean is the party's time per ended clearance; Share its share of their elapsed time.
	Mean  time.Duration `json:"mean"`
	Share float64       `json:"share"`
}

// Parties the report names besides the agencies.
const (
	PartyCustoms  = "customs"
	PartyExporter = "exporter"
	// PartyOtherHolds is the time other agencies' holds stood with no agency named for it: holds
	// recorded before clearances told agencies apart.
	PartyOtherHolds = "other agencies (holds)"
)

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
	var sum, counted, waitO, waitE, waitC, waitA, waitH time.Duration
	byAgency := map[string]time.Duration{}
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
		waitH += c.otherHolds()
		for a, d := range c.Agencies {
			byAgency[a] += d
		}
		waitE += c.AgencyInformation
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
		g.OtherHoldsShare = float64(waitH) / float64(sum)
		for a, d := range byAgency {
			if g.AgencyShares == nil {
				g.AgencyShares = map[string]float64{}
			}
			g.AgencyShares[a] = float64(d) / float64(sum)
		}
	}
	if n := time.Duration(ended); n > 0 {
		g.Parties = parties(sum-waitE-waitA, waitE, byAgency, waitH, sum, n)
		g.MeanVsStandard = counted/n - standard
		g.MeanWaits = Waits{Officers: waitO / n, Exporter: waitE / n, Checks: waitC / n, Agencies: waitA / n}
		g.MeanWaits.Other = sum/n - g.MeanWaits.Officers - g.MeanWaits.Exporter - g.MeanWaits.Checks - g.MeanWaits.Agencies
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

// parties splits the ended clearances' summed elapsed time by party: customs, the exporter, each
// agency by name, then other agencies' holds that name none (left out when there are none).
func parties(customs, exporter time.Duration, agencies map[string]time.Duration, holds, sum, n time.Duration) []Party {
	party := func(name string, d time.Duration) Party {
		p := Party{Name: name, Mean: d / n}
		if sum > 0 {
			p.Share = float64(d) / float64(sum)
		}
		return p
	}
	out := []Party{party(PartyCustoms, customs), party(PartyExporter, exporter)}
	for _, a := range agencyNames(agencies) {
		out = append(out, party(a, agencies[a]))
	}
	if holds > 0 {
		out = append(out, party(PartyOtherHolds, holds))
	}
	return out
}

// agencyNames are the agencies named in times, in name order.
func agencyNames(times map[string]time.Duration) []string {
	names := make([]string, 0, len(times))
	for a := range times {
		names = append(names, a)
	}
	sort.Strings(names)
	return names
}

// TimeByParty says how much of the group's elapsed time was whose, per ended clearance: "of 23.4
// days elapsed: customs 14.1 (60%), exporter 6.2 (26%), NMPA 2.0 (9%), SAMR 1.1 (5%)". Durations
// are in days from a mean of a day; shorter ones as Human writes them.
func (g Group) TimeByParty() string {
	v := g.byParty()
	if len(v.Parties) == 0 {
		return "no clearance ended"
	}
	parts := make([]string, len(v.Parties))
	for i, p := range v.Parties {
		parts[i] = p.Text
	}
	return v.Elapsed + ": " + strings.Join(parts, ", ")
}

// partyView is TimeByParty in parts, for the HTML page.
type partyView struct {
	// Elapsed is "of 23.4 days elapsed".
	Elapsed string
	Parties []partyFigure
}

// partyFigure is one party's figure: "NMPA 2.0 (9%)".
type partyFigure struct {
	Party
	Text string
}

func (g Group) byParty() partyView {
	in, unit := Human, ""
	if g.Total.Mean >= 24*time.Hour {
		in = func(d time.Duration) string { return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) }
		unit = " days"
	}
	v := partyView{Elapsed: fmt.Sprintf("of %s%s elapsed", in(g.Total.Mean), unit)}
	for _, p := range g.Parties {
		v.Parties = append(v.Parties, partyFigure{Party: p, Text: fmt.Sprintf("%s %s (%s)", p.Name, in(p.Mean), pct(p.Share))})
	}
	return v
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
// median 3d 4h; 92% within 20d; customs time 62%, trader time 30%, NMPA time 6%, SAMR time 2%".
// Other agencies' holds that name no agency are "other-agency time".
func headline(cs []Clearance, standard time.Duration) string {
	var released []time.Duration
	var within []bool
	var sum, trader, agency, holds time.Duration
	byAgency := map[string]time.Duration{}
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
			holds += c.otherHolds()
			for a, d := range c.Agencies {
				byAgency[a] += d
			}
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
	share := func(d time.Duration) float64 {
		if sum <= 0 {
			return 0
		}
		return float64(d) / float64(sum)
	}
	other := ""
	for _, a := range agencyNames(byAgency) {
		other += fmt.Sprintf(", %s time %s", a, percent(share(byAgency[a])))
	}
	if holds > 0 {
		other += ", other-agency time " + percent(share(holds))
	}
	return fmt.Sprintf("%d released; median %s; %s within %s; customs time %s, trader time %s%s%s",
		st.Count, Human(st.Median), percent(st.Within), Human(standard), percent(1-share(trader)-share(agency)), percent(share(trader)), other, tail)
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
