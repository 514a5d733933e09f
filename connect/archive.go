package connect

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// ArchiveSchemes are the history archive providers the Temporal server ships: a directory on the
// server's file system (one every history host shares), Amazon S3 and Google Cloud Storage.
var ArchiveSchemes = []string{"file", "s3", "gs"}

// CheckArchiveURI says what is wrong with a history archive URI, or returns nil.
func CheckArchiveURI(uri string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("archive URI %q: %v", uri, err)
	}
	known := false
	for _, s := range ArchiveSchemes {
		known = known || u.Scheme == s
	}
	switch {
	case !known:
		return fmt.Errorf("archive URI %q: the scheme must be one of %s", uri, strings.Join(ArchiveSchemes, ", "))
	case u.Scheme == "file" && (u.Host != "" || !strings.HasPrefix(u.Path, "/")):
		return fmt.Errorf("archive URI %q: a file URI names an absolute directory, file:///path", uri)
	case u.Scheme != "file" && u.Host == "":
		return fmt.Errorf("archive URI %q: name the bucket, %s://bucket/path", uri, u.Scheme)
	}
	return nil
}

// EnsureArchival makes namespace archive the history of every workflow that closes to uri, and
// reports whether it changed anything. A namespace that archives elsewhere is an error: the
// server never moves a namespace's archive. The cluster must have history archival on, with the
// provider of uri's scheme, in its static configuration. The servers' namespace caches take the
// change on their next refresh (two seconds by default).
func EnsureArchival(ctx context.Context, c client.Client, namespace, uri string) (bool, error) {
	if err := CheckArchiveURI(uri); err != nil {
		return false, err
	}
	svc := c.WorkflowService()
	desc, err := svc.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return false, fmt.Errorf("describe namespace %s: %w", namespace, err)
	}
	nc := desc.GetConfig()
	switch set := nc.GetHistoryArchivalUri(); {
	case set == uri && nc.GetHistoryArchivalState() == enumspb.ARCHIVAL_STATE_ENABLED:
		return false, nil
	case set != "" && set != uri:
		return false, fmt.Errorf("namespace %s archives to %s, which the server cannot change: give that archive, not %s", namespace, set, uri)
	}
	_, err = svc.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{HistoryArchivalState: enumspb.ARCHIVAL_STATE_ENABLED, HistoryArchivalUri: uri},
	})
	if err != nil {
		return false, fmt.Errorf("namespace %s: archive to %s (the cluster's configuration must turn history archival on, with this provider): %w", namespace, uri, err)
	}
	// A cluster that does not archive takes the update and leaves archival as it was.
	desc, err = svc.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return false, fmt.Errorf("describe namespace %s: %w", namespace, err)
	}
	if nc := desc.GetConfig(); nc.GetHistoryArchivalState() != enumspb.ARCHIVAL_STATE_ENABLED || nc.GetHistoryArchivalUri() != uri {
		return false, fmt.Errorf("namespace %s: the cluster does not archive histories: the cluster's configuration must turn history archival on, with the provider of %s", namespace, uri)
	}
	return true, nil
}
