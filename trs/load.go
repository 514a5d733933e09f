package trs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/workflows"
)

// ErrNoClearances is returned when the query matches no clearance.
var ErrNoClearances = errors.New("no clearance matches the query")

// PageSize is how many clearances Reader asks for in one visibility page: the server's largest
// page by default.
const PageSize = 1000

// Reader reads clearances for the study from visibility pages: a clearance that keeps its study
// in its memo (workflows.MemoStudy) is read from the page that lists it, closed or running, so
// the server calls grow with pages, not clearances, and no running clearance is queried. A
// clearance started before the memo was kept is read as before: a closed one from its result, a
// running one from its status query.
type Reader struct {
	Client    client.Client
	Namespace string
	// Progress, when not nil, is called with the count read so far after each clearance.
	Progress func(read int)
	// Now is the clock running clearances are counted to; time.Now when nil.
	Now func() time.Time
	// PageSize is the visibility page size; PageSize when zero.
	PageSize int32
	// DataConverter decodes the memos: the one the workers write them with (encrypting, with a
	// codec keyring); the default data converter when nil.
	DataConverter converter.DataConverter
}

// Reading counts the server calls a read took.
type Reading struct {
	// Pages is the number of visibility pages listed.
	Pages int `json:"pages"`
	// FromMemo clearances were read from their page; Results were fetched one call each from
	// their closing event, Queried asked for their status one query each.
	FromMemo int `json:"fromMemo"`
	Results  int `json:"results"`
	Queried  int `json:"queried"`
}

// Calls is the number of server calls the read took.
func (r Reading) Calls() int { return r.Pages + r.Results + r.Queried }

// Read reads the clearances query selects.
func (r Reader) Read(ctx context.Context, query string) ([]Clearance, Reading, error) {
	q := fmt.Sprintf("WorkflowType = '%s'", workflows.WorkflowName)
	if strings.TrimSpace(query) != "" {
		q += " AND (" + query + ")"
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	size := r.PageSize
	if size == 0 {
		size = PageSize
	}
	dc := r.DataConverter
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	var (
		out   []Clearance
		read  Reading
		token []byte
	)
	for {
		resp, err := r.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: r.Namespace, Query: q, PageSize: size, NextPageToken: token})
		if err != nil {
			return nil, read, fmt.Errorf("list clearances: %w", err)
		}
		read.Pages++
		for _, e := range resp.GetExecutions() {
			status := e.GetStatus()
			if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED && status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				continue
			}
			id := e.GetExecution().GetWorkflowId()
			var cats []string
			if p, ok := e.GetSearchAttributes().GetIndexedFields()[workflows.SAProductCategories]; ok {
				if err := dc.FromPayload(p, &cats); err != nil {
					return nil, read, fmt.Errorf("read categories of %s: %w", id, err)
				}
			}
			declID := workflows.DeclarationOf(id, keyword(dc, e.GetSearchAttributes(), workflows.SADeclarationID),
				keyword(dc, e.GetSearchAttributes(), workflows.SAExporterCode))
			switch p, ok := e.GetMemo().GetFields()[workflows.MemoStudy]; {
			case ok:
				var st workflows.Study
				if err := dc.FromPayload(p, &st); err != nil {
					return nil, read, fmt.Errorf("read the study memo of %s: %w", id, err)
				}
				s := st.Status(declID)
				s.UpTo(now())
				out = append(out, FromStatus(s, cats))
				read.FromMemo++
			case status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
				var res workflows.Result
				if err := r.Client.GetWorkflow(ctx, id, e.GetExecution().GetRunId()).Get(ctx, &res); err != nil {
					return nil, read, fmt.Errorf("read result of %s: %w", id, err)
				}
				out = append(out, FromResult(res, cats))
				read.Results++
			default:
				s, err := clearance.StatusOf(ctx, r.Client, id)
				if err != nil {
					return nil, read, err
				}
				out = append(out, FromStatus(s, cats))
				read.Queried++
			}
			if r.Progress != nil {
				r.Progress(len(out))
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	if len(out) == 0 {
		return nil, read, ErrNoClearances
	}
	return out, read, nil
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

// keyword returns the value of a keyword search attribute, or "" when it is unset or unreadable.
func keyword(dc converter.DataConverter, sa *commonpb.SearchAttributes, name string) string {
	var v string
	if p, ok := sa.GetIndexedFields()[name]; ok {
		_ = dc.FromPayload(p, &v)
	}
	return v
}
