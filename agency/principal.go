package agency

import (
	"fmt"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"
)

// HeaderPrincipal names the request header in which the Temporal frontend writes the verified
// caller of an update (package auth): the header the clearance reads (workflows.HeaderPrincipal),
// the same in an agency's namespace. Without authentication no request carries it, and the
// review trusts the decision's officer, as the clearance does.
const HeaderPrincipal = "customs-principal"

// Principal is a verified caller, as the frontend writes it: the token's subject (an agency
// officer's roster ID), its roles, for an exporter the customs code it acts for, and the agency
// the caller works for (NMPA, ...): the token's agency claim, which the server verified.
type Principal struct {
	Subject  string   `json:"subject"`
	Roles    []string `json:"roles,omitempty"`
	Exporter string   `json:"exporter,omitempty"`
	Agency   string   `json:"agency,omitempty"`
}

// callerOf returns the verified caller of the request whose handler or validator runs with ctx,
// nil when it has none.
func callerOf(ctx workflow.Context) (*Principal, error) {
	pl, ok := interceptor.WorkflowHeader(ctx)[HeaderPrincipal]
	if !ok || pl == nil {
		return nil, nil
	}
	var p Principal
	if err := converter.GetDefaultDataConverter().FromPayload(pl, &p); err != nil {
		return nil, fmt.Errorf("the request's %s header: %w", HeaderPrincipal, err)
	}
	return &p, nil
}
