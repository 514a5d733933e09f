package health

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const pollWorkflow = "/temporal.api.workflowservice.v1.WorkflowService/PollWorkflowTaskQueue"

// clock is a settable time for Polls.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newWatch() (*Polls, *clock) {
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	return &Polls{now: c.now, FatalAfter: time.Minute, Settle: time.Second}, c
}

// call passes one call through the interceptor; the invoker returns err after the clock moved by
// took.
func call(p *Polls, c *clock, method string, took time.Duration, err error) {
	_ = p.Interceptor()(context.Background(), method, nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		c.advance(took)
		return err
	})
}

func TestPollsReadyWhileAPollIsHeldOpen(t *testing.T) {
	p, c := newWatch()
	if err := p.Ready(); err == nil || !strings.Contains(err.Error(), "no poll accepted yet") {
		t.Fatalf("before any poll: %v", err)
	}
	id := p.begin()
	if err := p.Ready(); err == nil {
		t.Error("a poll just begun counts as accepted")
	}
	c.advance(2 * time.Second)
	if err := p.Ready(); err != nil {
		t.Errorf("a poll held open for 2s: %v", err)
	}
	p.end(id, nil)
	if err := p.Ready(); err != nil {
		t.Errorf("after a poll returned: %v", err)
	}
}

func TestPollsNotReadyWhilePollsFail(t *testing.T) {
	p, c := newWatch()
	call(p, c, pollWorkflow, time.Second, nil)
	call(p, c, pollWorkflow, 10*time.Millisecond, status.Error(codes.Unavailable, "connection refused"))
	err := p.Ready()
	if err == nil || !strings.Contains(err.Error(), "polls fail: Unavailable: connection refused") {
		t.Fatalf("after a failed poll: %v", err)
	}
	// Unavailable is cured by waiting: never fatal.
	c.advance(10 * time.Minute)
	call(p, c, pollWorkflow, 10*time.Millisecond, status.Error(codes.Unavailable, "connection refused"))
	if err := p.Fatal(); err != nil {
		t.Errorf("an outage is fatal: %v", err)
	}
	// The server is back: a new poll held open makes the worker ready again, before it returns.
	id := p.begin()
	c.advance(1500 * time.Millisecond)
	if err := p.Ready(); err != nil {
		t.Errorf("poll held open after the outage: %v", err)
	}
	p.end(id, nil)
	if err := p.Ready(); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestPollsFatalAfterLastingRefusals(t *testing.T) {
	p, c := newWatch()
	call(p, c, pollWorkflow, time.Second, nil)
	for range 30 {
		call(p, c, pollWorkflow, time.Second, status.Error(codes.NotFound, "Namespace customs is not found."))
	}
	if err := p.Fatal(); err != nil {
		t.Fatalf("fatal after 30s of a 1m allowance: %v", err)
	}
	for range 31 {
		call(p, c, pollWorkflow, time.Second, status.Error(codes.NotFound, "Namespace customs is not found."))
	}
	err := p.Fatal()
	if err == nil || !strings.Contains(err.Error(), "every poll has failed for 1m0s: NotFound: Namespace customs is not found.") {
		t.Fatalf("after 60s: %v", err)
	}
	if err := p.Ready(); err == nil || !strings.Contains(err.Error(), "for 1m0s") {
		t.Errorf("ready says since when: %v", err)
	}
}

func TestPollsLastingRunResetByOtherOutcomes(t *testing.T) {
	p, c := newWatch()
	call(p, c, pollWorkflow, 50*time.Second, status.Error(codes.PermissionDenied, "revoked"))
	call(p, c, pollWorkflow, time.Second, status.Error(codes.Unavailable, "restart"))
	call(p, c, pollWorkflow, 50*time.Second, status.Error(codes.Unauthenticated, "expired"))
	if err := p.Fatal(); err != nil {
		t.Errorf("an outage in between restarts the count: %v", err)
	}
	call(p, c, pollWorkflow, 5*time.Second, nil)
	call(p, c, pollWorkflow, 59*time.Second, status.Error(codes.PermissionDenied, "revoked"))
	if err := p.Fatal(); err != nil {
		t.Errorf("a success in between restarts the count: %v", err)
	}
}

func TestPollsIgnoreOtherCallsAndCancellations(t *testing.T) {
	p, c := newWatch()
	call(p, c, pollWorkflow, time.Second, nil)
	call(p, c, "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution", 0, status.Error(codes.NotFound, "x"))
	call(p, c, pollWorkflow, 0, status.Error(codes.Canceled, "worker stopping"))
	if err := p.Ready(); err != nil {
		t.Errorf("other calls or cancelled polls count: %v", err)
	}
	if len(p.open) != 0 {
		t.Errorf("%d polls left open", len(p.open))
	}
}
