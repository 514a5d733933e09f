package connect

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/workflows"
)

// RegisterSearchAttributes makes sure namespace has every custom search attribute of
// workflows.SearchAttributes with its type. It adds only the missing ones, so it is safe to run on
// every start. An attribute that already exists with another type is an error: the server would
// keep the old type and silently refuse the engine's values.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{
		Namespace: namespace,
	})
	if err != nil {
		return fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	existing := resp.GetCustomAttributes()
	missing := map[string]enumspb.IndexedValueType{}
	var conflicts []string
	for name, want := range workflows.SearchAttributes() {
		got, ok := existing[name]
		switch {
		case !ok:
			missing[name] = want
		case got != want:
			conflicts = append(conflicts, fmt.Sprintf("%s is %s, want %s", name, got, want))
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return fmt.Errorf("search attributes of namespace %s have the wrong type: %s",
			namespace, strings.Join(conflicts, "; "))
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes %s to namespace %s: %w", names(missing), namespace, err)
	}
	return nil
}

func names(m map[string]enumspb.IndexedValueType) string {
	ns := make([]string, 0, len(m))
	for n := range m {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

// SearchAttributesQuery is a visibility query that names every custom search attribute; the
// server accepts it once they are all usable.
func SearchAttributesQuery() string {
	var conds []string
	for name, typ := range workflows.SearchAttributes() {
		if typ == enumspb.INDEXED_VALUE_TYPE_BOOL {
			conds = append(conds, name+" = false")
		} else {
			conds = append(conds, name+" = 'none'")
		}
	}
	sort.Strings(conds)
	return strings.Join(conds, " AND ")
}

// AwaitSearchAttributes waits, for at most wait, until the namespace's server accepts a query
// naming every custom search attribute: registration returns before the server uses new ones.
func AwaitSearchAttributes(ctx context.Context, c client.Client, namespace string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	query := SearchAttributesQuery()
	for {
		_, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: query})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("search attributes registered but not usable in namespace %s: %w", namespace, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
