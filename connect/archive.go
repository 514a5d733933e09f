package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// ArchiveSchemes are the archive providers the Temporal server ships: a directory on the server's
// file system (one every history host shares), Amazon S3 and Google Cloud Storage.
var ArchiveSchemes = []string{"file", "s3", "gs"}

// CheckArchiveURI says what is wrong with an archive URI, or returns nil.
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

// VisibilityArchiveURI is where a namespace archiving histories to uri archives the visibility
// records of its closed workflows, which list them once retention has removed them: the
// directory or prefix "visibility" under uri.
func VisibilityArchiveURI(uri string) string { return strings.TrimRight(uri, "/") + "/visibility" }

// EnsureArchival makes namespace archive every workflow that closes: its history to uri, its
// visibility record to VisibilityArchiveURI(uri). It reports whether it changed anything. A
// namespace that archives elsewhere is an error: the server never moves a namespace's archive.
// The cluster must have history and visibility archival on, with the provider of uri's scheme, in
// its static configuration. The servers' namespace caches take a change on their next refresh
// (two seconds by default).
func EnsureArchival(ctx context.Context, c client.Client, namespace, uri string) (bool, error) {
	if err := CheckArchiveURI(uri); err != nil {
		return false, err
	}
	want := archival{enumspb.ARCHIVAL_STATE_ENABLED, uri, enumspb.ARCHIVAL_STATE_ENABLED, VisibilityArchiveURI(uri)}
	svc := c.WorkflowService()
	have, err := describeArchival(ctx, svc, namespace)
	if err != nil {
		return false, err
	}
	switch {
	case have == want:
		return false, nil
	case have.historyURI != "" && have.historyURI != want.historyURI:
		return false, fmt.Errorf("namespace %s archives histories to %s, which the server cannot change: give that archive, not %s", namespace, have.historyURI, uri)
	case have.visibilityURI != "" && have.visibilityURI != want.visibilityURI:
		return false, fmt.Errorf("namespace %s archives visibility records to %s, which the server cannot change: this engine keeps them at %s",
			namespace, have.visibilityURI, want.visibilityURI)
	}
	_, err = svc.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config: &namespacepb.NamespaceConfig{
			HistoryArchivalState: want.historyState, HistoryArchivalUri: want.historyURI,
			VisibilityArchivalState: want.visibilityState, VisibilityArchivalUri: want.visibilityURI,
		},
	})
	if err != nil {
		return false, fmt.Errorf("namespace %s: archive to %s (the cluster's configuration must turn history and visibility archival on, with this provider): %w", namespace, uri, err)
	}
	// A cluster that does not archive takes the update and leaves archival as it was.
	if have, err = describeArchival(ctx, svc, namespace); err != nil {
		return false, err
	}
	if have != want {
		return false, fmt.Errorf("namespace %s: the cluster does not archive (history %s, visibility %s): the cluster's configuration must turn history and visibility archival on, with the provider of %s",
			namespace, have.historyState, have.visibilityState, uri)
	}
	return true, nil
}

// archival is a namespace's archive settings.
type archival struct {
	historyState    enumspb.ArchivalState
	historyURI      string
	visibilityState enumspb.ArchivalState
	visibilityURI   string
}

func describeArchival(ctx context.Context, svc workflowservice.WorkflowServiceClient, namespace string) (archival, error) {
	desc, err := svc.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return archival{}, fmt.Errorf("describe namespace %s: %w", namespace, err)
	}
	nc := desc.GetConfig()
	return archival{nc.GetHistoryArchivalState(), nc.GetHistoryArchivalUri(), nc.GetVisibilityArchivalState(), nc.GetVisibilityArchivalUri()}, nil
}

// ArchiveAliasesFile names the file beside archived histories that maps the fields the server
// stores search attributes under (Keyword01, Bool02, ...) to their names in the namespace
// (ClearanceStatus, Expedited, ...): the histories in a file archive name them by field, and the
// auditor reads them by name. The embedded server writes it into its archive on every start.
const ArchiveAliasesFile = "search-attributes.json"

// ReadArchiveAliases reads the ArchiveAliasesFile of an archive directory: nil, nil when there is
// none.
func ReadArchiveAliases(dir string) (map[string]string, error) {
	path := filepath.Join(dir, ArchiveAliasesFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var aliases map[string]string
	if err := json.Unmarshal(b, &aliases); err != nil {
		return nil, fmt.Errorf("%s: not a map of search attribute fields to names: %w", path, err)
	}
	return aliases, nil
}

// WriteArchiveAliases writes aliases into an archive directory as its ArchiveAliasesFile,
// replacing the file in one step.
func WriteArchiveAliases(dir string, aliases map[string]string) error {
	b, err := json.MarshalIndent(aliases, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ArchiveAliasesFile+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Chmod(0o640)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, ArchiveAliasesFile))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}
