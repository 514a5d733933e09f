package agency

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/converter"
)

func TestSetupIsIdempotentAndKeepsTheEndpointUpToDate(t *testing.T) {
	c := realServer(t).client(t, customs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	endpoint := func() (int64, string) {
		t.Helper()
		resp, err := c.OperatorService().ListNexusEndpoints(ctx, &operatorservice.ListNexusEndpointsRequest{Name: EndpointName(SAMR)})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetEndpoints()) != 1 {
			t.Fatalf("%d endpoints named %s, want 1", len(resp.GetEndpoints()), EndpointName(SAMR))
		}
		ep := resp.GetEndpoints()[0]
		if w := ep.GetSpec().GetTarget().GetWorker(); w.GetNamespace() != Namespace(SAMR) || w.GetTaskQueue() != TaskQueue {
			t.Fatalf("the endpoint targets %s/%s", w.GetNamespace(), w.GetTaskQueue())
		}
		var desc string
		if err := converter.GetDefaultDataConverter().FromPayload(ep.GetSpec().GetDescription(), &desc); err != nil {
			t.Fatal(err)
		}
		return ep.GetVersion(), desc
	}
	v, desc := endpoint()
	if !strings.Contains(desc, "Allowed caller namespace: `customs`") {
		t.Errorf("description %q names no caller namespace", desc)
	}
	if err := Setup(ctx, c, customs, SAMR); err != nil {
		t.Fatal(err)
	}
	if again, _ := endpoint(); again != v {
		t.Errorf("a second setup changed the endpoint (version %d to %d)", v, again)
	}
	// Another caller namespace is written into the endpoint, and back.
	if err := Setup(ctx, c, "customs-2", SAMR); err != nil {
		t.Fatal(err)
	}
	if v2, desc := endpoint(); v2 == v || !strings.Contains(desc, "`customs-2`") {
		t.Errorf("after setup for customs-2: version %d (was %d), description %q", v2, v, desc)
	}
	if err := Setup(ctx, c, customs, SAMR); err != nil {
		t.Fatal(err)
	}
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: Namespace(SAMR)})
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range SearchAttributes() {
		if got := resp.GetCustomAttributes()[name]; got != typ {
			t.Errorf("%s: %v, want %v", name, got, typ)
		}
	}
}

func TestSetupRefusesWhatItCannotSetUp(t *testing.T) {
	c := realServer(t).client(t, customs)
	for name, tc := range map[string]struct {
		caller   string
		agencies []string
		want     string
	}{
		"no caller namespace":    {"", []string{NMPA}, "caller namespace: missing"},
		"no agency":              {customs, nil, "agencies: none given"},
		"a bad agency":           {customs, []string{NMPA, "nmpa"}, `agencies[1]: "nmpa" is not an agency's short name`},
		"customs' own namespace": {"agency-nmpa", []string{NMPA}, "is customs' own"},
	} {
		if err := Setup(context.Background(), c, tc.caller, tc.agencies...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
