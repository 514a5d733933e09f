// Package singlewindow runs the single window on a real Temporal server: the embedded server
// (whose frontend serves the HTTP port the server delivers Nexus operations through), customs'
// worker with the built-in policy's standard agency rules, and the agencies' workers as the worker
// binary runs them (engine.Config.Agency), each in its agency's namespace behind its endpoint.
package singlewindow

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/internal/testport"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/workflows"
)

// stack is a real server with customs' worker and the agencies' workers.
type stack struct {
	srv           *embedded.Server
	customs       client.Client
	notifications string
	dir           string
	// delisted is a registry in which the producer of examples/it-ffp2-respirators.json is not on
	// SAMR's list of qualified producers: SAMR's worker reads it, so that its checks find
	// something for its officer, while customs' own checks read the shipped registry.
	delisted string
	// agencies are clients of the agencies' namespaces, by agency.
	agencies map[string]client.Client
}

var seq atomic.Int64

func start(t *testing.T) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ports := testport.Free(t, 2)
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true, IP: "127.0.0.1", GRPCPort: ports[0], UIPort: ports[1],
		DisableUI: true, Namespace: "customs", Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	s := &stack{srv: srv, dir: t.TempDir()}
	s.notifications = filepath.Join(s.dir, "notifications.jsonl")
	s.customs = s.client(t, srv.Namespace())
	s.agencies = map[string]client.Client{}
	for _, a := range agency.Agencies {
		s.agencies[a] = s.client(t, agency.Namespace(a))
	}
	if err := agency.Setup(ctx, s.customs, srv.Namespace(), agency.Agencies...); err != nil {
		t.Fatal(err)
	}
	s.delisted = delistedRegistry(t, "91330206MA2H3D8P5K")
	return s
}

func (s *stack) client(t *testing.T, namespace string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.srv.FrontendAddress(), Namespace: namespace,
		Logger: logging.NewSDKLogger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// delistedRegistry copies the shipped registry without the qualified producer whose code is given.
func delistedRegistry(t *testing.T, code string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "registry", "data")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "qualified-producers.json" {
			var producers []map[string]any
			if err := json.Unmarshal(b, &producers); err != nil {
				t.Fatal(err)
			}
			n := len(producers)
			producers = slices.DeleteFunc(producers, func(p map[string]any) bool { return p["code"] == code })
			if len(producers) != n-1 {
				t.Fatalf("qualified-producers.json lists producer %s %d times, want once", code, n-len(producers))
			}
			if b, err = json.Marshal(producers); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// run runs a worker as the worker binary does (engine.Open, engine.Run) until stop, which
// returns once it has stopped.
func (s *stack) run(t *testing.T, cfg engine.Config, namespace string) (stop func()) {
	t.Helper()
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.FatalPollsAfter = time.Minute
	if err := cfg.CheckAgencyNamespace(namespace); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	c := s.client(t, namespace)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, c, cfg) }()
	var once atomic.Bool
	stop = func() {
		if !once.CompareAndSwap(false, true) {
			return
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// runCustoms runs customs' clearance worker, asking NMPA's and SAMR's permits by the standard
// rules.
func (s *stack) runCustoms(t *testing.T) (stop func()) {
	return s.run(t, engine.Config{DataDir: s.dir, Notifications: s.notifications, SingleWindow: agency.Agencies},
		s.srv.Namespace())
}

// runAgency runs agency a's worker, answering customs' namespace; registryDir "" is the shipped one.
// It is given the worker binary's default, a version of its deployment that does not make itself
// current: an agency's worker runs unversioned whatever it is given, or it would get no work.
func (s *stack) runAgency(t *testing.T, a, registryDir string) (stop func()) {
	return s.run(t, engine.Config{Agency: a, AgencyCallers: []string{s.srv.Namespace()}, RegistryDir: registryDir,
		Versioning: connect.Versioning{Enabled: true, DeploymentName: connect.DefaultDeploymentName, BuildID: "agency-test",
			MakeCurrent: connect.CurrentNever}},
		agency.Namespace(a))
}

// lodge lodges a fresh copy of an example declaration.
func (s *stack) lodge(t *testing.T, example string) clearance.Ref {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", example))
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		t.Fatal(err)
	}
	d.ID = fmt.Sprintf("%s-SW%d", d.ID, seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := clearance.Submit(ctx, s.customs, d); err != nil {
		t.Fatal(err)
	}
	return clearance.RefOf(d)
}

// eventually polls check until it returns nil, failing t after a minute with its last error.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *stack) status(t *testing.T, ref clearance.Ref) (workflows.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return clearance.Status(ctx, s.customs, ref)
}

// awaitAgency waits until the clearance's release waits on the agencies named.
func (s *stack) awaitAgency(t *testing.T, ref clearance.Ref, agencies ...string) workflows.Status {
	t.Helper()
	var st workflows.Status
	eventually(t, ref.String()+" awaiting "+strings.Join(agencies, ", "), func() (err error) {
		if st, err = s.status(t, ref); err != nil {
			return err
		}
		if st.State != workflows.StateAwaitingAgency || st.Waiting == nil || !slices.Equal(st.Waiting.Agencies, agencies) {
			return fmt.Errorf("state %s, waiting %+v", st.State, st.Waiting)
		}
		return nil
	})
	return st
}

// review reads the review of request id in agency a's namespace.
func (s *stack) review(t *testing.T, a, requestID string) (agency.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := s.agencies[a].QueryWorkflow(ctx, agency.WorkflowID(agency.PermitRequest{RequestID: requestID}), "", agency.QueryStatus)
	if err != nil {
		return agency.Status{}, err
	}
	var st agency.Status
	return st, v.Get(&st)
}

// reviewed is the request the review of request id in agency a's namespace was started with.
func (s *stack) reviewed(t *testing.T, a, requestID string) agency.PermitRequest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it := s.agencies[a].GetWorkflowHistory(ctx, agency.WorkflowID(agency.PermitRequest{RequestID: requestID}), "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	first, err := it.Next()
	if err != nil {
		t.Fatalf("the history of review %s: %v", requestID, err)
	}
	var req agency.PermitRequest
	if err := converter.GetDefaultDataConverter().FromPayloads(first.GetWorkflowExecutionStartedEventAttributes().GetInput(), &req); err != nil {
		t.Fatalf("the request of review %s: %v", requestID, err)
	}
	return req
}

// awaitReviewOfficer waits until the review of request id waits for an agency officer.
func (s *stack) awaitReviewOfficer(t *testing.T, a, requestID string) agency.Status {
	t.Helper()
	var st agency.Status
	eventually(t, "review "+requestID+" awaiting an officer", func() (err error) {
		if st, err = s.review(t, a, requestID); err != nil {
			return err
		}
		if st.Phase != agency.PhaseAwaitingOfficer {
			return fmt.Errorf("phase %s", st.Phase)
		}
		return nil
	})
	return st
}

// decide sends an agency officer's decision on request id, in the agency's namespace.
func (s *stack) decide(t *testing.T, a, requestID string, d agency.Decision) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := s.agencies[a].UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: agency.WorkflowID(agency.PermitRequest{RequestID: requestID}), UpdateName: agency.UpdateDecide,
		Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Get(ctx, nil); err != nil {
		t.Fatalf("%s's decision on %s: %v", a, requestID, err)
	}
}

// wait waits for the clearance's result.
func (s *stack) wait(t *testing.T, ref clearance.Ref) workflows.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := clearance.Wait(ctx, s.customs, ref)
	if err != nil {
		t.Fatalf("wait for %s: %v", ref, err)
	}
	return r
}

// awaitReview waits until the review of request id in agency a's namespace has status want.
func (s *stack) awaitReview(t *testing.T, a, requestID string, want enumspb.WorkflowExecutionStatus) {
	t.Helper()
	c := s.agencies[a]
	eventually(t, fmt.Sprintf("%s's review of %s %s", a, requestID, want), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := c.DescribeWorkflowExecution(ctx, agency.WorkflowID(agency.PermitRequest{RequestID: requestID}), "")
		if err != nil {
			return err
		}
		if got := d.GetWorkflowExecutionInfo().GetStatus(); got != want {
			return fmt.Errorf("review %s", got)
		}
		return nil
	})
}

func requestID(t *testing.T, s *stack, ref clearance.Ref, a string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := clearance.Resolve(ctx, s.customs, ref)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s/%s/%d", id, a, n)
}

// notified returns the kinds of notification the exporter got about declarationID.
func (s *stack) notified(t *testing.T, declarationID string) []activities.NotificationKind {
	t.Helper()
	f, err := os.Open(s.notifications)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var kinds []activities.NotificationKind
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var n activities.Notification
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			t.Fatal(err)
		}
		if n.DeclarationID == declarationID {
			kinds = append(kinds, n.Kind)
		}
	}
	return kinds
}

func TestSingleWindowOnARealServer(t *testing.T) {
	top := t // the workers outlive the subtest that restarts them
	s := start(t)
	stopCustoms := s.runCustoms(t)
	s.runAgency(t, agency.NMPA, "")
	stopSAMR := s.runAgency(t, agency.SAMR, s.delisted)

	t.Run("granted by the agency's rules", func(t *testing.T) {
		// Test kits need NMPA's permit; their registration is on NMPA's register.
		ref := s.lodge(t, "de-antibody-test-kits.json")
		id := requestID(t, s, ref, agency.NMPA, 1)
		s.awaitReview(t, agency.NMPA, id, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
		eventually(t, "NMPA's grant on the clearance's record", func() error {
			st, err := s.status(t, ref)
			if err != nil {
				return err
			}
			if len(st.Permits) != 1 || st.Permits[0].Result == nil {
				return fmt.Errorf("permits %+v", st.Permits)
			}
			p := st.Permits[0]
			if p.Agency != agency.NMPA || p.RequestID != id || p.Result.Disposition != agency.Granted || p.Result.Officer != "" ||
				!strings.HasPrefix(p.Result.Permit, "NMPA-") {
				t.Fatalf("permit %+v, result %+v: want NMPA's grant by rule of %s", p, *p.Result, id)
			}
			return nil
		})
	})

	t.Run("refused by the agency's officer while both workers restart", func(t *testing.T) {
		ref := s.lodge(t, "it-ffp2-respirators.json")
		id := requestID(t, s, ref, agency.SAMR, 1)
		s.awaitAgency(t, ref, agency.SAMR)
		rv := s.awaitReviewOfficer(t, agency.SAMR, id)
		if len(rv.Findings) == 0 {
			t.Fatalf("SAMR's review of a delisted producer found nothing: %+v", rv)
		}
		// Customs' worker stops while the clearance waits, and SAMR's while its review does; the
		// officer decides with a new SAMR worker and no customs worker, which comes back after.
		stopCustoms()
		stopSAMR()
		stopSAMR = s.runAgency(top, agency.SAMR, s.delisted)
		s.decide(t, agency.SAMR, id, agency.Decision{Officer: "samr-lin", Outcome: agency.OutcomeRefuse,
			Reason: "the producer is not on the list of qualified producers"})
		stopCustoms = s.runCustoms(top)
		r := s.wait(t, ref)
		if r.State != workflows.StateRefused {
			t.Fatalf("state %s, want refused by SAMR", r.State)
		}
		last := r.Decisions[len(r.Decisions)-1]
		if last.Agency != agency.SAMR || last.Via != workflows.ViaAgency || last.Officer != "samr-lin" {
			t.Fatalf("the last decision %+v: want SAMR's officer samr-lin's, through the single window", last)
		}
		if len(r.Permits) != 1 || r.Permits[0].Result == nil || r.Permits[0].Result.Disposition != agency.Refused {
			t.Fatalf("permits %+v: want SAMR's refusal", r.Permits)
		}
		if ns := s.notified(t, ref.Declaration); slices.Contains(ns, activities.NotifyReleased) {
			t.Fatalf("a clearance SAMR refused was released: notifications %v", ns)
		}
	})

	t.Run("withdrawn while the agency reviews", func(t *testing.T) {
		ref := s.lodge(t, "it-ffp2-respirators.json")
		id := requestID(t, s, ref, agency.SAMR, 1)
		s.awaitReviewOfficer(t, agency.SAMR, id)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := clearance.Withdraw(ctx, s.customs, ref, "the consignee cancelled the order"); err != nil {
			t.Fatal(err)
		}
		if r := s.wait(t, ref); r.State != workflows.StateWithdrawn || len(r.Permits) != 1 || !r.Permits[0].Withdrawn {
			t.Fatalf("state %s, permits %+v: want withdrawn, the request withdrawn", r.State, r.Permits)
		}
		s.awaitReview(t, agency.SAMR, id, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED)
	})

	t.Run("a review the agency cancels itself is asked again", func(t *testing.T) {
		// SAMR's administrator cancels the review in SAMR's namespace. The clearance, which did not
		// withdraw, asks again after its backoff (a minute), and SAMR reviews the request anew.
		ref := s.lodge(t, "it-ffp2-respirators.json")
		id := requestID(t, s, ref, agency.SAMR, 1)
		first := s.awaitReviewOfficer(t, agency.SAMR, id)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		wid := agency.WorkflowID(agency.PermitRequest{RequestID: id})
		d, err := s.agencies[agency.SAMR].DescribeWorkflowExecution(ctx, wid, "")
		if err != nil {
			t.Fatal(err)
		}
		cancelled := d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		if err := s.agencies[agency.SAMR].CancelWorkflow(ctx, wid, cancelled); err != nil {
			t.Fatal(err)
		}
		for {
			d, err := s.agencies[agency.SAMR].DescribeWorkflowExecution(ctx, wid, "")
			if err == nil && d.GetWorkflowExecutionInfo().GetExecution().GetRunId() != cancelled &&
				d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("SAMR's review of %s was not asked for again after SAMR cancelled it: %v, %v", id, d, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		again := s.awaitReviewOfficer(t, agency.SAMR, id)
		if again.RequestID != first.RequestID {
			t.Fatalf("the new review is of %s, want the same request %s", again.RequestID, first.RequestID)
		}
		s.decide(t, agency.SAMR, id, agency.Decision{Officer: "samr-he", Outcome: agency.OutcomeGrant, Reason: "reviewed again"})
		if r := s.wait(t, ref); r.State != workflows.StateReleased || len(r.Permits) != 1 || r.Permits[0].Result.Disposition != agency.Granted {
			t.Fatalf("state %s, permits %+v: want released on SAMR's grant of the request asked again", r.State, r.Permits)
		}
	})

	t.Run("information needed, answered by the exporter, then granted on the request asked again", func(t *testing.T) {
		ref := s.lodge(t, "it-ffp2-respirators.json")
		first := requestID(t, s, ref, agency.SAMR, 1)
		s.awaitReviewOfficer(t, agency.SAMR, first)
		s.decide(t, agency.SAMR, first, agency.Decision{Officer: "samr-he", Outcome: agency.OutcomeRequestInformation,
			Reason: "the producer's listing lapsed; send its renewed listing", Requested: []string{"renewed listing certificate"}})
		eventually(t, "the exporter told what SAMR needs", func() error {
			if ns := s.notified(t, ref.Declaration); !slices.Contains(ns, activities.NotifyInformationRequest) {
				return fmt.Errorf("notifications %v", ns)
			}
			return nil
		})
		// The release waits for the exporter's answer, and SAMR is not asked again before it.
		eventually(t, "the release waiting for the exporter's answer to SAMR", func() error {
			st, err := s.status(t, ref)
			if err == nil && (st.Phase != workflows.PhaseAwaitingAgencyInformation || st.Waiting == nil ||
				!slices.Equal(st.Waiting.Agencies, []string{agency.SAMR})) {
				err = fmt.Errorf("phase %s, waiting %+v", st.Phase, st.Waiting)
			}
			return err
		})
		if st, _ := s.status(t, ref); len(st.Permits) != 1 {
			t.Fatalf("permits %+v: SAMR asked again before the exporter answered", st.Permits)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		listing := declaration.Document{Type: declaration.DocOther, Reference: "SAMR-LIST-2020-0427", Issued: time.Date(2020, 5, 2, 0, 0, 0, 0, time.UTC)}
		rec, err := clearance.Supply(ctx, s.customs, ref, workflows.Supply{Documents: []declaration.Document{listing}, Note: "the producer's renewed listing"})
		if err != nil {
			t.Fatalf("the exporter's answer to SAMR: %v", err)
		}
		if !slices.Equal(rec.Agencies, []string{agency.SAMR}) {
			t.Fatalf("supply record %+v: want it to answer SAMR", rec)
		}
		second := requestID(t, s, ref, agency.SAMR, 2)
		s.awaitReviewOfficer(t, agency.SAMR, second)
		if req := s.reviewed(t, agency.SAMR, second); !slices.ContainsFunc(req.Declaration.Documents, func(d declaration.Document) bool {
			return d.Reference == listing.Reference
		}) {
			t.Fatalf("SAMR's second review has documents %+v: want the renewed listing", req.Declaration.Documents)
		}
		s.awaitAgency(t, ref, agency.SAMR)
		s.decide(t, agency.SAMR, second, agency.Decision{Officer: "samr-he", Outcome: agency.OutcomeGrant,
			Reason: "renewed listing seen"})
		r := s.wait(t, ref)
		if r.State != workflows.StateReleased {
			t.Fatalf("state %s, want released once SAMR granted", r.State)
		}
		if len(r.Permits) != 2 || r.Permits[0].Result.Disposition != agency.InformationNeeded || r.Permits[1].Result.Disposition != agency.Granted {
			t.Fatalf("permits %+v: want information needed, then granted", r.Permits)
		}
		if r.AgencyTime[agency.SAMR] <= 0 || r.TraderTime <= 0 {
			t.Fatalf("agency time %v, trader time %v: want SAMR's time and the exporter's kept apart", r.AgencyTime, r.TraderTime)
		}
	})
}
