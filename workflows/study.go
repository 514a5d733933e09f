package workflows

import (
	"fmt"
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
	// OtherAgency is how long other agencies' holds stood.
	OtherAgency policy.Duration `json:"otherAgency,omitempty"`
	// Appeals counts the upheld appeals that reopened the clearance: of the runs of one workflow
	// ID, the one with the most is the clearance, the others the refusals it reopened.
	Appeals int `json:"appeals,omitempty"`
}

// StudyWait is the part of Waiting the study counts with.
type StudyWait struct {
	For   string    `json:"for"`
	Since time.Time `json:"since"`
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
	}
	return s
}

// keepStudy writes the clearance's study to its memo.
func (c *clearance) keepStudy(ctx workflow.Context) error {
	if err := workflow.UpsertMemo(ctx, map[string]interface{}{MemoStudy: c.study(workflow.Now(ctx))}); err != nil {
		return fmt.Errorf("upsert memo %s: %w", MemoStudy, err)
	}
	return nil
}
