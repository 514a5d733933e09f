package metrics

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/policy"
)

// countsThenFails answers the open-clearance counts once (3 at the document check), then fails.
type countsThenFails struct {
	client.Client
	mu    sync.Mutex
	calls int
}

func (c *countsThenFails) CountWorkflow(_ context.Context, r *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.calls > len(policy.Stages) {
		return nil, errors.New("visibility unavailable")
	}
	if c.calls == 1 {
		return &workflowservice.CountWorkflowExecutionsResponse{Count: 3}, nil
	}
	return &workflowservice.CountWorkflowExecutionsResponse{}, nil
}

// A visibility count that fails used to zero every open-clearance gauge: they keep the last good
// counts now, and the failure is reported.
func TestOpenGaugesKeepTheirCountsWhenACountFails(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	reported := make(chan error, 100)
	m.OnError = func(err error) { reported <- err }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake := &countsThenFails{}
	go func() {
		if err := m.WatchOpen(ctx, fake, "customs", 10*time.Millisecond); err != nil {
			t.Error(err)
		}
	}()
	select {
	case err := <-reported:
		if err == nil {
			t.Fatal("nil error reported")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no failure reported")
	}
	if err := <-reported; err == nil { // a second failed round has passed too
		t.Fatal("nil error reported")
	}
	if got := open(scrape(t, m), string(policy.StageDocumentCheck)); got != 3 {
		t.Errorf("open clearances at the document check %v after failed counts, want the last good count 3", got)
	}
}
