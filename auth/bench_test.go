package auth_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"

	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/auth/authtest"
	"github.com/medsupply/customs/workflows"
)

// BenchmarkVerifiedCall measures what verifying callers adds to each call the frontend takes:
// the claim mapper checks the bearer token's RS256 signature, issuer, audience and lifetime, and
// the authorizer decides the call. Two calls of the kinds a clearance's life is made of: a
// worker's poll, and an officer's update "decide". It reports microseconds per call.
func BenchmarkVerifiedCall(b *testing.B) {
	key, err := auth.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	jwks := httptest.NewServer(nil)
	defer jwks.Close()
	issuer := auth.NewIssuer(jwks.URL, authtest.Audience, key)
	jwks.Config.Handler = issuer.Handler()
	keys := authorization.NewDefaultTokenKeyProvider(&config.Authorization{JWTKeyProvider: config.JWTKeyProvider{
		KeySourceURIs: []string{jwks.URL + auth.JWKSPath}, RefreshInterval: time.Minute}}, log.NewNoopLogger())
	defer keys.Close()
	mapper := &auth.ClaimMapper{Keys: keys, Issuer: issuer.URL, Audience: authtest.Audience}
	authorizer := &auth.Authorizer{Namespace: "customs"}
	token := func(p workflows.Principal) string {
		t, err := issuer.Token(p, time.Hour, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		return "Bearer " + t
	}
	for _, call := range []struct {
		name   string
		caller workflows.Principal
		target *authorization.CallTarget
	}{
		{"worker-poll", workflows.Principal{Subject: "worker-1", Roles: []string{workflows.RoleWorker}}, &authorization.CallTarget{
			APIName: "/temporal.api.workflowservice.v1.WorkflowService/PollWorkflowTaskQueue", Namespace: "customs",
			Request: &workflowservice.PollWorkflowTaskQueueRequest{Namespace: "customs"}}},
		{"officer-decide", workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}}, &authorization.CallTarget{
			APIName: "/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkflowExecution", Namespace: "customs",
			Request: &workflowservice.UpdateWorkflowExecutionRequest{Namespace: "customs",
				WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "clearance-3205960330-JH-2026-US-0513"},
				Request:           &updatepb.Request{Input: &updatepb.Input{Name: workflows.UpdateDecide}}}}},
	} {
		b.Run(call.name, func(b *testing.B) {
			info := &authorization.AuthInfo{AuthToken: token(call.caller)}
			if _, err := mapper.GetClaims(info); err != nil { // the first call fetches the keys
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				claims, err := mapper.GetClaims(info)
				if err != nil {
					b.Fatal(err)
				}
				res, err := authorizer.Authorize(context.Background(), claims, call.target)
				if err != nil || res.Decision != authorization.DecisionAllow {
					b.Fatalf("%s: %+v, %v", call.name, res, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/call")
		})
	}
}
