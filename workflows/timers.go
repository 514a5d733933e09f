package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/medsupply/customs/policy"
)

// The summaries of the clearance's timers are what the Web UI shows on each timer and what the
// auditor's trail reads to tell an allowance from the exporter's deadline. They are written and
// read here only.

// TimerKind says what a clearance's timer measures.
type TimerKind string

// Kinds of the clearance's timers.
const (
	// TimerAllowance is a stage's allowance: when it fires, the stage is escalated.
	TimerAllowance TimerKind = "allowance"
	// TimerExporterDeadline is the exporter's deadline to answer a request for information: when
	// it fires, the declaration lapses.
	TimerExporterDeadline TimerKind = "exporter-deadline"
)

const (
	allowanceWord      = " allowance ("
	exporterDeadlineAt = "Exporter's deadline to answer ("
)

// AllowanceTimerSummary is the summary of a stage's allowance timer; under working-day counting it
// says until when.
func AllowanceTimerSummary(stage policy.Stage, allowance policy.Duration, businessDays bool, due time.Time) string {
	if businessDays {
		return fmt.Sprintf("%s%s%s in working days, until %s)", stage, allowanceWord, allowance, due.UTC().Format("2006-01-02 15:04 MST"))
	}
	return fmt.Sprintf("%s%s%s)", stage, allowanceWord, allowance)
}

// ExporterDeadlineTimerSummary is the summary of the exporter's deadline to answer; counted in
// working days it says until when.
func ExporterDeadlineTimerSummary(deadline policy.Duration, businessDays bool, due time.Time) string {
	if businessDays {
		return fmt.Sprintf("%s%s in working days, until %s)", exporterDeadlineAt, deadline, due.UTC().Format("2006-01-02 15:04 MST"))
	}
	return fmt.Sprintf("%s%s)", exporterDeadlineAt, deadline)
}

// TimerOf reads a timer summary: what the timer measures and, for an allowance, its stage and
// what the rest of the summary says of it ("allowance (2d)"). ok is false for a summary that is
// not one of the clearance's.
func TimerOf(summary string) (kind TimerKind, stage policy.Stage, allowance string, ok bool) {
	if strings.HasPrefix(summary, exporterDeadlineAt) {
		return TimerExporterDeadline, "", "", true
	}
	if i := strings.Index(summary, allowanceWord); i > 0 && strings.HasSuffix(summary, ")") {
		if s := policy.Stage(summary[:i]); policy.StageRole(s) != "" {
			return TimerAllowance, s, summary[i+1:], true
		}
	}
	return "", "", "", false
}
