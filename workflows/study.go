package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/policy"
)

// MemoStudy is the memo field in which a clearance keeps its Study. Visibility returns memos with
// every page of a list, so the Time Release Study reads a thousand clearances per server call
// instead of fetching each one's result or querying each running one.
const MemoStudy = "study"

// Study is what the Time Release Study needs of a clearance, as of AsOf: the clearance writes it
// to its memo (MemoStudy) each time it publishes its search attributes (when it starts or stops
// waiting on someone, on escalation, on reroute and when it ends) and when a supervisor extends a
// stage's allowance, so a running clearance's study
// is that of its last such moment, counted on to the reader's clock with Status.UpTo.
type Study struct {
	State     State         `json:"state"`
	Lane      policy.Lane   `json:"lane"`
	Stage     policy.Stage  `json:"stage"`
	Expedited bool          `json:"expedited,omitempty"`
	Submitted time.Time     `json:"submitted"`
	Timeline  []StageRecord `json:"timeline"`
	// Escalations are the clearance's escalations, in order.
	Escalations []Escalation `json:"escalations,omitempty"`
	// Waiting is the wait in progress: what is awaited and since when.
	Waiting *StudyWait `json:"waiting,omitempty"`
	// Elapsed is the time from submission to AsOf (to the end, once ended).
	Elapsed  policy.Duration `json:"elapsed"`
	Standard policy.Duration `json:"standard"`
	Counting string          `json:"counting"`
	AsOf     time.Time       `json:"asOf"`
	// OtherAgency is how long other agencies held the clearance: their holds, and the permits its
	// release waited for through the single window (the WCO study's other-agency time).
	// AgencyTime tells it apart by agency (AgencyTimesApart), when the clearance recorded by whom:
	// a study written before it did has OtherAgency alone.
	OtherAgency policy.Duration            `json:"otherAgency,omitempty"`
	AgencyTime  map[string]policy.Duration `json:"agencyTime,omitempty"`
	// AgencyInformation is how long the release waited for the exporter's answers to agencies'
	// requests for more information (PermitRecord.ExporterWait): trader time, beside the stages'.
	AgencyInformation policy.Duration `json:"agencyInformation,omitempty"`
	// Appeals counts the upheld appeals that reopened the clearance: of the runs of one workflow
	// ID, the one with the most is the clearance, the others the refusals it reopened.
	Appeals int `json:"appeals,omitempty"`
}

// StudyWait is the part of Waiting the study counts with.
type StudyWait struct {
	For   string    `json:"for"`
	Since time.Time `json:"since"`
	// Agencies are the partner agencies whose permits the release awaits, when For is
	// WaitingForAgency: a reader counts their time on from AsOf; or, when For is
	// WaitingForExporter, the agencies whose requests for more information the exporter answers.
	Agencies []string `json:"agencies,omitempty"`
}

// Status is the study as a status: the fields the study carries, for Status.UpTo and the
// study's readers.
func (s Study) Status(declarationID string) Status {
	st := Status{
		DeclarationID: declarationID, State: s.State, Lane: s.Lane, Stage: s.Stage, Expedited: s.Expedited,
		Submitted: s.Submitted, Elapsed: s.Elapsed, Standard: s.Standard, Counting: s.Counting, AsOf: s.AsOf,
		SlaBreached: len(s.Escalations) > 0, OtherAgencyTime: s.OtherAgency,
	}
	st.Timeline = append([]StageRecord(nil), s.Timeline...)
	st.Escalations = s.Escalations
	if s.Waiting != nil {
		st.Waiting = &Waiting{For: s.Waiting.For, Since: s.Waiting.Since}
		if s.Waiting.For == WaitingForExporter {
			st.Waiting.Agencies = s.Waiting.Agencies
		}
	}
	return st
}

// study is the clearance's Study now: its status counted up to now, the wait in progress included.
func (c *clearance) study(now time.Time) Study {
	st := c.status(now)
	s := Study{
		State: st.State, Lane: st.Lane, Stage: st.Stage, Expedited: st.Expedited, Submitted: st.Submitted,
		Timeline: st.Timeline, Escalations: st.Escalations, Elapsed: st.Elapsed, Standard: st.Standard,
		Counting: st.Counting, AsOf: st.AsOf, OtherAgency: st.OtherAgencyTime, Appeals: len(st.Appeals),
	}
	if s.AsOf.IsZero() {
		s.AsOf = now
	}
	if w := st.Waiting; w != nil && !st.State.Final() {
		s.Waiting = &StudyWait{For: w.For, Since: w.Since}
		switch {
		case w.For == WaitingForAgency:
			s.Waiting.Agencies = c.permitsAwaited()
		case len(w.Agencies) > 0:
			s.Waiting.Agencies = w.Agencies
		}
	}
	at := now
	if !c.ended.IsZero() {
		at = c.ended
	}
	if byAgency, total := agencyTimesApart(c.Holds, c.Permits, c.waiting, at); byAgency != nil {
		s.AgencyTime, s.OtherAgency = byAgency, total
	}
	for _, p := range c.Permits {
		s.AgencyInformation += p.ExporterWait
	}
	return s
}

// AgencyTimesApart tells apart, by agency, the time partner agencies held a clearance up to at: each
// agency's holds, and the permits the release waited for (the wait in progress included, when
// waiting is the wait for agencies), each as the span of time it stood. A span in which several
// agencies held the clearance at once is shared equally between them, so that the agencies' times
// add up to the time any of them held it, and customs', the trader's and the agencies' shares of
// the elapsed time add up to the whole. It is nil when no agency held the clearance or was asked.
func AgencyTimesApart(holds []HoldRecord, permits []PermitRecord, waiting *Waiting, at time.Time) map[string]policy.Duration {
	byAgency, _ := agencyTimesApart(holds, permits, waiting, at)
	return byAgency
}

// agencySpan is a span of time in which an agency held the clearance.
type agencySpan struct {
	agency     string
	start, end time.Time
}

// agencyTimesApart is AgencyTimesApart, and the sum of its times. It ranges over no map: the
// clearance calls it for its study memo.
func agencyTimesApart(holds []HoldRecord, permits []PermitRecord, waiting *Waiting, at time.Time) (map[string]policy.Duration, policy.Duration) {
	var spans []agencySpan
	var agencies []string
	note := func(agency string, start, end time.Time) {
		if !slices.Contains(agencies, agency) {
			agencies = append(agencies, agency)
		}
		if end.After(start) {
			spans = append(spans, agencySpan{agency, start, end})
		}
	}
	for _, h := range holds {
		if h.Agency == "" {
			continue
		}
		end := at
		if h.Lifted != nil {
			end = h.At.Add(h.Held.D())
		}
		note(h.Agency, h.At, end)
	}
	inWait := waiting != nil && waiting.For == WaitingForAgency
	for _, p := range permits {
		var from time.Time // the wait in progress, if the release waits for the request now
		if inWait && p.pending() {
			from = waiting.Since
			if p.Asked.After(from) {
				from = p.Asked
			}
		}
		if len(p.Waits) > 0 {
			// The stretches the release waited for the request, and the one in progress. Time a
			// run of an earlier release waited, which kept no stretches, comes before them.
			var kept time.Duration
			for _, w := range p.Waits {
				note(p.Agency, w.From, w.Until)
				kept += w.Until.Sub(w.From)
			}
			if earlier := p.Waited.D() - kept; earlier > 0 {
				note(p.Agency, p.Waits[0].From.Add(-earlier), p.Waits[0].From)
			}
			if !from.IsZero() {
				note(p.Agency, from, at)
			}
			continue
		}
		// A record of an earlier clearance keeps Waited only: its wait is laid out as one
		// stretch until the agency answered.
		end := at
		waited := p.Waited.D()
		switch {
		case !p.Answered.IsZero():
			end = p.Answered
		case !from.IsZero():
			waited += at.Sub(from)
		}
		note(p.Agency, end.Add(-waited), end)
	}
	if len(agencies) == 0 {
		return nil, 0
	}
	// Sweep the spans' ends in time order; each stretch between two of them goes in equal parts to
	// the agencies holding the clearance throughout it.
	var marks []time.Time
	for _, s := range spans {
		marks = append(marks, s.start, s.end)
	}
	slices.SortFunc(marks, func(a, b time.Time) int { return a.Compare(b) })
	marks = slices.CompactFunc(marks, func(a, b time.Time) bool { return a.Equal(b) })
	times := make([]time.Duration, len(agencies))
	var total time.Duration
	for i := 1; i < len(marks); i++ {
		from, to := marks[i-1], marks[i]
		var holding []int
		for _, s := range spans {
			if !s.start.After(from) && !s.end.Before(to) {
				if k := slices.Index(agencies, s.agency); !slices.Contains(holding, k) {
					holding = append(holding, k)
				}
			}
		}
		if len(holding) == 0 {
			continue
		}
		stretch := to.Sub(from)
		total += stretch
		part := stretch / time.Duration(len(holding))
		for j, k := range holding {
			if j == 0 {
				times[k] += stretch - part*time.Duration(len(holding)-1) // the nanoseconds that do not divide
			} else {
				times[k] += part
			}
		}
	}
	out := make(map[string]policy.Duration, len(agencies))
	for i, a := range agencies {
		out[a] = policy.Duration(times[i])
	}
	return out, policy.Duration(total)
}

// keepStudy writes the clearance's study to its memo.
func (c *clearance) keepStudy(ctx workflow.Context) error {
	if err := workflow.UpsertMemo(ctx, map[string]interface{}{MemoStudy: c.study(workflow.Now(ctx))}); err != nil {
		return fmt.Errorf("upsert memo %s: %w", MemoStudy, err)
	}
	return nil
}
