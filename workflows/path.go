package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/policy"
)

// Stage outcomes in the timeline.
const (
	OutcomeApproved  = "approved"
	OutcomeCleared   = "cleared"
	OutcomeRefused   = "refused"
	OutcomeLapsed    = "lapsed"
	OutcomeWithdrawn = "withdrawn"
	// OutcomeRerouted ends a release stage that a supervisor's reroute interrupted: the new lane
	// asks for stages before the release (a physical inspection, an officer's documentary check).
	OutcomeRerouted = "rerouted"
)

// path returns the stages the declaration passes through in the clearance's current lane.
func (c *clearance) path() []policy.Stage {
	p := []policy.Stage{policy.StageDocumentCheck}
	if c.decl.NeedsBiologicalReview() {
		p = append(p, policy.StageBiologicalReview)
	}
	p = append(p, policy.StageCertificationCheck)
	if c.lane == policy.LaneRed {
		p = append(p, policy.StagePhysicalInspection)
	}
	return append(p, policy.StageRelease)
}

// laneNeedsOfficer reports whether an officer decides the stage in the current lane whatever its
// automated checks find.
func (c *clearance) laneNeedsOfficer(stage policy.Stage) bool {
	switch stage {
	case policy.StageBiologicalReview, policy.StagePhysicalInspection:
		return true
	case policy.StageDocumentCheck:
		return c.lane == policy.LaneYellow || c.lane == policy.LaneRed
	case policy.StageCertificationCheck:
		return c.lane == policy.LaneRed
	case policy.StageRelease:
		return c.lane == policy.LaneRed || c.decl.NeedsBiologicalReview()
	}
	return true
}

// passed reports whether the stage's latest run satisfies the current lane: approved by an
// officer, or cleared by its checks where the lane asks no officer.
func (c *clearance) passed(stage policy.Stage) bool {
	for i := len(c.timeline) - 1; i >= 0; i-- {
		if r := c.timeline[i]; r.Stage == stage {
			return r.Outcome == OutcomeApproved || (r.Outcome == OutcomeCleared && !c.laneNeedsOfficer(stage))
		}
	}
	return false
}

// owed returns the first stage of the current lane's path that the clearance has not passed, or
// "" when it has passed them all.
func (c *clearance) owed() policy.Stage {
	for _, s := range c.path() {
		if !c.passed(s) {
			return s
		}
	}
	return ""
}

// following returns the stage to run after s. Without a reroute it is the next stage of the path;
// after one, the first stage the new lane asks for that the clearance has not passed: an
// officer's documentary check where a stage was cleared without one, a physical inspection.
func (c *clearance) following(ctx workflow.Context, s policy.Stage) policy.Stage {
	next := c.next(s)
	if owed := c.owed(); owed != next && c.rel.explicitPhases(ctx) {
		return owed
	}
	return next
}
