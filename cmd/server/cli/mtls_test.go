package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/workflows"
)

// pki is a test CA and the certificates it signs, written as PEM files.
type pki struct {
	t      *testing.T
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "customs test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{t: t, dir: t.TempDir(), ca: ca, caKey: key}
	p.caFile = p.write("ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(name, kind string, der []byte) string {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// issue signs a certificate for cn (a server's when ips are given) and returns its files.
func (p *pki) issue(cn string, ips ...net.IP) (certFile, keyFile string) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, IPAddresses: ips}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(cn+".pem", "CERTIFICATE", der), p.write(cn+".key", "EC PRIVATE KEY", kder)
}

// TestServerTakesWorkerCertificates: with the frontend's mutual TLS and --worker-certs, a worker
// signs in by its client certificate alone: its task traffic is allowed and anything else refused
// as the worker's; a certificate the CA signed for someone else is refused with the reason, and
// a token still signs in whoever it names.
func TestServerTakesWorkerCertificates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	p := newPKI(t)
	serverCert, serverKey := p.issue("frontend", net.ParseIP("127.0.0.1"))
	cfg, frontend := configFileWith(t, true, fmt.Sprintf(`  tls:
    frontend:
      server:
        certFile: %s
        keyFile: %s
        requireClientAuth: true
        clientCaFiles: [%s]
`, serverCert, serverKey, p.caFile))
	issuer := testIssuer(t)
	ctx := context.Background()
	out, done := startServer(t, "--config-file", cfg, "--issuer", issuer.URL, "--namespace", "customs", "--worker-certs", "customs-worker-*")
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	dial := func(cn, token string) client.Client {
		t.Helper()
		certFile, keyFile := p.issue(cn)
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		opts := client.Options{HostPort: frontend, Namespace: "customs",
			ConnectionOptions: client.ConnectionOptions{TLS: &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		if token != "" {
			opts.HeadersProvider = bearer(token)
		}
		c, err := client.NewLazyClient(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	adminTok, err := issuer.Token(workflows.Principal{Subject: "ops-1", Roles: []string{workflows.RoleAdmin}}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	admin := dial("ops-console", adminTok)
	register := &workflowservice.RegisterNamespaceRequest{Namespace: "customs", WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		_, err := admin.WorkflowService().RegisterNamespace(ctx, register)
		if err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("the server exited %d:\n%s", code, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admin (token over mutual TLS) creates the namespace: %v\n%s", err, out.String())
		}
	}

	worker := dial("customs-worker-1", "")
	if _, err := worker.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "customs"}); err != nil {
		t.Errorf("the worker's certificate, its task traffic: %v", err)
	}
	var denied *serviceerror.PermissionDenied
	_, err = worker.WorkflowService().StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{Namespace: "customs",
		WorkflowId: "x", WorkflowType: &commonpb.WorkflowType{Name: workflows.WorkflowName}, TaskQueue: &taskqueuepb.TaskQueue{Name: workflows.TaskQueue}})
	if !errors.As(err, &denied) || !strings.Contains(denied.Reason, "customs-worker-1 (worker) may not StartWorkflowExecution") {
		t.Errorf("the worker's certificate starts a clearance: %v", err)
	}
	stranger := dial("mallory", "")
	_, err = stranger.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "customs"})
	if !errors.As(err, &denied) || !strings.Contains(denied.Reason, `the client certificate "mallory" names no worker this server admits`) {
		t.Errorf("a certificate of no worker: %v", err)
	}
	var problems bytes.Buffer
	plain, _ := configFile(t, true)
	if code := Run(context.Background(), []string{"--config-file", plain, "--issuer", issuer.URL, "--worker-certs", "customs-worker-*"}, &problems, &problems); code != command.Usage ||
		!strings.Contains(problems.String(), "requireClientAuth") {
		t.Errorf("--worker-certs without mutual TLS: exit %d, %q", code, problems.String())
	}
}
