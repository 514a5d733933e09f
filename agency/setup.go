package agency

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	nexuspb "go.temporal.io/api/nexus/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Retention is how long an agency's closed reviews stay in a namespace Setup creates.
const Retention = 30 * 24 * time.Hour

// setupWait bounds Setup when its context has no deadline: a namespace just created takes a
// moment to reach every service.
const setupWait = 2 * time.Minute

// Setup puts agencies on the single window of a cluster, idempotently: for each it creates the
// agency's namespace (Namespace) when missing, registers the search attributes its officers'
// queue needs (SearchAttributes) and waits until they can be queried, and creates, or brings up
// to date, the Nexus endpoint EndpointName(agency) that routes to TaskQueue in that namespace and
// whose description names the caller namespace, customs'. c needs the rights of an operator: it
// registers namespaces and endpoints. What is already as it should be is left alone, so Setup is
// safe to run on every deployment.
//
// The server does not restrict which namespaces may call an endpoint (server v1.32.1 has no such
// setting): the agency's worker does (NewService's callers), and so does the authorizer of a
// cluster that verifies its callers.
func Setup(ctx context.Context, c client.Client, callerNamespace string, agencies ...string) error {
	if strings.TrimSpace(callerNamespace) == "" {
		return fmt.Errorf("caller namespace: missing: name customs' namespace, whose clearances call the agencies")
	}
	if len(agencies) == 0 {
		return fmt.Errorf("agencies: none given (%s)", strings.Join(Agencies, ", "))
	}
	for i, a := range agencies {
		if err := CheckAgency(a); err != nil {
			return fmt.Errorf("agencies[%d]: %w", i, err)
		}
		if ns := Namespace(a); ns == callerNamespace {
			return fmt.Errorf("agencies[%d]: %s's namespace %s is customs' own; an agency works in a namespace of its own", i, a, ns)
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, setupWait)
		defer cancel()
	}
	for _, a := range agencies {
		if err := setupAgency(ctx, c, callerNamespace, a); err != nil {
			return fmt.Errorf("agency %s: %w", a, err)
		}
	}
	return nil
}

func setupAgency(ctx context.Context, c client.Client, caller, agency string) error {
	ns := Namespace(agency)
	if err := retry(ctx, func() error { return ensureNamespace(ctx, c, agency) }); err != nil {
		return err
	}
	if err := retry(ctx, func() error { return ensureSearchAttributes(ctx, c, ns) }); err != nil {
		return err
	}
	if err := awaitSearchAttributes(ctx, c, ns); err != nil {
		return err
	}
	return retry(ctx, func() error { return ensureEndpoint(ctx, c, caller, agency) })
}

func ensureNamespace(ctx context.Context, c client.Client, agency string) error {
	ns := Namespace(agency)
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	var notFound *serviceerror.NamespaceNotFound
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &notFound) && !errors.As(err, &nf):
		return fmt.Errorf("describe namespace %s: %w", ns, err)
	}
	p, _ := ProfileOf(agency)
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		Description:                      p.Name + ": permit reviews of the customs single window",
		WorkflowExecutionRetentionPeriod: durationpb.New(Retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace %s: %w", ns, err)
	}
	return nil
}

// ensureSearchAttributes registers the agency's search attributes the namespace lacks; one of the
// wrong type is an error.
func ensureSearchAttributes(ctx context.Context, c client.Client, ns string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		return fmt.Errorf("list search attributes of namespace %s: %w", ns, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	var conflicts []string
	for name, want := range SearchAttributes() {
		got, ok := resp.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = want
		case got != want:
			conflicts = append(conflicts, fmt.Sprintf("%s is %s, want %s", name, got, want))
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return permanent{fmt.Errorf("search attributes of namespace %s have the wrong type: %s", ns, strings.Join(conflicts, "; "))}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ns, SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes to namespace %s: %w", ns, err)
	}
	return nil
}

// awaitSearchAttributes waits until a visibility query naming every attribute is accepted:
// attributes just added reach the services' caches at their next refresh.
func awaitSearchAttributes(ctx context.Context, c client.Client, ns string) error {
	var terms []string
	for name := range SearchAttributes() {
		terms = append(terms, name+" IS NULL")
	}
	sort.Strings(terms)
	query := strings.Join(terms, " OR ")
	for {
		_, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: ns, Query: query})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("search attributes registered but not usable in namespace %s: %w", ns, errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// EndpointSpec is the spec of the agency's endpoint: TaskQueue in its namespace, described for
// the operators who list endpoints, naming the caller namespace.
func EndpointSpec(callerNamespace, agency string) (*nexuspb.EndpointSpec, error) {
	p, _ := ProfileOf(agency)
	desc, err := converter.GetDefaultDataConverter().ToPayload(fmt.Sprintf(
		"The customs single window of the %s (%s): service `%s`, operation `%s` reviews customs' permit request "+
			"in namespace `%s` (workflow %s) and answers with the agency's disposition. Allowed caller namespace: `%s`. "+
			"Checks: %s.", p.Name, agency, ServiceName, OperationReview, Namespace(agency), WorkflowName, callerNamespace, p.Checks))
	if err != nil {
		return nil, fmt.Errorf("endpoint description: %w", err)
	}
	return &nexuspb.EndpointSpec{
		Name:        EndpointName(agency),
		Description: desc,
		Target: &nexuspb.EndpointTarget{Variant: &nexuspb.EndpointTarget_Worker_{Worker: &nexuspb.EndpointTarget_Worker{
			Namespace: Namespace(agency), TaskQueue: TaskQueue}}},
	}, nil
}

// ensureEndpoint creates the agency's endpoint, or updates it when its spec differs.
func ensureEndpoint(ctx context.Context, c client.Client, caller, agency string) error {
	want, err := EndpointSpec(caller, agency)
	if err != nil {
		return permanent{err}
	}
	list, err := c.OperatorService().ListNexusEndpoints(ctx, &operatorservice.ListNexusEndpointsRequest{Name: want.Name})
	if err != nil {
		return fmt.Errorf("list Nexus endpoint %s: %w", want.Name, err)
	}
	if eps := list.GetEndpoints(); len(eps) > 0 {
		ep := eps[0]
		if proto.Equal(ep.GetSpec(), want) {
			return nil
		}
		if _, err := c.OperatorService().UpdateNexusEndpoint(ctx, &operatorservice.UpdateNexusEndpointRequest{
			Id: ep.GetId(), Version: ep.GetVersion(), Spec: want,
		}); err != nil {
			return fmt.Errorf("update Nexus endpoint %s: %w", want.Name, err)
		}
		return nil
	}
	if _, err := c.OperatorService().CreateNexusEndpoint(ctx, &operatorservice.CreateNexusEndpointRequest{Spec: want}); err != nil {
		return fmt.Errorf("create Nexus endpoint %s: %w", want.Name, err)
	}
	return nil
}

// permanent is an error retry does not retry.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// retry calls f until it succeeds, fails for good, or ctx ends. Retried are the errors a cluster
// still starting gives, a namespace not yet known to every service (an endpoint's target is
// checked against the namespaces the frontend knows), and a concurrent setup's (an endpoint
// created or updated meanwhile).
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func transient(err error) bool {
	var (
		p           permanent
		unavailable *serviceerror.Unavailable
		nsNotFound  *serviceerror.NamespaceNotFound
		notFound    *serviceerror.NotFound
		deadline    *serviceerror.DeadlineExceeded
		failed      *serviceerror.FailedPrecondition
		exists      *serviceerror.AlreadyExists
	)
	if errors.As(err, &p) {
		return false
	}
	return errors.As(err, &unavailable) || errors.As(err, &nsNotFound) || errors.As(err, &notFound) ||
		errors.As(err, &deadline) || errors.As(err, &failed) || errors.As(err, &exists)
}
