package workflows

import (
	"fmt"
	"time"

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
func (c *clearance) path() []policy.Stage { return Path(c.Lane, c.decl.NeedsBiologicalReview()) }

// Path is the stages a declaration passes through in lane: the documentary check, the
// biological review when its goods need one, the certification check, the physical inspection
// in the red lane, and the release.
func Path(lane policy.Lane, biological bool) []policy.Stage {
	p := []policy.Stage{policy.StageDocumentCheck}
	if biological {
		p = append(p, policy.StageBiologicalReview)
	}
	p = append(p, policy.StageCertificationCheck)
	if lane == policy.LaneRed {
		p = append(p, policy.StagePhysicalInspection)
	}
	return append(p, policy.StageRelease)
}

// PathAllowance is what a policy allows one path in all.
type PathAllowance struct {
	Lane       policy.Lane     `json:"lane"`
	Biological bool            `json:"biological"`
	Expedited  bool            `json:"expedited"`
	Stages     []policy.Stage  `json:"stages"`
	Total      policy.Duration `json:"total"`
}

func (a PathAllowance) String() string {
	kind := "standard"
	if a.Expedited {
		kind = "expedited"
	}
	bio := ""
	if a.Biological {
		bio = " with biological review"
	}
	return fmt.Sprintf("%s lane%s, %s procedure: the stages' allowances add up to %s", a.Lane, bio, kind, a.Total)
}

// PathsOverStandard lists the paths whose stage allowances add up to more than the policy's
// standard: a clearance that takes every allowance on them misses the standard without any stage
// overrunning its own. An operator fixes the policy, or knows.
func PathsOverStandard(p policy.Policy) []PathAllowance {
	var over []PathAllowance
	for _, expedited := range []bool{false, true} {
		allow := p.AllowancesFor(expedited)
		for _, lane := range []policy.Lane{policy.LaneGreen, policy.LaneYellow, policy.LaneRed} {
			for _, bio := range []bool{false, true} {
				a := PathAllowance{Lane: lane, Biological: bio, Expedited: expedited, Stages: Path(lane, bio)}
				var total time.Duration
				for _, s := range a.Stages {
					total += allow.For(s)
				}
				a.Total = policy.Duration(total)
				if total > p.Standard.D() {
					over = append(over, a)
				}
			}
		}
	}
	return over
}

// laneNeedsOfficer reports whether an officer decides the stage in the current lane whatever its
// automated checks find.
func (c *clearance) laneNeedsOfficer(stage policy.Stage) bool {
	switch stage {
	case policy.StageBiologicalReview, policy.StagePhysicalInspection:
		return true
	case policy.StageDocumentCheck:
		return c.Lane == policy.LaneYellow || c.Lane == policy.LaneRed
	case policy.StageCertificationCheck:
		return c.Lane == policy.LaneRed
	case policy.StageRelease:
		return c.Lane == policy.LaneRed || c.decl.NeedsBiologicalReview()
	}
	return true
}

// passed reports whether the stage's latest run satisfies the current lane: approved by an
// officer, or cleared by its checks where the lane asks no officer.
func (c *clearance) passed(stage policy.Stage) bool {
	for i := len(c.Timeline) - 1; i >= 0; i-- {
		if r := c.Timeline[i]; r.Stage == stage {
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
