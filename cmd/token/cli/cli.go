// Package cli is the command line of token: it signs a development token for one caller with the
// key devserver --auth keeps in its data directory.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/workflows"
)

// roles are the roles a token may grant.
var roles = []string{workflows.RoleOfficer, workflows.RoleSupervisor, workflows.RoleExporter, workflows.RoleAuditor,
	workflows.RoleWorker, workflows.RoleAdmin}

var exporterCode = regexp.MustCompile(`^[0-9A-Z]{10}$`)

type roleList []string

func (r *roleList) String() string { return strings.Join(*r, ",") }
func (r *roleList) Set(v string) error {
	if !slices.Contains(roles, v) {
		return fmt.Errorf("%q is not one of %s", v, strings.Join(roles, ", "))
	}
	*r = append(*r, v)
	return nil
}

// Run is the command line.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "data", "the devserver's data directory, which holds the issuer's key")
	ip := fs.String("ip", "127.0.0.1", "the devserver's --ip")
	port := fs.Int("auth-port", auth.DefaultDevPort, "the devserver's --auth-port")
	subject := fs.String("subject", "", "who the token is for: an officer's roster ID, an exporter's user, an auditor (required)")
	var rs roleList
	fs.Var(&rs, "role", "a role the token grants, repeatable: "+strings.Join(roles, ", ")+" (default exporter with --exporter)")
	exporter := fs.String("exporter", "", "with role exporter: the 10-character customs code the token acts for")
	ttl := fs.Duration("ttl", 8*time.Hour, "how long the token is valid")
	revoke := fs.String("revoke", "", "instead of signing a token: revoke this subject; the devserver refuses its tokens from its next call")
	serve := fs.Bool("serve", false, "instead of signing a token: be the development issuer on its own, publishing its keys on --ip:--auth-port until stopped (for a cluster's server, --issuer-url)")
	issuerURL := fs.String("issuer-url", "", "the issuer's name, the iss of its tokens (default http://IP:PORT from --ip and --auth-port); give the name a cluster's server reaches it by")
	command.Help(fs, stdout, "usage: token --subject ID [--role ROLE]... [--exporter CODE] [flags]\n       token --revoke ID\n       token --serve [--issuer-url URL]\n\nSigns a token for one caller with the key of devserver --auth, and prints it; revokes a\ncaller, whose tokens the devserver then refuses; or serves the issuer's keys on its own.\n\nflags:\n")
	if code, ok := command.NoOperands("token", fs, args, stderr); !ok {
		return code
	}
	if *revoke != "" {
		r := &auth.Revocations{Path: auth.RevocationsPath(*dataDir)}
		if err := r.Revoke(*revoke); err != nil {
			fmt.Fprintf(stderr, "token: --revoke: %v\n", err)
			return command.Usage
		}
		fmt.Fprintf(stdout, "revoked %s (%s)\n", *revoke, r.Path)
		return command.OK
	}
	url := *issuerURL
	if url == "" {
		url = auth.DevIssuerURL(*ip, *port)
	}
	if *serve {
		return serveIssuer(ctx, *dataDir, net.JoinHostPort(*ip, strconv.Itoa(*port)), url, stdout, stderr)
	}
	if len(rs) == 0 && *exporter != "" {
		rs = roleList{workflows.RoleExporter}
	}
	var problems []string
	switch {
	case strings.TrimSpace(*subject) == "":
		problems = append(problems, "--subject: required")
	case len(rs) == 0:
		problems = append(problems, "--role: give at least one role, or --exporter")
	}
	if slices.Contains(rs, workflows.RoleExporter) && !exporterCode.MatchString(*exporter) {
		problems = append(problems, fmt.Sprintf("--exporter: %q is not a 10-character customs code; an exporter's token needs one", *exporter))
	}
	if *exporter != "" && !slices.Contains(rs, workflows.RoleExporter) {
		problems = append(problems, "--exporter: only an exporter's token acts for an exporter code")
	}
	if *ttl <= 0 || *ttl > 30*24*time.Hour {
		problems = append(problems, fmt.Sprintf("--ttl: %s is not between a second and 30 days", *ttl))
	}
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "token: "+strings.Join(problems, "\ntoken: "))
		return command.Usage
	}
	key, err := auth.LoadKey(auth.KeyPath(*dataDir))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "token: no issuer key at %s: start go run ./deploy/devserver --auth (with the same --data-dir) first\n", auth.KeyPath(*dataDir))
		return command.NotFound
	}
	if err != nil {
		fmt.Fprintf(stderr, "token: %v\n", err)
		return command.Failure
	}
	issuer := auth.NewIssuer(url, auth.DevAudience, key)
	tok, err := issuer.Token(workflows.Principal{Subject: *subject, Roles: rs, Exporter: *exporter}, *ttl, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "token: %v\n", err)
		return command.Failure
	}
	fmt.Fprintln(stdout, tok)
	return command.OK
}

// serveIssuer publishes the development issuer's keys until ctx ends, creating its key under
// dataDir when missing.
func serveIssuer(ctx context.Context, dataDir, addr, url string, stdout, stderr io.Writer) int {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		fmt.Fprintf(stderr, "token: --issuer-url: %q is not an http(s) URL\n", url)
		return command.Usage
	}
	d, err := auth.ServeDev(dataDir, addr, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "token: --serve: %v\n", err)
		return command.Failure
	}
	fmt.Fprintf(stdout, "issuer %s: keys at http://%s%s (key %s)\n", url, addr, auth.JWKSPath, auth.KeyPath(dataDir))
	<-ctx.Done()
	if err := d.Close(); err != nil {
		fmt.Fprintf(stderr, "token: %v\n", err)
		return command.Failure
	}
	return command.OK
}
