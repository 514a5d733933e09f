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
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
	"github.com/medsupply/customs/workflows"
)

// roles are the roles a token may grant.
var roles = auth.Roles

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

// Flags are the command line's flags.
type Flags struct {
	DataDir, IP, Subject, Exporter, Agency, Revoke, IssuerURL, Out string
	Backchannel, UICallback, UISecret                              string
	Port                                                           int
	Roles                                                          roleList
	TTL                                                            time.Duration
	Serve                                                          bool
}

// RegisterFlags defines the flags on fs.
func (f *Flags) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.DataDir, "data-dir", "data", "the devserver's data directory, which holds the issuer's key")
	fs.StringVar(&f.IP, "ip", "127.0.0.1", "the devserver's --ip")
	fs.IntVar(&f.Port, "auth-port", auth.DefaultDevPort, "the devserver's --auth-port")
	fs.StringVar(&f.Subject, "subject", "", "who the token is for: an officer's roster ID, an exporter's user, an auditor (required)")
	fs.Var(&f.Roles, "role", "a role the token grants, repeatable: "+strings.Join(roles, ", ")+" (default exporter with --exporter)")
	fs.StringVar(&f.Exporter, "exporter", "", "with role exporter: the 10-character customs code the token acts for")
	fs.StringVar(&f.Agency, "agency", "", "the partner agency the token works for on the single window ("+strings.Join(agency.Agencies, ", ")+
		", or another the server's --agencies names): an agency officer's (--role officer, a --subject on the agency's roster), a clerk's (--role auditor) or the agency's worker's (--role worker); "+
		"it admits the token to the agency's namespace ("+agency.Namespace(agency.NMPA)+", ...) and to no other")
	fs.DurationVar(&f.TTL, "ttl", 8*time.Hour, "how long the token is valid")
	fs.StringVar(&f.Out, "out", "", "write the token to this file (mode 0600, replaced whole) instead of printing it")
	fs.StringVar(&f.Revoke, "revoke", "", "instead of signing a token: revoke this subject; the devserver refuses its tokens from its next call")
	fs.BoolVar(&f.Serve, "serve", false, "instead of signing a token: be the development issuer on its own, publishing its keys on --ip:--auth-port until stopped (for a cluster's server, --issuer-url)")
	fs.StringVar(&f.Backchannel, "backchannel-url", "", "with --serve: the URL servers reach the issuer by, when a browser reaches it by --issuer-url (a container network); its discovery then names it for tokens and keys")
	fs.StringVar(&f.UICallback, "ui-callback", "", "with --serve: also sign people in for the Web UI whose OIDC callback this is (http://localhost:8233/auth/sso/callback), as devserver --auth does")
	fs.StringVar(&f.UISecret, "ui-client-secret", os.Getenv("CUSTOMS_UI_CLIENT_SECRET"), "with --ui-callback: the Web UI's client secret (env CUSTOMS_UI_CLIENT_SECRET; required with it)")
	fs.StringVar(&f.IssuerURL, "issuer-url", "", "the issuer's name, the iss of its tokens (default http://IP:PORT from --ip and --auth-port); give the name a cluster's server reaches it by")
}

// Run is the command line.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f Flags
	f.RegisterFlags(fs)
	command.Help(fs, stdout, "usage: token --subject ID [--role ROLE]... [--exporter CODE | --agency AGENCY] [flags]\n       token --revoke ID\n       token --serve [--issuer-url URL]\n\nSigns a token for one caller with the key of devserver --auth, and prints it; revokes a\ncaller, whose tokens the devserver then refuses; or serves the issuer's keys on its own.\n\nflags:\n")
	if code, ok := command.NoOperands("token", fs, args, stderr); !ok {
		return code
	}
	rs := f.Roles
	if f.Revoke != "" {
		r := &auth.Revocations{Path: auth.RevocationsPath(f.DataDir)}
		if err := r.Revoke(f.Revoke); err != nil {
			fmt.Fprintf(stderr, "token: --revoke: %v\n", err)
			return command.Usage
		}
		fmt.Fprintf(stdout, "revoked %s (%s)\n", f.Revoke, r.Path)
		return command.OK
	}
	url := f.IssuerURL
	if url == "" {
		url = auth.DevIssuerURL(f.IP, f.Port)
	}
	if f.Serve {
		return serveIssuer(ctx, f, net.JoinHostPort(f.IP, strconv.Itoa(f.Port)), url, stdout, stderr)
	}
	if len(rs) == 0 && f.Exporter != "" {
		rs = roleList{workflows.RoleExporter}
	}
	var problems []string
	switch {
	case strings.TrimSpace(f.Subject) == "":
		problems = append(problems, "--subject: required")
	case len(rs) == 0:
		problems = append(problems, "--role: give at least one role, or --exporter")
	}
	if slices.Contains(rs, workflows.RoleExporter) && !exporterCode.MatchString(f.Exporter) {
		problems = append(problems, fmt.Sprintf("--exporter: %q is not a 10-character customs code; an exporter's token needs one", f.Exporter))
	}
	if f.Exporter != "" && !slices.Contains(rs, workflows.RoleExporter) {
		problems = append(problems, "--exporter: only an exporter's token acts for an exporter code")
	}
	problems = append(problems, agencyProblems(f.Agency, rs)...)
	if f.TTL <= 0 || f.TTL > 30*24*time.Hour {
		problems = append(problems, fmt.Sprintf("--ttl: %s is not between a second and 30 days", f.TTL))
	}
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "token: "+strings.Join(problems, "\ntoken: "))
		return command.Usage
	}
	key, err := auth.LoadKey(auth.KeyPath(f.DataDir))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "token: no issuer key at %s: start go run ./deploy/devserver --auth (with the same --data-dir) first\n", auth.KeyPath(f.DataDir))
		return command.NotFound
	}
	if err != nil {
		fmt.Fprintf(stderr, "token: %v\n", err)
		return command.Failure
	}
	issuer := auth.NewIssuer(url, auth.DevAudience, key)
	tok, err := issuer.Token(workflows.Principal{Subject: f.Subject, Roles: rs, Exporter: f.Exporter, Agency: f.Agency}, f.TTL, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "token: %v\n", err)
		return command.Failure
	}
	if f.Out != "" {
		if err := writeToken(f.Out, tok); err != nil {
			fmt.Fprintf(stderr, "token: --out: %v\n", err)
			return command.Failure
		}
		fmt.Fprintf(stdout, "token for %s written to %s\n", f.Subject, f.Out)
		return command.OK
	}
	fmt.Fprintln(stdout, tok)
	return command.OK
}

// agencyProblems says what is wrong with --agency a for a token with roles rs: an agency's short
// name (the server admits the agencies its --agencies names), with only the roles an agency's
// caller holds (auth.AgencyRoles).
func agencyProblems(a string, rs []string) []string {
	if a == "" {
		return nil
	}
	if err := agency.CheckAgency(a); err != nil {
		return []string{fmt.Sprintf("--agency: %v", err)}
	}
	var problems []string
	for _, r := range rs {
		if !slices.Contains(auth.AgencyRoles, r) {
			problems = append(problems, fmt.Sprintf("--agency: --role %s makes no sense for %s: a token working for an agency is its officer's (--role %s), "+
				"its clerk's (--role %s) or its worker's (--role %s)", r, a, workflows.RoleOfficer, workflows.RoleAuditor, workflows.RoleWorker))
		}
	}
	return problems
}

// writeToken replaces path with the token in one rename, so that a reader never sees half a
// token.
func writeToken(path, tok string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.WriteString(tok + "\n"); err != nil {
		return errors.Join(err, tmp.Close())
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// serveIssuer publishes the development issuer's keys until ctx ends, creating its key under
// dataDir when missing.
func serveIssuer(ctx context.Context, f Flags, addr, url string, stdout, stderr io.Writer) int {
	var problems []string
	isURL := func(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }
	if !isURL(url) {
		problems = append(problems, fmt.Sprintf("--issuer-url: %q is not an http(s) URL", url))
	}
	if f.Backchannel != "" && !isURL(f.Backchannel) {
		problems = append(problems, fmt.Sprintf("--backchannel-url: %q is not an http(s) URL", f.Backchannel))
	}
	var web *auth.WebLogin
	if f.UICallback != "" {
		if !isURL(f.UICallback) {
			problems = append(problems, fmt.Sprintf("--ui-callback: %q is not an http(s) URL", f.UICallback))
		}
		if f.UISecret == "" {
			problems = append(problems, "--ui-client-secret: required with --ui-callback (the Web UI holds the same)")
		}
		people := auth.DevPeople(policy.DefaultRoster(), registry.Default().Exporters())
		for _, a := range agency.Agencies {
			r, err := agency.DefaultRoster(a)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			people = append(people, auth.AgencyPeople(r)...)
		}
		web = &auth.WebLogin{People: people, CallbackURL: f.UICallback, ClientSecret: f.UISecret, Backchannel: f.Backchannel}
	}
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "token: "+strings.Join(problems, "\ntoken: "))
		return command.Usage
	}
	dataDir := f.DataDir
	d, err := auth.ServeDev(dataDir, addr, url, web)
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
