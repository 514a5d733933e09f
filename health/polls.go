package health

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Polls watches a worker's task-queue polls as they pass through its gRPC connection and
// tells whether the worker really receives work: a worker whose namespace was deleted, whose
// credentials were revoked or whose server is down keeps running and polling, and only its polls
// say so. Install Interceptor on the client's connection, before the worker starts.
type Polls struct {
	// Settle is how long a poll must stay open to count as accepted: a long poll the server
	// holds waits for work, one it refuses fails at once. Zero means one second.
	Settle time.Duration
	// FatalAfter is how long polls may fail with an error that waiting does not cure (namespace
	// not found, permission denied, unauthenticated) before Fatal reports it. Zero means a minute.
	FatalAfter time.Duration

	now func() time.Time

	mu          sync.Mutex
	next        uint64
	open        map[uint64]time.Time // polls in flight, by when they started
	lastOK      time.Time            // when a poll last returned without error
	lastFail    time.Time            // when a poll last failed
	failErr     error                // that failure
	lastingFrom time.Time            // since when polls fail with lasting errors only (zero: they do not)
}

// NewPolls returns a watch with the default settle time and fatal delay.
func NewPolls() *Polls { return &Polls{} }

// pollMethods are the long polls of a worker.
var pollMethods = map[string]bool{
	"/temporal.api.workflowservice.v1.WorkflowService/PollWorkflowTaskQueue": true,
	"/temporal.api.workflowservice.v1.WorkflowService/PollActivityTaskQueue": true,
	"/temporal.api.workflowservice.v1.WorkflowService/PollNexusTaskQueue":    true,
}

// Interceptor observes poll calls and passes every call on unchanged.
func (p *Polls) Interceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if !pollMethods[method] {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		id := p.begin()
		err := invoker(ctx, method, req, reply, cc, opts...)
		p.end(id, err)
		return err
	}
}

func (p *Polls) clock() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

func (p *Polls) begin() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == nil {
		p.open = map[uint64]time.Time{}
	}
	p.next++
	p.open[p.next] = p.clock()
	return p.next
}

func (p *Polls) end(id uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.open, id)
	t := p.clock()
	code := status.Code(err)
	switch {
	case err == nil:
		p.lastOK, p.lastingFrom = t, time.Time{}
		return
	case code == codes.Canceled:
		// The worker stopping cancels its own polls.
		return
	}
	p.lastFail, p.failErr = t, err
	if lasting(code) {
		if p.lastingFrom.IsZero() {
			p.lastingFrom = t
		}
	} else {
		p.lastingFrom = time.Time{}
	}
}

// lasting reports whether a poll failing with code will fail again however long it waits.
func lasting(code codes.Code) bool {
	return code == codes.NotFound || code == codes.PermissionDenied || code == codes.Unauthenticated
}

// Ready returns nil while the worker polls successfully: no poll has failed since the last
// one that succeeded, or a poll begun after the last failure is held open by the server. Before
// any poll ends, a poll open for Settle counts. It returns the failure otherwise.
func (p *Polls) Ready() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock()
	settle := p.Settle
	if settle == 0 {
		settle = time.Second
	}
	if !p.lastFail.IsZero() && !p.lastOK.After(p.lastFail) {
		for _, started := range p.open {
			if !started.Before(p.lastFail) && now.Sub(started) >= settle {
				return nil
			}
		}
		return fmt.Errorf("polls fail: %s (for %s)", describe(p.failErr), now.Sub(p.lastingOrFail()).Round(time.Second))
	}
	if !p.lastOK.IsZero() {
		return nil
	}
	for _, started := range p.open {
		if now.Sub(started) >= settle {
			return nil
		}
	}
	return fmt.Errorf("no poll accepted yet")
}

func (p *Polls) lastingOrFail() time.Time {
	if !p.lastingFrom.IsZero() {
		return p.lastingFrom
	}
	return p.lastFail
}

// Fatal returns an error once polls have failed for FatalAfter with errors waiting does not
// cure, and no poll succeeded meanwhile: the worker cannot get work and never will.
func (p *Polls) Fatal() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	after := p.FatalAfter
	if after == 0 {
		after = time.Minute
	}
	if p.lastingFrom.IsZero() || p.clock().Sub(p.lastingFrom) < after {
		return nil
	}
	return fmt.Errorf("every poll has failed for %s: %s", after, describe(p.failErr))
}

// describe is a gRPC error as its code and message, on one line.
func describe(err error) string {
	if err == nil {
		return "unknown error"
	}
	s, ok := status.FromError(err)
	if !ok {
		return strings.ReplaceAll(err.Error(), "\n", " ")
	}
	return s.Code().String() + ": " + strings.ReplaceAll(s.Message(), "\n", " ")
}
