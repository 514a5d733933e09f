// Package health serves a worker's liveness and readiness over HTTP for container health checks
// and Kubernetes probes, and probes such an endpoint from the command line, so an image without a
// shell or curl can still check itself.
//
//	GET /healthz  200 while the process works: starting, serving or draining; 503 after a fatal
//	              worker error. It asks nothing of Temporal, so a cluster outage restarts no pod.
//	GET /readyz   200 only while the worker serves and its polls succeed (Polls); 503 while it
//	              starts, as soon as it begins to stop, and while polls fail
package health

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Paths the server answers.
const (
	LivePath  = "/healthz"
	ReadyPath = "/readyz"
)

// EnvAddr is the environment variable that gives the worker's --health-addr a default and tells
// the healthcheck command where to look.
const EnvAddr = "CUSTOMS_HEALTH_ADDR"

// CheckTimeout bounds one check of the Temporal connection.
const CheckTimeout = 3 * time.Second

// Checker reports whether a dependency answers; a nil error means it does.
type Checker func(ctx context.Context) error

type state int32

const (
	starting state = iota
	serving
	stopping
	failed
)

func (s state) String() string {
	switch s {
	case serving:
		return "serving"
	case stopping:
		return "stopping"
	case failed:
		return "failed"
	}
	return "starting"
}

// Server answers the health endpoints. Its zero state is "starting"; the worker calls Serving
// once it has started, Stopping when it begins to shut down and Failed when it stopped on a fatal
// error.
type Server struct {
	ready Checker
	state atomic.Int32
	fatal atomic.Pointer[string]
	srv   *http.Server
	ln    net.Listener
	done  chan error
}

// Listen binds addr (host:port; ":8080" for every interface) and serves the endpoints in the
// background. ready is asked on each request to /readyz while serving; nil means serving is
// ready.
func Listen(addr string, ready Checker) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health endpoint %s: %w", addr, err)
	}
	return Serve(ln, ready), nil
}

// Serve serves the endpoints on ln, bound by the caller, in the background; Close closes ln.
func Serve(ln net.Listener, ready Checker) *Server {
	s := &Server{ready: ready, ln: ln, done: make(chan error, 1)}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serving marks the worker as started.
func (s *Server) Serving() { s.state.Store(int32(serving)) }

// Stopping marks the worker as shutting down: /readyz fails from now on.
func (s *Server) Stopping() {
	s.state.CompareAndSwap(int32(serving), int32(stopping))
	s.state.CompareAndSwap(int32(starting), int32(stopping))
}

// Failed marks the worker as stopped on a fatal error: neither endpoint answers 200 again.
func (s *Server) Failed(err error) {
	msg := "failed"
	if err != nil {
		msg = "failed: " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	s.fatal.Store(&msg)
	s.state.Store(int32(failed))
}

// Close stops serving, waiting at most until ctx is done for requests in flight.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	return errors.Join(err, <-s.done)
}

// Handler returns the HTTP handler of the endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+LivePath, func(w http.ResponseWriter, r *http.Request) { s.answer(w, r, false) })
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) { s.answer(w, r, true) })
	return mux
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, ready bool) {
	st := state(s.state.Load())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case st == failed:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, *s.fatal.Load())
		return
	case !ready:
		// Alive while the process works, whatever Temporal answers.
		fmt.Fprintln(w, "ok", st)
		return
	case st != serving:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, st)
		return
	}
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), CheckTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
	}
	fmt.Fprintln(w, "ok", st)
}

// URL returns the address of path on a server listening on addr; a missing or unspecified host
// becomes 127.0.0.1, since the probe runs beside the server.
func URL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("health address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}

// Probe asks url once and returns nil when it answers 200.
func Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 512))
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// ProbeOptions are the healthcheck subcommand's flags.
type ProbeOptions struct {
	// URL is the endpoint to probe; empty means LivePath on the address in EnvAddr.
	URL     string
	Timeout time.Duration
}

// RegisterFlags defines the healthcheck subcommand's flags on fs.
func (o *ProbeOptions) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.URL, "url", "", "endpoint to probe (default: "+LivePath+" on $"+EnvAddr+")")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "how long to wait for the answer")
}

// Command is the worker's "healthcheck" subcommand, for a container's HEALTHCHECK in an image
// without curl: it probes the worker's endpoint once and returns the exit code, 0 when healthy.
func Command(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o ProbeOptions
	o.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	url := o.URL
	if url == "" {
		addr := os.Getenv(EnvAddr)
		if addr == "" {
			fmt.Fprintf(stderr, "healthcheck: give --url or set %s\n", EnvAddr)
			return 2
		}
		u, err := URL(addr, LivePath)
		if err != nil {
			fmt.Fprintf(stderr, "healthcheck: %v\n", err)
			return 2
		}
		url = u
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	if err := Probe(ctx, url); err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
