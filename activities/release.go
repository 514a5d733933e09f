package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/policy"
)

// ReleaseRegister records release notices (package register has the SQLite and PostgreSQL ones). Issue is idempotent per declaration: the first call
// for a declaration issues a notice with a new number; every later call, a retry or a
// concurrent duplicate, returns that same notice.
type ReleaseRegister interface {
	Issue(ctx context.Context, r ReleaseRequest, at time.Time) (ReleaseNotice, error)
}

// IssueReleaseNotice issues the release notice of a declaration, exactly once: the register
// returns the notice already issued when the activity is retried or runs twice. A request
// without declaration ID or exporter code, or with an unknown lane, is a non-retryable
// ErrInvalidDeclaration; a register that cannot be written is a plain error and is retried.
func (a *Activities) IssueReleaseNotice(ctx context.Context, r ReleaseRequest) (ReleaseNotice, error) {
	if strings.TrimSpace(r.DeclarationID) == "" || strings.TrimSpace(r.ExporterCode) == "" || !policy.ValidLane(r.Lane) {
		return ReleaseNotice{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("release request for %q needs a declaration ID, an exporter code and a lane (green, yellow, red); lane %q",
				r.DeclarationID, r.Lane), ErrInvalidDeclaration, nil)
	}
	if a.Releases == nil {
		return ReleaseNotice{}, errors.New("activities: no release register configured")
	}
	n, err := a.Releases.Issue(ctx, r, a.now())
	if err != nil {
		return ReleaseNotice{}, fmt.Errorf("issue release notice for %s: %w", r.DeclarationID, err)
	}
	logger(ctx, r.DeclarationID, policy.StageRelease).Info("release notice issued", "notice", n.Number,
		"lane", r.Lane, "officer", r.Officer, "issuedAt", n.IssuedAt)
	return n, nil
}
