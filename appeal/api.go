// Package appeal is the exporter's appeal against a refused clearance (EU Union Customs Code
// Art. 44, the Revised Kyoto Convention chapter 10): the ClearanceAppeal workflow takes the
// exporter's grounds within the policy's appeal window, waits for a supervisor who did not take
// the refusal to uphold or dismiss it, and an upheld appeal reopens the clearance, in a new run of
// the same workflow ID, at the stage it was refused at. The appeal's history records who decided
// what and when; the reopened clearance records the appeal.
package appeal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// WorkflowName is the registered name of the appeal workflow; it runs on workflows.TaskQueue.
const WorkflowName = "ClearanceAppeal"

// Names of the appeal's update and query.
const (
	// UpdateDecide carries a supervisor's decision on the appeal.
	UpdateDecide = "decide-appeal"
	// QueryStatus returns the appeal's Status.
	QueryStatus = "status"
)

// IDPrefix starts every appeal's workflow ID.
const IDPrefix = "appeal-"

// WorkflowID returns the workflow ID of the appeal against the refusal of the exporter's
// declaration: appeal-<exporter code>-<declaration ID>. A refusal is appealed once.
func WorkflowID(exporterCode, declarationID string) (string, error) {
	id, err := workflows.WorkflowID(exporterCode, declarationID)
	if err != nil {
		return "", err
	}
	return IDPrefix + id[len(workflows.WorkflowIDPrefix):], nil
}

// Bounds of the appeal's texts.
const (
	MaxGroundsBytes = 4096
	MaxReasonBytes  = workflows.MaxReasonBytes
)

// Input starts an appeal.
type Input struct {
	Exporter      string `json:"exporter"`
	DeclarationID string `json:"declarationId"`
	// Grounds say why the refusal is wrong; the supervisor reads them.
	Grounds string `json:"grounds"`
}

// ExporterCode is the code of the appealing exporter.
func (in Input) ExporterCode() string { return in.Exporter }

// Validate says what is wrong with the input, naming the field, or returns nil.
func (in Input) Validate() error {
	if _, err := workflows.WorkflowID(in.Exporter, in.DeclarationID); err != nil {
		return fmt.Errorf("declarationId: %w", err)
	}
	if strings.TrimSpace(in.Grounds) == "" {
		return fmt.Errorf("grounds: required to appeal; the supervisor reads them")
	}
	if why := declaration.TextProblem(in.Grounds, MaxGroundsBytes, true); why != "" {
		return fmt.Errorf("grounds: %s", why)
	}
	return nil
}

// Outcomes of an appeal.
const (
	OutcomeUphold  = "uphold"
	OutcomeDismiss = "dismiss"
	// OutcomeInadmissible: the appeal cannot be heard (out of time, the clearance was not
	// refused, appeals are not taken); the result says why.
	OutcomeInadmissible = "inadmissible"
)

// Decision is the payload of the update "decide-appeal".
type Decision struct {
	Supervisor string `json:"supervisor"`
	Outcome    string `json:"outcome"`
	// Reason is required; the exporter is told it.
	Reason string `json:"reason"`
}

// Phases of an appeal.
const (
	PhaseAdmitting          = "admitting"
	PhaseAwaitingSupervisor = "awaiting-supervisor"
	PhaseReopening          = "reopening"
	PhaseEnded              = "ended"
)

// Status is the answer to the appeal's status query.
type Status struct {
	Input
	Phase string `json:"phase"`
	// Clearance is the appealed clearance's workflow ID.
	Clearance string `json:"clearance"`
	// Refusal is what is appealed, once admitted.
	Refusal *Refused `json:"refusal,omitempty"`
	// Lodged is when the appeal was lodged; Window its end.
	Lodged time.Time `json:"lodged"`
	Window time.Time `json:"window,omitempty"`
	// Decision is the supervisor's, once taken.
	Decision *DecisionRecord `json:"decision,omitempty"`
	// Result is how the appeal ended, once it has.
	Result *Result `json:"result,omitempty"`
}

// Refused is the refusal an appeal is against.
type Refused struct {
	Stage  policy.Stage `json:"stage"`
	Reason string       `json:"reason"`
	// Officer refused; "" for a refusal by rule.
	Officer string    `json:"officer,omitempty"`
	At      time.Time `json:"at"`
	RunID   string    `json:"runId"`
}

// DecisionRecord is the supervisor's decision as recorded.
type DecisionRecord struct {
	Decision
	At time.Time `json:"at"`
	// Verified says the supervisor is the request's verified caller.
	Verified bool `json:"verified,omitempty"`
}

// Result is how an appeal ended.
type Result struct {
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Decision is the supervisor's, when one was taken.
	Decision *DecisionRecord `json:"decision,omitempty"`
	// ReopenedRunID is the clearance's new run, for an upheld appeal.
	ReopenedRunID string `json:"reopenedRunId,omitempty"`
	// RefusedRunID is the refused run the appeal was heard against, once admitted: a refusal is
	// heard once.
	RefusedRunID string `json:"refusedRunId,omitempty"`
}

// Hearing is a refusal that an appeal was heard against: upheld or dismissed by a supervisor. The
// hearings register keeps one per refused run, so a refusal is heard once, whenever the next
// appeal is lodged.
type Hearing struct {
	// RefusedRunID is the refused run of the clearance, WorkflowID.
	RefusedRunID string `json:"refusedRunId"`
	WorkflowID   string `json:"workflowId"`
	// Appeal and AppealRunID are the appeal that heard it.
	Appeal      string    `json:"appeal"`
	AppealRunID string    `json:"appealRunId"`
	Outcome     string    `json:"outcome"`
	Supervisor  string    `json:"supervisor"`
	Decided     time.Time `json:"decided"`
	Reason      string    `json:"reason"`
}

// Admission is an appeal's claim on the refused run it is against, taken as the last step of its
// admission (Activities.AdmitAppeal): the hearings register keeps one per refused run, so of two
// appeals that load one refusal at the same moment one is admitted, and the other is refused
// naming it.
type Admission struct {
	// RefusedRunID is the refused run of the clearance, WorkflowID.
	RefusedRunID string `json:"refusedRunId"`
	WorkflowID   string `json:"workflowId"`
	// Appeal and AppealRunID are the appeal admitted.
	Appeal      string    `json:"appeal"`
	AppealRunID string    `json:"appealRunId"`
	Admitted    time.Time `json:"admitted"`
}

// HearingRegister is the durable record of hearings and admissions (package register has the
// SQLite and PostgreSQL ones). Hear is idempotent per refused run: the first hearing recorded
// stays, and every call returns it. Admit claims a's refused run for a's appeal run when no
// appeal holds it, or, with stale set, when appeal run stale holds it, in one atomic step, and
// returns the admission the register then holds: a, or another appeal's.
type HearingRegister interface {
	Hear(ctx context.Context, h Hearing) (Hearing, error)
	Heard(ctx context.Context, refusedRunID string) (Hearing, bool, error)
	Admit(ctx context.Context, a Admission, stale string) (Admission, error)
}

// ErrNotAppealable is the failure type of LoadRefusal for a clearance that cannot be appealed.
const ErrNotAppealable = "NotAppealable"

func notAppealable(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrNotAppealable, nil)
}

// notAdmitted returns the reason of an ErrNotAppealable failure, and false for any other error.
func notAdmitted(err error) (string, bool) {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrNotAppealable {
		return appErr.Message(), true
	}
	return "", false
}

// wrongWorkflowID refuses an appeal of in started under workflow ID got instead of its
// declaration's, want: the server runs one workflow of an ID at a time, so with one ID per
// declaration it runs one appeal of a declaration at a time.
func wrongWorkflowID(got, want string, in Input) error {
	return notAppealable("workflowId: %q is not the workflow ID of an appeal of declaration %s of exporter %s, which is %q: "+
		"one ID per declaration, so that one appeal of it runs at a time", clip(got), in.DeclarationID, in.Exporter, want)
}
