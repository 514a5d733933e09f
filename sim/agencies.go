package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nexus-rpc/sdk-go/nexus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporalnexus"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/agency"
)

// ReviewWorkflowName is the registered name of a simulated agency's review of a permit request.
const ReviewWorkflowName = "SimulatedAgencyReview"

// maxReview caps a simulated review below the 30 days after which a clearance asks an agency
// that has not answered again: a lognormal tail must not make it ask twice.
const maxReview = 29 * day

// agencyModel is an agency of the run: how it answers, and what it did.
type agencyModel struct {
	Agency
	stats AgencyStats
}

// String describes the agency's review time for the report's query line:
// "NMPA(checks lognormal:median=1h,p90=6h; officer 20% lognormal:median=2d,p90=7d)".
func (m *agencyModel) String() string {
	officer := ""
	if m.OfficerShare > 0 {
		officer = fmt.Sprintf("; officer %.0f%% %s", 100*m.OfficerShare, m.OfficerTime)
	}
	return fmt.Sprintf("%s(checks %s%s)", m.Rule.Agency, m.CheckTime, officer)
}

// singleWindow is the Nexus service every simulated agency answers through: the service and
// operation the clearance calls (agency.ServiceName, agency.OperationReview), each request a
// review workflow of its own, as a real agency's endpoint starts AgencyReview. The test
// environment routes by service, whatever the agency's endpoint: the request names its agency.
func (s *simulation) singleWindow() (*nexus.Service, error) {
	op, err := temporalnexus.NewWorkflowRunOperationWithOptions(temporalnexus.WorkflowRunOperationOptions[agency.PermitRequest, agency.PermitResult]{
		Name: agency.OperationReview,
		Handler: func(ctx context.Context, req agency.PermitRequest, opts nexus.StartOperationOptions) (temporalnexus.WorkflowHandle[agency.PermitResult], error) {
			if _, ok := s.agencies[req.Agency]; !ok {
				return nil, nexus.NewHandlerErrorf(nexus.HandlerErrorTypeBadRequest, "the simulation has no agency %q", req.Agency)
			}
			return temporalnexus.ExecuteUntypedWorkflow[agency.PermitResult](ctx, opts, client.StartWorkflowOptions{
				ID: agency.WorkflowID(req),
				// A request asked again attaches to its review, as on a real agency's endpoint.
				WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			}, ReviewWorkflowName, req)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("single window: %w", err)
	}
	svc := nexus.NewService(agency.ServiceName)
	if err := svc.Register(op); err != nil {
		return nil, fmt.Errorf("single window: %w", err)
	}
	return svc, nil
}

// review is a simulated agency's review of one permit request: its checks take a sampled time,
// with the agency's chance an officer then takes a sampled time more, and the permit is granted.
// The times are drawn from a source of the request's own, so that the same seed gives the same
// review however the clearances interleave, and the draws of officers and exporters stay as they
// were without agencies.
func (s *simulation) review(ctx workflow.Context, req agency.PermitRequest) (agency.PermitResult, error) {
	m := s.agencies[req.Agency]
	h := fnv.New64a()
	_, _ = h.Write([]byte(req.RequestID)) // a hash.Hash writes without error
	rng := rand.New(rand.NewPCG(s.cfg.Seed, h.Sum64()))
	took := m.CheckTime.Sample(rng)
	byOfficer := rng.Float64() < m.OfficerShare
	officerTime := time.Duration(0)
	if m.OfficerTime != nil {
		officerTime = m.OfficerTime.Sample(rng)
	}
	if byOfficer {
		took += officerTime
	}
	took = min(took, maxReview)
	m.stats.Requests++
	if byOfficer {
		m.stats.ByOfficer++
	}
	if err := workflow.Sleep(ctx, took); err != nil {
		m.stats.Withdrawn++ // the clearance ended and withdrew the request
		return agency.PermitResult{}, err
	}
	now := workflow.Now(ctx)
	m.stats.granted++
	m.stats.reviewed += took
	p, _ := agency.ProfileOf(req.Agency)
	res := agency.PermitResult{Agency: req.Agency, RequestID: req.RequestID, Disposition: agency.Granted,
		Permit: agency.PermitNumber(req.Agency, req.RequestID, now), ValidUntil: now.Add(p.Validity), Decided: now}
	if byOfficer {
		res.Officer = strings.ToLower(req.Agency) + "-officer"
		res.Reason = "granted after review by the agency's officer (simulated)"
	}
	return res, nil
}
