package agency

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	serverlog "go.temporal.io/server/common/log"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/logging"
)

// customs is the caller namespace of this package's tests: customs' own.
const customs = "customs"

// server is this package's one real Temporal server, in memory, in the test process, started by
// the first test that needs one (realServer), with the agency namespaces and endpoints set up
// for customs' namespace.
var (
	serverOnce sync.Once
	server     *testServer
	serverErr  error
)

// realServer returns the package's real server.
func realServer(t testing.TB) *testServer {
	t.Helper()
	serverOnce.Do(func() { server, serverErr = newServer() })
	if serverErr != nil {
		t.Fatalf("start the test server: %v", serverErr)
	}
	return server
}

func TestMain(m *testing.M) {
	code := m.Run()
	if server != nil {
		if err := server.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop the test server:", err)
		}
	}
	os.Exit(code)
}

// testServer is a real Temporal server whose frontend also serves HTTP: the server delivers a
// Nexus operation to a worker's endpoint through its own frontend's HTTP port (server v1.32.1,
// common/resource/fx.go getFrontendConnectionDetails), which temporaltest's server does not open:
// there an operation's start fails on "dial tcp 127.0.0.1:0" and backs off for ever.
type testServer struct {
	srv      temporal.Server
	hostPort string
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func newServer() (*testServer, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	const ip = "127.0.0.1"
	frontend := net.JoinHostPort(ip, strconv.Itoa(ports[0]))
	sqlConf := &config.SQL{PluginName: sqliteplugin.PluginName,
		ConnectAttributes: map[string]string{"mode": "memory", "cache": "shared"},
		DatabaseName:      fmt.Sprintf("agency-%d", rand.Int64())}
	conf := &config.Config{}
	conf.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: ip}
	conf.Persistence = config.Persistence{DefaultStore: sqliteplugin.PluginName, VisibilityStore: sqliteplugin.PluginName,
		NumHistoryShards: 1, DataStores: map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlConf}}}
	conf.ClusterMetadata = &cluster.Config{EnableGlobalNamespace: false, FailoverVersionIncrement: 10,
		MasterClusterName: "active", CurrentClusterName: "active",
		ClusterInformation: map[string]cluster.ClusterInformation{"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend}}}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{
		// The frontend's HTTP port is what Nexus needs.
		string(primitives.FrontendService): {RPC: config.RPC{GRPCPort: ports[0], HTTPPort: ports[1], BindOnIP: ip}},
		string(primitives.HistoryService):  {RPC: config.RPC{GRPCPort: ports[2], BindOnIP: ip}},
		string(primitives.MatchingService): {RPC: config.RPC{GRPCPort: ports[3], BindOnIP: ip}},
		string(primitives.WorkerService):   {RPC: config.RPC{GRPCPort: ports[4], BindOnIP: ip}},
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(serverlog.NewNoopLogger()),
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return authorization.NewNoopClaimMapper() }),
		// No Nexus setting: an endpoint that targets a worker needs none (its callback is
		// temporal://system). Namespaces and search attributes are read afresh, as temporaltest does.
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		}),
	)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	s := &testServer{srv: srv, hostPort: frontend}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: frontend, Namespace: customs})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: customs, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}); err != nil {
		return nil, err
	}
	if err := Setup(ctx, c, customs, NMPA, SAMR); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *testServer) client(t testing.TB, namespace string) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: s.hostPort, Namespace: namespace, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// testLogger is the SDK's logger in a test: warnings and errors, in the test's log.
func testLogger(t testing.TB) log.Logger {
	return logging.NewSDKLogger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
}
