package activities

import (
	"time"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// Error types of the business failures activities return as non-retryable application errors.
const (
	// ErrInvalidCertificate: a certificate is not valid for its lines (issuer not notified for
	// the regulation, expired, holder is not the manufacturer, malformed number). Its details
	// carry the CheckResult.
	ErrInvalidCertificate = "InvalidCertificate"
	// ErrInvalidDeclaration: the declaration handed to an activity does not validate.
	ErrInvalidDeclaration = "InvalidDeclaration"
)

// Severity says how much a finding weighs.
type Severity string

// Severities.
const (
	// SeverityError blocks approval as the declaration stands: an officer must reject or
	// request information (or approve with a reason, taking responsibility).
	SeverityError Severity = "error"
	// SeverityWarning needs an officer's look.
	SeverityWarning Severity = "warning"
	// SeverityInfo is recorded only.
	SeverityInfo Severity = "info"
)

// Finding is one result of an automated check.
type Finding struct {
	// Code is a stable machine-readable name ("missing-document", "invoice-total-mismatch").
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// Field is the declaration field path the finding is about ("lines[1].hsCode"), if any.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// CheckResult is what a stage's automated checks found.
type CheckResult struct {
	Stage     policy.Stage `json:"stage"`
	Findings  []Finding    `json:"findings"`
	CheckedAt time.Time    `json:"checkedAt"`
}

// Worst returns the highest severity among the findings, or "" when there are none.
func (r CheckResult) Worst() Severity {
	var w Severity
	for _, f := range r.Findings {
		switch {
		case f.Severity == SeverityError:
			return SeverityError
		case f.Severity == SeverityWarning:
			w = SeverityWarning
		case w == "" && f.Severity == SeverityInfo:
			w = SeverityInfo
		}
	}
	return w
}

// NeedsOfficer reports whether any finding is a warning or an error.
func (r CheckResult) NeedsOfficer() bool {
	w := r.Worst()
	return w == SeverityError || w == SeverityWarning
}

// Configuration is the policy and roster in force, as the worker loaded them.
type Configuration struct {
	Policy policy.Policy `json:"policy"`
	Roster policy.Roster `json:"roster"`
}

// LaneSelection is the outcome of risk-lane selection.
type LaneSelection struct {
	Lane policy.Lane `json:"lane"`
	// Reasons lists the rules that fired, in the order they were applied.
	Reasons []string `json:"reasons"`
	// Sampled is true when the declaration was picked by the random sample.
	Sampled bool `json:"sampled"`
	// Rating is the exporter's customs credit rating, "" without a customs record; Priority is
	// the declaration's place in the officers' queues (policy.PriorityFor). Lane selections
	// recorded before they existed have neither.
	Rating   string `json:"rating,omitempty"`
	Priority string `json:"priority,omitempty"`
}

// CheckInput is the input of a stage's automated checks.
type CheckInput struct {
	Declaration declaration.Declaration `json:"declaration"`
	// On is the day the check applies to (certificates must be valid on it).
	On time.Time `json:"on"`
}

// ReleaseRequest asks for the release notice of a declaration.
type ReleaseRequest struct {
	DeclarationID string      `json:"declarationId"`
	ExporterCode  string      `json:"exporterCode"`
	Lane          policy.Lane `json:"lane"`
	// Officer is the release officer who approved, or "" for an automatic green-lane release.
	Officer string `json:"officer,omitempty"`
	// WorkflowID and RunID (the first run) are the clearance the notice is bound to; Registration
	// is the declaration's registration number. Clearances started before the declarations
	// register have no registration.
	WorkflowID   string `json:"workflowId,omitempty"`
	RunID        string `json:"runId,omitempty"`
	Registration string `json:"registration,omitempty"`
}

// ReleaseNotice is a release notice: issued once per exporter's declaration, to one clearance.
type ReleaseNotice struct {
	Number        string    `json:"number"`
	DeclarationID string    `json:"declarationId"`
	ExporterCode  string    `json:"exporterCode,omitempty"`
	Registration  string    `json:"registration,omitempty"`
	IssuedAt      time.Time `json:"issuedAt"`
}

// NotificationKind says what an exporter is told.
type NotificationKind string

// Notification kinds.
const (
	NotifyReleased           NotificationKind = "released"
	NotifyRefused            NotificationKind = "refused"
	NotifyInformationRequest NotificationKind = "information-requested"
	NotifyLapsed             NotificationKind = "lapsed"
	// NotifyExtension tells the exporter that a supervisor extended a stage's allowance, and why.
	NotifyExtension NotificationKind = "allowance-extended"
	// NotifyAmendment tells the exporter that an officer consented to its amendment or refused it.
	NotifyAmendment NotificationKind = "amendment-decided"
	// NotifyAppeal tells the exporter how its appeal against a refusal ended.
	NotifyAppeal NotificationKind = "appeal-decided"
)

// Notification is a message to an exporter.
type Notification struct {
	DeclarationID string           `json:"declarationId"`
	ExporterCode  string           `json:"exporterCode"`
	Kind          NotificationKind `json:"kind"`
	Message       string           `json:"message"`
	// Notice is the release notice number, for a release.
	Notice string `json:"notice,omitempty"`
	// Due is the deadline of an information request.
	Due time.Time `json:"due,omitempty"`
}
