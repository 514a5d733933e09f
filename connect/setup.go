package connect

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/workflows"
)

// SetupOptions is the setup command's command line: where the cluster is, and whether to create
// the namespace.
type SetupOptions struct {
	Connect Options
	// CreateNamespace registers the namespace when it does not exist, with Retention.
	CreateNamespace bool
	Retention       time.Duration
	// Wait is how long to keep trying while the cluster does not answer yet, or does not yet
	// know a namespace just created.
	Wait time.Duration
	// RosterChanged tells every clearance waiting on an officer that the roster changed.
	RosterChanged bool
	// Archive, when set, is the URI the namespace archives the history of every closed workflow
	// to (file:///dir, s3://bucket/path, gs://bucket/path), and its visibility record under
	// VisibilityArchiveURI; see EnsureArchival.
	Archive string
	// Versioning names the build of the workers this setup goes with; with MakeCurrent other
	// than never, it is made the worker deployment's current version (MakeCurrent) before they
	// start.
	Versioning Versioning
}

// DefaultRetention is how long closed clearances stay in a namespace the setup command creates.
const DefaultRetention = 30 * 24 * time.Hour

// RegisterFlags defines the setup command's flags on fs.
func (o *SetupOptions) RegisterFlags(fs *flag.FlagSet) {
	o.Connect.RegisterFlags(fs)
	fs.BoolVar(&o.CreateNamespace, "create-namespace", false, "register the namespace if it does not exist (needs rights to register namespaces)")
	fs.DurationVar(&o.Retention, "retention", DefaultRetention, "retention of closed workflows in a namespace created by --create-namespace")
	fs.DurationVar(&o.Wait, "wait", 2*time.Minute, "how long to retry while the cluster is not up yet")
	fs.StringVar(&o.Archive, "archive", "", "archive the history of every workflow that closes in the namespace to this URI (file:///dir, s3://bucket/path, gs://bucket/path), and its visibility record under URI/visibility, past retention; the cluster's configuration must turn history and visibility archival on")
	fs.BoolVar(&o.RosterChanged, "roster-changed", false, "then tell every clearance waiting on an officer that the roster changed, so that it reads it again")
	if o.Versioning.MakeCurrent == "" {
		o.Versioning.MakeCurrent = CurrentNever
	}
	o.Versioning.RegisterFlags(fs, false)
}

// Setup prepares a namespace for the engine on any cluster: it waits for the cluster to answer,
// creates the namespace when asked and missing, and registers the custom search attributes that
// are missing. Everything already there is left alone, so it is safe to run on every deployment.
// It reports what it did on out.
func Setup(ctx context.Context, o SetupOptions, logger log.Logger, out io.Writer) error {
	if o.CreateNamespace && o.Retention < 24*time.Hour {
		return fmt.Errorf("--retention %s: Temporal needs at least 24h", o.Retention)
	}
	if o.Archive != "" {
		if err := CheckArchiveURI(o.Archive); err != nil {
			return fmt.Errorf("--archive: %w", err)
		}
	}
	if err := o.Versioning.Validate(true); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Wait+30*time.Second)
	defer cancel()
	deadline := time.Now().Add(o.Wait)
	ns := o.Connect.Namespace

	c, err := DialWait(ctx, o.Connect, logger, o.Wait)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(out, "cluster %s answers\n", o.Connect.Address)

	created, err := EnsureNamespace(ctx, c, ns, o.CreateNamespace, o.Retention)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(out, "namespace %s: created, retention %s\n", ns, o.Retention)
	} else {
		fmt.Fprintf(out, "namespace %s: exists\n", ns)
	}

	if o.Archive != "" {
		changed, err := retry(ctx, deadline, func() (bool, error) { return EnsureArchival(ctx, c, ns, o.Archive) })
		if err != nil {
			return err
		}
		from := ""
		if changed {
			from = " from now on"
		}
		fmt.Fprintf(out, "namespace %s: archives closed histories to %s and their visibility records to %s%s\n",
			ns, o.Archive, VisibilityArchiveURI(o.Archive), from)
	}

	// A namespace just created may take a moment to reach every frontend.
	missing, err := retry(ctx, deadline, func() ([]string, error) { return missingSearchAttributes(ctx, c, ns) })
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		if _, err := retry(ctx, deadline, func() (struct{}, error) {
			return struct{}{}, RegisterSearchAttributes(ctx, c, ns)
		}); err != nil {
			return err
		}
		if still, err := missingSearchAttributes(ctx, c, ns); err != nil || len(still) > 0 {
			return errors.Join(err, fmt.Errorf("search attributes still missing after registration: %v", still))
		}
		fmt.Fprintf(out, "search attributes: added %v\n", missing)
	}
	// Registered is not yet usable: a clearance started at once could be refused for "no mapping".
	if err := AwaitSearchAttributes(ctx, c, ns, time.Until(deadline)); err != nil {
		return err
	}
	fmt.Fprintf(out, "search attributes: all %d present and usable\n", len(workflows.SearchAttributes()))
	if v := o.Versioning; v.MakeCurrent != CurrentNever {
		// Setup names the workers' build without being one of them.
		v.Enabled = true
		r, err := retry(ctx, deadline, func() (Routing, error) { return MakeCurrent(ctx, c, v.Version(), v.MakeCurrent, true) })
		if err != nil {
			return err
		}
		switch {
		case r.Made:
			fmt.Fprintf(out, "worker deployment %s: build %s made current\n", v.DeploymentName, v.BuildID)
		case r.IsCurrent(v.Version()):
			fmt.Fprintf(out, "worker deployment %s: build %s is current already\n", v.DeploymentName, v.BuildID)
		default:
			fmt.Fprintf(out, "worker deployment %s: %s; build %s left to be ramped (temporal worker deployment set-ramping-version)\n",
				v.DeploymentName, r, v.BuildID)
		}
	}
	if o.RosterChanged {
		n, err := clearance.AnnounceRosterChange(ctx, c, ns)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "roster change: told %d clearances waiting on an officer\n", n)
	}
	return nil
}

// EnsureNamespace reports whether it created namespace. Without create, a missing namespace is an
// error.
func EnsureNamespace(ctx context.Context, c client.Client, namespace string, create bool, retention time.Duration) (bool, error) {
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	var notFound *serviceerror.NamespaceNotFound
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		return false, nil
	case !errors.As(err, &notFound) && !errors.As(err, &nf):
		return false, fmt.Errorf("describe namespace %s: %w", namespace, err)
	case !create:
		return false, fmt.Errorf("namespace %s does not exist; --create-namespace creates it", namespace)
	}
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        namespace,
		Description:                      "Customs clearance of exports of medical supplies",
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if errors.As(err, &exists) {
		// Another setup run won the race.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("register namespace %s: %w", namespace, err)
	}
	return true, nil
}

// missingSearchAttributes returns the engine's search attributes the namespace lacks, sorted.
func missingSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	var missing []string
	for name := range workflows.SearchAttributes() {
		if _, ok := resp.GetCustomAttributes()[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// retry calls f until it succeeds, the deadline passes or ctx ends, and returns its last error.
// Only errors that a cluster still starting, or a namespace not yet known to every frontend,
// gives are retried.
func retry[T any](ctx context.Context, deadline time.Time, f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err == nil || !transient(err) || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, errors.Join(err, ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}

func transient(err error) bool {
	var (
		unavailable *serviceerror.Unavailable
		notFound    *serviceerror.NamespaceNotFound
		nf          *serviceerror.NotFound
		deadline    *serviceerror.DeadlineExceeded
	)
	return errors.As(err, &unavailable) || errors.As(err, &notFound) || errors.As(err, &nf) || errors.As(err, &deadline)
}
