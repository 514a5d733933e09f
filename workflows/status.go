package workflows

import (
	"time"

	"github.com/medsupply/customs/policy"
)

// status builds the answer to the status query.
func (c *clearance) status(now time.Time) Status {
	elapsed := policy.Duration(0)
	if !c.ended.IsZero() {
		elapsed = policy.Duration(c.ended.Sub(c.Submitted))
	}
	rec := c.recorded()
	rec.Findings, rec.Decisions = orEmpty(rec.Findings), orEmpty(rec.Decisions)
	rec.Timeline = orEmpty(append([]StageRecord(nil), rec.Timeline...))
	s := Status{
		Record:        rec,
		DeclarationID: c.decl.ID, Exporter: c.decl.Exporter.Code, Stage: c.Stage, Lane: c.Lane,
		LaneSelection: c.Selection, State: c.State, Phase: c.phase, Accepts: c.phase.Accepting(),
		Expedited: c.decl.IsExpedited(), SlaBreached: c.SlaBreached,
		Notice: c.notice, Reason: c.reason, Submitted: c.Submitted, Registration: c.Registration,
		Elapsed: elapsed, Standard: c.Configuration.Policy.Standard, Counting: c.Configuration.Policy.Calendar.Name(),
	}
	if w := c.waiting; w != nil {
		copied := *w
		s.Waiting = &copied
	}
	if h := c.holder(); h != "" {
		claim := *c.Claim
		s.Claim = &claim
	}
	if len(s.Holds) > 0 {
		at := now
		if !c.ended.IsZero() {
			at = c.ended
		}
		_, agencies := c.heldTimes(at)
		s.OtherAgencyTime = policy.Duration(agencies)
		s.Holds = append([]HoldRecord(nil), s.Holds...)
		for i := range s.Holds {
			if s.Holds[i].Lifted == nil {
				s.Holds[i].Held = policy.Duration(now.Sub(s.Holds[i].At))
			}
		}
	}
	s.UpTo(now)
	return s
}

// orEmpty makes a nil list an empty one, so JSON shows [] rather than null.
func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
