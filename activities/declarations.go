package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/declaration"
)

// ErrDuplicateDeclaration is the error type of RegisterDeclaration for a declaration the register
// holds for another clearance: the exporter lodged it before.
const ErrDuplicateDeclaration = "DuplicateDeclaration"

// DeclarationRegister is the durable register of lodged declarations (package register has the
// SQLite and PostgreSQL ones): one entry per exporter and declaration ID, bound to the clearance
// that lodged it, with the registration number customs gave it at acceptance. It outlives the
// server's retention of the clearance, so a declaration lodged again after its workflow is gone
// is still known. Register is idempotent per clearance: the first call for an exporter's
// declaration registers it with a new number; every later call returns that entry, whichever
// clearance asks, and the caller tells its own clearance from another by the run.
type DeclarationRegister interface {
	Register(ctx context.Context, r Registration, at time.Time) (Registered, error)
}

// Registration asks the register to record a declaration's acceptance.
type Registration struct {
	ExporterCode  string `json:"exporterCode"`
	DeclarationID string `json:"declarationId"`
	WorkflowID    string `json:"workflowId"`
	// RunID is the clearance's first run: a clearance that continues as new keeps it.
	RunID string `json:"runId"`
}

// Registered is a declaration's entry in the register.
type Registered struct {
	Registration
	// Number is the registration number customs gave the declaration: ED-<year>-<eight digits>.
	Number   string    `json:"number"`
	LodgedAt time.Time `json:"lodgedAt"`
	// Notice is the number of the release notice issued for the declaration, if any.
	Notice string `json:"releaseNotice,omitempty"`
}

// RegisterDeclaration records the acceptance of a declaration in the declarations register and
// returns its registration number. Run again for the same clearance (a retry), it returns the
// same entry. A declaration the register holds for another clearance is a non-retryable
// ErrDuplicateDeclaration naming the earlier registration; a request without exporter code,
// declaration ID, workflow ID or run, or whose workflow ID is not the declaration's clearance
// (declaration.IsClearanceOf), is a non-retryable ErrInvalidDeclaration; a register that
// cannot be written is a plain error and is retried.
func (a *Activities) RegisterDeclaration(ctx context.Context, r Registration) (Registered, error) {
	if strings.TrimSpace(r.ExporterCode) == "" || strings.TrimSpace(r.DeclarationID) == "" ||
		strings.TrimSpace(r.WorkflowID) == "" || strings.TrimSpace(r.RunID) == "" {
		return Registered{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("registration of %q needs an exporter code, a declaration ID, a workflow ID and a run", r.DeclarationID),
			ErrInvalidDeclaration, nil)
	}
	if !declaration.IsClearanceOf(r.WorkflowID, r.ExporterCode, r.DeclarationID) {
		want, _ := declaration.ClearanceID(r.ExporterCode, r.DeclarationID)
		return Registered{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("workflow ID %s is not the clearance of declaration %s of exporter %s, which is %s",
				r.WorkflowID, r.DeclarationID, r.ExporterCode, want), ErrInvalidDeclaration, nil)
	}
	if a.Declarations == nil {
		return Registered{}, errors.New("activities: no declarations register configured")
	}
	reg, err := a.Declarations.Register(ctx, r, a.now())
	if err != nil {
		return Registered{}, fmt.Errorf("register declaration %s of exporter %s: %w", r.DeclarationID, r.ExporterCode, err)
	}
	if reg.RunID != r.RunID || reg.WorkflowID != r.WorkflowID {
		released := ""
		if reg.Notice != "" {
			released = ", released with notice " + reg.Notice
		}
		return Registered{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("declaration %s of exporter %s was lodged before: registration %s of %s (clearance %s%s); a corrected declaration is lodged under a new ID",
				r.DeclarationID, r.ExporterCode, reg.Number, reg.LodgedAt.UTC().Format(time.RFC3339), reg.WorkflowID, released),
			ErrDuplicateDeclaration, nil)
	}
	logger(ctx, r.DeclarationID, "").Info("declaration registered", "registration", reg.Number, "lodgedAt", reg.LodgedAt)
	return reg, nil
}
