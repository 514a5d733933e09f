package trs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
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
//
// A read of more than a page is split into disjoint ranges of ExecutionTime, read by up to
// Streams page streams at once and merged back into the server's order: SQL visibility finds the
// next page of one long listing by walking past every row it already returned, so the time of a
// page grows with the number of clearances, while a range is found by an index and stays small.
type Reader struct {
	Client    client.Client
	Namespace string
	// Progress, when not nil, is called with the count read so far after each clearance, from
	// one goroutine at a time.
	Progress func(read int)
	// Now is the clock running clearances are counted to; time.Now when nil.
	Now func() time.Time
	// PageSize is the visibility page size; PageSize when zero.
	PageSize int32
	// DataConverter decodes the memos: the one the workers write them with (encrypting, with a
	// codec keyring); the default data converter when nil.
	DataConverter converter.DataConverter
	// Streams is how many ranges are read at once; DefaultStreams when zero.
	Streams int
	// Plain reads the query's pages one after the other in one listing, without counting or
	// splitting it: the read before ranges, kept to compare with.
	Plain bool
}

// DefaultStreams is how many ranges Reader reads at once by default: enough for the server to
// prepare one page while the reader decodes another (four were no faster on two cores), and
// gentle on the server's limit of visibility calls per second.
const DefaultStreams = 2

// Reading counts the server calls a read took.
type Reading struct {
	// Pages is the number of visibility pages listed.
	Pages int `json:"pages"`
	// Counts is the number of count calls: the query's size, and its clearances before a few
	// moments, that the ranges are cut from.
	Counts int `json:"counts,omitempty"`
	// Ranges is the number of ExecutionTime ranges the read was split into (0: one listing).
	Ranges int `json:"ranges,omitempty"`
	// FromMemo clearances were read from their page; Results were fetched one call each from
	// their closing event, Queried asked for their status one query each.
	FromMemo int `json:"fromMemo"`
	Results  int `json:"results"`
	Queried  int `json:"queried"`
}

// Calls is the number of server calls the read took.
func (r Reading) Calls() int { return r.Pages + r.Counts + r.Results + r.Queried }

func (r *Reading) add(o Reading) {
	r.Pages += o.Pages
	r.Counts += o.Counts
	r.FromMemo += o.FromMemo
	r.Results += o.Results
	r.Queried += o.Queried
}

// Read reads the clearances query selects, in the order visibility lists them.
func (r Reader) Read(ctx context.Context, query string) ([]Clearance, Reading, error) {
	q := fmt.Sprintf("WorkflowType = '%s'", workflows.WorkflowName)
	if strings.TrimSpace(query) != "" {
		q += " AND (" + query + ")"
	}
	rd := r.reading()
	var (
		items []item
		read  Reading
		err   error
	)
	if r.Plain {
		items, read, err = rd.list(ctx, q, nil)
	} else {
		items, read, err = rd.split(ctx, q)
	}
	if err != nil {
		return nil, read, err
	}
	if len(items) == 0 {
		return nil, read, ErrNoClearances
	}
	out := make([]Clearance, len(items))
	for i, it := range items {
		out[i] = it.c
	}
	return out, read, nil
}

// reading is one Read: the reader with its defaults filled in, and the progress of its streams.
type reading struct {
	Reader
	now     func() time.Time
	size    int32
	dc      converter.DataConverter
	streams int

	mu   sync.Mutex
	done int
}

func (r Reader) reading() *reading {
	rd := &reading{Reader: r, now: r.Now, size: r.PageSize, dc: r.DataConverter, streams: r.Streams}
	if rd.now == nil {
		rd.now = time.Now
	}
	if rd.size == 0 {
		rd.size = PageSize
	}
	if rd.dc == nil {
		rd.dc = converter.GetDefaultDataConverter()
	}
	if rd.streams <= 0 {
		rd.streams = DefaultStreams
	}
	return rd
}

// item is a clearance read and where visibility lists its run.
type item struct {
	c  Clearance
	at listed
}

// listed is where a run stands in visibility's order: by close time, the running ones first,
// latest first, then by start time, latest first, then by run ID.
type listed struct {
	closed bool
	close  time.Time
	start  time.Time
	runID  string
}

func (a listed) before(b listed) bool {
	if a.closed != b.closed {
		return !a.closed
	}
	if !a.close.Equal(b.close) {
		return a.close.After(b.close)
	}
	if !a.start.Equal(b.start) {
		return a.start.After(b.start)
	}
	return a.runID < b.runID
}

// list reads the pages of q one after the other. Runs in skip were read already: they are left
// out.
func (rd *reading) list(ctx context.Context, q string, skip map[string]bool) ([]item, Reading, error) {
	out, read, _, err := rd.pages(ctx, q, skip, nil, false)
	return out, read, err
}

// pages reads the pages of q from token on, all of them or only one, and returns the token of
// the page that follows (nil after the last).
func (rd *reading) pages(ctx context.Context, q string, skip map[string]bool, token []byte, one bool) ([]item, Reading, []byte, error) {
	var (
		out  []item
		read Reading
	)
	for {
		resp, err := rd.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: rd.Namespace, Query: q, PageSize: rd.size, NextPageToken: token})
		if err != nil {
			return nil, read, nil, fmt.Errorf("list clearances: %w", err)
		}
		read.Pages++
		for _, e := range resp.GetExecutions() {
			status := e.GetStatus()
			if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED && status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				continue
			}
			at := listed{closed: e.GetCloseTime() != nil, close: e.GetCloseTime().AsTime(), start: e.GetStartTime().AsTime(), runID: e.GetExecution().GetRunId()}
			if skip[at.runID] {
				continue
			}
			c, err := rd.clearance(ctx, e, &read)
			if err != nil {
				return nil, read, nil, err
			}
			out = append(out, item{c, at})
			rd.progress()
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 || one {
			return out, read, token, nil
		}
	}
}

func (rd *reading) progress() {
	if rd.Progress == nil {
		return
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.done++
	rd.Progress(rd.done)
}

// clearance reads one listed clearance, named by its workflow ID (Build keeps one observation
// per clearance: a refusal an appeal reopened lists two runs).
func (rd *reading) clearance(ctx context.Context, e *workflowpb.WorkflowExecutionInfo, read *Reading) (Clearance, error) {
	c, err := rd.observe(ctx, e, read)
	c.WorkflowID = e.GetExecution().GetWorkflowId()
	return c, err
}

// observe reads one listed clearance: from its memo, or else from its result or its status.
func (rd *reading) observe(ctx context.Context, e *workflowpb.WorkflowExecutionInfo, read *Reading) (Clearance, error) {
	dc := rd.dc
	id := e.GetExecution().GetWorkflowId()
	var cats []string
	if p, ok := e.GetSearchAttributes().GetIndexedFields()[workflows.SAProductCategories]; ok {
		if err := dc.FromPayload(p, &cats); err != nil {
			return Clearance{}, fmt.Errorf("read categories of %s: %w", id, err)
		}
	}
	declID := workflows.DeclarationOf(id, keyword(dc, e.GetSearchAttributes(), workflows.SADeclarationID),
		keyword(dc, e.GetSearchAttributes(), workflows.SAExporterCode))
	switch p, ok := e.GetMemo().GetFields()[workflows.MemoStudy]; {
	case ok:
		var st workflows.Study
		if err := dc.FromPayload(p, &st); err != nil {
			return Clearance{}, fmt.Errorf("read the study memo of %s: %w", id, err)
		}
		read.FromMemo++
		return FromStudy(st, declID, cats, rd.now()), nil
	case e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		var res workflows.Result
		if err := rd.Client.GetWorkflow(ctx, id, e.GetExecution().GetRunId()).Get(ctx, &res); err != nil {
			return Clearance{}, fmt.Errorf("read result of %s: %w", id, err)
		}
		read.Results++
		return FromResult(res, cats), nil
	default:
		s, err := clearance.StatusOf(ctx, rd.Client, id)
		if err != nil {
			return Clearance{}, err
		}
		read.Queried++
		return FromStatus(s, cats), nil
	}
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
