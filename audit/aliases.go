package audit

import (
	"context"
	"fmt"
	"regexp"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// storedField is the name a server with SQL visibility stores a custom search attribute under.
var storedField = regexp.MustCompile(`^(Bool|Datetime|Double|Int|Keyword|KeywordList|Text)[0-9]{2}$`)

// searchAttributes are the search attributes the events of h carry, in place.
func searchAttributes(h *historypb.History) []*commonpb.SearchAttributes {
	var all []*commonpb.SearchAttributes
	for _, e := range h.GetEvents() {
		var sa *commonpb.SearchAttributes
		switch {
		case e.GetWorkflowExecutionStartedEventAttributes() != nil:
			sa = e.GetWorkflowExecutionStartedEventAttributes().GetSearchAttributes()
		case e.GetUpsertWorkflowSearchAttributesEventAttributes() != nil:
			sa = e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes()
		case e.GetWorkflowExecutionContinuedAsNewEventAttributes() != nil:
			sa = e.GetWorkflowExecutionContinuedAsNewEventAttributes().GetSearchAttributes()
		case e.GetStartChildWorkflowExecutionInitiatedEventAttributes() != nil:
			sa = e.GetStartChildWorkflowExecutionInitiatedEventAttributes().GetSearchAttributes()
		}
		if sa != nil {
			all = append(all, sa)
		}
	}
	return all
}

// NamesStoredFields reports whether h names search attributes by the fields the server stores
// them under, as a history read from the server's archive does (the server maps them to their
// names only when it serves a history from its database).
func NamesStoredFields(h *historypb.History) bool {
	for _, sa := range searchAttributes(h) {
		for k := range sa.GetIndexedFields() {
			if storedField.MatchString(k) {
				return true
			}
		}
	}
	return false
}

// AliasSearchAttributes renames the search attributes h's events carry under a stored field
// (aliases maps fields to names) to their names, as the server does when it serves a history
// from its database: the history then reads, and digests, as it would have before it was
// archived. It reports whether it changed anything.
func AliasSearchAttributes(h *historypb.History, aliases map[string]string) bool {
	changed := false
	for _, sa := range searchAttributes(h) {
		fields := sa.GetIndexedFields()
		for field, p := range fields {
			if name, ok := aliases[field]; ok && name != field {
				delete(fields, field)
				fields[name] = p
				changed = true
			}
		}
	}
	return changed
}

// NamespaceAliases reads from the server the names of the search attributes a namespace stores
// under each field.
func NamespaceAliases(ctx context.Context, c client.Client, namespace string) (map[string]string, error) {
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("describe namespace %s: %w", namespace, err)
	}
	return desc.GetConfig().GetCustomSearchAttributeAliases(), nil
}
