package trs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/workflows"
)

// ErrNoClearances is returned when the query matches no clearance.
var ErrNoClearances = errors.New("no clearance matches the query")

// Load reads the clearances a visibility query selects: closed ones from their results, running
// ones from their status up to now. An empty query selects every clearance.
func Load(ctx context.Context, c client.Client, namespace, query string) ([]Clearance, error) {
	return LoadWithProgress(ctx, c, namespace, query, nil)
}

// LoadWithProgress is Load calling progress, when not nil, with the count read so far after
// each clearance.
func LoadWithProgress(ctx context.Context, c client.Client, namespace, query string, progress func(read int)) ([]Clearance, error) {
	q := fmt.Sprintf("WorkflowType = '%s'", workflows.WorkflowName)
	if strings.TrimSpace(query) != "" {
		q += " AND (" + query + ")"
	}
	var out []Clearance
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: q, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list clearances: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			var cats []string
			if p, ok := e.GetSearchAttributes().GetIndexedFields()[workflows.SAProductCategories]; ok {
				if err := converter.GetDefaultDataConverter().FromPayload(p, &cats); err != nil {
					return nil, fmt.Errorf("read categories of %s: %w", e.GetExecution().GetWorkflowId(), err)
				}
			}
			id := e.GetExecution().GetWorkflowId()
			declID := strings.TrimPrefix(id, workflows.WorkflowIDPrefix)
			switch e.GetStatus() {
			case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
				var r workflows.Result
				if err := c.GetWorkflow(ctx, id, e.GetExecution().GetRunId()).Get(ctx, &r); err != nil {
					return nil, fmt.Errorf("read result of %s: %w", id, err)
				}
				out = append(out, FromResult(r, cats))
			case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
				s, err := clearance.Status(ctx, c, declID)
				if err != nil {
					return nil, err
				}
				out = append(out, FromStatus(s, cats))
			}
			if progress != nil {
				progress(len(out))
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	if len(out) == 0 {
		return nil, ErrNoClearances
	}
	return out, nil
}

// StandardOf returns the standard the clearances recorded, or fallback when none did.
func StandardOf(cs []Clearance, fallback time.Duration) time.Duration {
	for _, c := range cs {
		if c.Standard > 0 {
			return c.Standard
		}
	}
	return fallback
}
