package connect

import (
	"context"
	"fmt"
	"sort"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
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
