package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/internal/testport"
	"github.com/medsupply/customs/workflows"
)

// configFile writes a server configuration on loopback: SQLite in memory, every service with
// an internal frontend, no public client (the system workers use the internal frontend).
func configFile(t *testing.T, internalFrontend bool) (path, frontend string) {
	return configFileWith(t, internalFrontend, "")
}

// configFileWith is configFile with a global section's extra YAML (indented under global:).
func configFileWith(t *testing.T, internalFrontend bool, global string) (path, frontend string) {
	t.Helper()
	p := testport.Free(t, 10)
	services := fmt.Sprintf(`
  frontend: {rpc: {grpcPort: %d, membershipPort: %d, bindOnIP: 127.0.0.1}}
  history: {rpc: {grpcPort: %d, membershipPort: %d, bindOnIP: 127.0.0.1}}
  matching: {rpc: {grpcPort: %d, membershipPort: %d, bindOnIP: 127.0.0.1}}
  worker: {rpc: {grpcPort: %d, membershipPort: %d, bindOnIP: 127.0.0.1}}`, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
	if internalFrontend {
		services += fmt.Sprintf(`
  internal-frontend: {rpc: {grpcPort: %d, membershipPort: %d, bindOnIP: 127.0.0.1}}`, p[8], p[9])
	}
	cfg := fmt.Sprintf(`log: {level: warn, stdout: true}
persistence:
  defaultStore: sqlite
  visibilityStore: sqlite
  numHistoryShards: 1
  datastores:
    sqlite:
      sql:
        pluginName: sqlite
        databaseName: server-test-%d
        connectAddr: localhost
        connectProtocol: tcp
        connectAttributes: {mode: memory, cache: shared}
        maxConns: 1
        maxIdleConns: 1
global:
  membership: {maxJoinDuration: 30s, broadcastAddress: 127.0.0.1}
%s
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active: {enabled: true, initialFailoverVersion: 1, rpcName: frontend, rpcAddress: "127.0.0.1:%d"}
dcRedirectionPolicy: {policy: noop}
services:%s
archival: {history: {state: disabled}, visibility: {state: disabled}}
namespaceDefaults: {archival: {history: {state: disabled}, visibility: {state: disabled}}}
`, time.Now().UnixNano(), global, p[0], services)
	path = filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, fmt.Sprintf("127.0.0.1:%d", p[0])
}

type bearer string

func (b bearer) GetHeaders(context.Context) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// testIssuer is an issuer publishing its keys over HTTP for the test's length.
func testIssuer(t *testing.T) *auth.Issuer {
	t.Helper()
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(nil)
	t.Cleanup(jwks.Close)
	issuer := auth.NewIssuer(jwks.URL, auth.DevAudience, key)
	jwks.Config.Handler = issuer.Handler()
	return issuer
}

// startServer runs the command line with args until the test ends, when it must exit 0; done
// receives its exit code should it end before.
func startServer(t *testing.T, args ...string) (out *bytes.Buffer, done <-chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &bytes.Buffer{}
	ch := make(chan int, 1)
	go func() { ch <- Run(ctx, args, out, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-ch:
			if code != command.OK {
				t.Errorf("server exit %d:\n%s", code, out.String())
			}
		case <-time.After(time.Minute):
			t.Error("the server did not stop")
		}
	})
	return out, ch
}

// TestServerVerifiesCallers starts the server binary's command line on a configuration file,
// as a cluster runs it: without a token a call is refused with the reason, an officer may read
// but not create a namespace, an admin creates one, and the server's own system workers run a
// schedule through the internal frontend while every public call is verified.
func TestServerVerifiesCallers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	issuer := testIssuer(t)
	cfg, frontend := configFile(t, true)
	ctx := context.Background()
	out, done := startServer(t, "--config-file", cfg, "--issuer", issuer.URL, "--namespace", "customs", "--agencies", "NMPA,SAMR,CNCA")
	sign := func(p workflows.Principal) string {
		tok, err := issuer.Token(p, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	dial := func(tok string) client.Client {
		t.Helper()
		opts := client.Options{HostPort: frontend, Namespace: "customs"}
		if tok != "" {
			opts.HeadersProvider = bearer(tok)
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			c, err := client.NewLazyClient(opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
			if err == nil || tok == "" {
				t.Cleanup(c.Close)
				return c
			}
			c.Close()
			select {
			case code := <-done:
				t.Fatalf("the server exited %d:\n%s", code, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server does not answer: %v\n%s", err, out.String())
			}
		}
	}
	admin := dial(sign(workflows.Principal{Subject: "ops-1", Roles: []string{workflows.RoleAdmin}}))
	var hc, hcErr bytes.Buffer
	if code := Run(ctx, []string{"healthcheck", "--address", frontend}, &hc, &hcErr); code != command.OK || !strings.Contains(hc.String(), "serving") {
		t.Errorf("server healthcheck: exit %d, %q %q", code, hc.String(), hcErr.String())
	}
	officer := dial(sign(workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}}))
	anonymous := dial("")

	_, err := anonymous.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "customs"})
	var denied *serviceerror.PermissionDenied
	if !errors.As(err, &denied) || !strings.Contains(denied.Reason, "no token") {
		t.Errorf("a call without a token: %v, want PermissionDenied saying no token", err)
	}
	register := &workflowservice.RegisterNamespaceRequest{Namespace: "customs", WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}
	if _, err := officer.WorkflowService().RegisterNamespace(ctx, register); !errors.As(err, &denied) || !strings.Contains(denied.Reason, "doc-li (officer) may not RegisterNamespace") {
		t.Errorf("an officer creates a namespace: %v", err)
	}
	if _, err := admin.WorkflowService().RegisterNamespace(ctx, register); err != nil {
		t.Fatalf("the admin creates the namespace: %v", err)
	}

	// A schedule is run by the worker service's per-namespace worker, which reaches the server
	// through the internal frontend: it fires although its calls carry no token.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, err := admin.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID:   "tick",
			Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Second}}},
			Action: &client.ScheduleWorkflowAction{ID: "tick-wf", Workflow: "Tick", TaskQueue: "nobody",
				WorkflowExecutionTimeout: time.Minute},
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create a schedule: %v", err)
		}
	}
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		d, err := admin.ScheduleClient().GetHandle(ctx, "tick").Describe(ctx)
		if err == nil && len(d.Info.RecentActions) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the schedule never fired (the system workers cannot reach the server?): %v %+v\n%s", err, d, out.String())
		}
	}
	if _, err := officer.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "customs"}); err != nil {
		t.Errorf("the officer lists: %v", err)
	}
	if _, err := officer.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "temporal-system"}); !errors.As(err, &denied) ||
		!strings.Contains(denied.Reason, "may work only in namespace customs") {
		t.Errorf("the officer lists another namespace: %v", err)
	}

	// A third agency on the single window (--agencies): its officer is admitted to its own
	// namespace, which does not exist yet; an agency the server was not given is refused.
	cnca := dial(sign(workflows.Principal{Subject: "cnca-wu", Roles: []string{workflows.RoleOfficer}, Agency: "CNCA"}))
	var missing *serviceerror.NamespaceNotFound
	if _, err := cnca.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "agency-cnca"}); !errors.As(err, &missing) {
		t.Errorf("CNCA's officer lists agency-cnca: %v, want admitted (and the namespace not found)", err)
	}
	if _, err := cnca.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "agency-nmpa"}); !errors.As(err, &denied) {
		t.Errorf("CNCA's officer lists NMPA's namespace: %v, want refused", err)
	}
	health, err := client.NewLazyClient(client.Options{HostPort: frontend, Namespace: "agency-health",
		HeadersProvider: bearer(sign(workflows.Principal{Subject: "health-li", Roles: []string{workflows.RoleOfficer}, Agency: "HEALTH"}))})
	if err != nil {
		t.Fatal(err)
	}
	defer health.Close()
	if _, err := health.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "agency-health"}); !errors.As(err, &denied) ||
		!strings.Contains(denied.Reason, `"HEALTH" is not an agency on this server's single window (NMPA, SAMR, CNCA)`) {
		t.Errorf("an agency the server was not given: %v", err)
	}
}

// TestServerRefusesUnverifiableSettings: each setting that would leave callers unverified, or
// the system workers locked out, stops the server before it starts, naming the flag.
func TestServerRefusesUnverifiableSettings(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"healthcheck", "--address", fmt.Sprintf("127.0.0.1:%d", testport.Free(t, 1)[0]), "--timeout", "2s"}, &out, &errOut); code != command.Unavailable {
		t.Errorf("healthcheck of nothing: exit %d, %q; want %d", code, errOut.String(), command.Unavailable)
	}
	withInternal, _ := configFile(t, true)
	withoutInternal, _ := configFile(t, false)
	t.Setenv("TEMPORAL_SERVICES", "frontend,gateway")
	var envOut, envErr bytes.Buffer
	if code := Run(context.Background(), []string{"--config-file", withInternal, "--issuer", "https://login.customs.example"}, &envOut, &envErr); code != command.Usage ||
		!strings.Contains(envErr.String(), `TEMPORAL_SERVICES: "gateway" is not one of`) {
		t.Errorf("TEMPORAL_SERVICES=frontend,gateway: exit %d, %q", code, envErr.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config-file", withInternal}, "--issuer: \"\" is not an issuer URL"},
		{[]string{"--config-file", withInternal, "--issuer", "login.customs.example"}, "--issuer: \"login.customs.example\" is not an issuer URL"},
		{[]string{"--config-file", withInternal, "--issuer", "https://login.customs.example", "--jwks-url", "file:///keys"}, "--jwks-url: \"file:///keys\" is not an http(s) URL"},
		{[]string{"--config-file", withInternal, "--issuer", "https://login.customs.example", "--audience", " "}, "--audience: empty"},
		{[]string{"--config-file", withoutInternal, "--issuer", "https://login.customs.example"}, "defines no internal-frontend"},
		// A pod of the Helm chart runs one service; the configuration must still define it.
		{[]string{"--config-file", withoutInternal, "--issuer", "https://login.customs.example", "--service", "frontend"}, "defines no internal-frontend"},
		{[]string{"--config-file", filepath.Join(t.TempDir(), "missing.yaml"), "--issuer", "https://login.customs.example"}, "the configuration"},
		{[]string{"--issuer", "https://login.customs.example", "--service", "gateway"}, `"gateway" is not one of`},
		{[]string{"--issuer", "https://login.customs.example", "start"}, "start"},
		{[]string{"--config-file", withInternal, "--issuer", "https://login.customs.example", "--agencies", "NMPA,health"}, `--agencies: "health" is not an agency's short name`},
	} {
		t.Setenv("TEMPORAL_SERVICES", "")
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), c.args, &out, &errOut); code != command.Usage || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%q: exit %d, %q; want %d saying %q", c.args, code, errOut.String(), command.Usage, c.want)
		}
	}
}
