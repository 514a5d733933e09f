package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"go.temporal.io/server/common/authorization"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/workflows"
)

// ClaimMapper verifies a caller's bearer token against the issuer's keys and maps it to the
// server's claims: the subject, and the verified Principal as the claims' extension. A token
// that does not verify maps to claims the Authorizer refuses with the reason (expired, another
// issuer, not signed), so that the caller learns what to do; the server would otherwise answer
// a bare "Request unauthorized".
type ClaimMapper struct {
	// Keys are the issuer's public keys: authorization.NewDefaultTokenKeyProvider reads them
	// from the issuer's JWKS and refreshes them.
	Keys authorization.TokenKeyProvider
	// Issuer and Audience are the iss and aud a token must carry.
	Issuer, Audience string
	// Now is the clock tokens are checked against; nil means time.Now.
	Now func() time.Time
	// WorkerCertificates name the client certificates that sign a worker in without a token, by
	// common name: an exact name, or a prefix followed by "*". The frontend's TLS verifies the
	// certificate against its client CAs (requireClientAuth); only a verified one reaches here.
	// Such a worker is customs': an agency's worker signs in with a token naming its agency.
	WorkerCertificates []string
	// Agencies are the partner agencies whose officers and workers the server admits, by the
	// token's ClaimAgency; nil means agency.Agencies, the agencies whose checks ship.
	Agencies []string
}

// Identity is the claims' extension: the verified caller, or why there is none.
type Identity struct {
	Principal workflows.Principal
	// Refused says why the token did not verify; empty when it did.
	Refused string
}

var _ authorization.ClaimMapper = (*ClaimMapper)(nil)

// AuthInfoRequired says that a call without a token gets no claims at all.
func (m *ClaimMapper) AuthInfoRequired() bool { return true }

// GetClaims verifies the token in authInfo, or without one a worker's client certificate.
func (m *ClaimMapper) GetClaims(authInfo *authorization.AuthInfo) (*authorization.Claims, error) {
	if authInfo.AuthToken == "" && authInfo.TLSSubject != nil {
		cn := authInfo.TLSSubject.CommonName
		if !m.workerCertificate(cn) {
			return &authorization.Claims{Extensions: Identity{Refused: fmt.Sprintf(
				"the client certificate %q names no worker this server admits, and there is no token", cn)}}, nil
		}
		p := workflows.Principal{Subject: cn, Roles: []string{workflows.RoleWorker}}
		return &authorization.Claims{Subject: cn, Extensions: Identity{Principal: p}}, nil
	}
	p, err := m.verify(authInfo.AuthToken)
	if err != nil {
		return &authorization.Claims{Extensions: Identity{Refused: err.Error()}}, nil
	}
	return &authorization.Claims{Subject: p.Subject, Extensions: Identity{Principal: p}}, nil
}

func (m *ClaimMapper) workerCertificate(cn string) bool {
	if cn == "" {
		return false
	}
	for _, name := range m.WorkerCertificates {
		if prefix, wild := strings.CutSuffix(name, "*"); (wild && strings.HasPrefix(cn, prefix)) || (!wild && cn == name) {
			return true
		}
	}
	return false
}

func (m *ClaimMapper) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// verify checks a bearer token's signature, issuer, audience and lifetime, and reads its claims.
func (m *ClaimMapper) verify(header string) (workflows.Principal, error) {
	var p workflows.Principal
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || strings.TrimSpace(raw) == "" {
		return p, errors.New("the authorization header holds no bearer token")
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Name, jwt.SigningMethodES256.Name}), jwt.WithoutClaimsValidation())
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		switch t.Method.Alg() {
		case jwt.SigningMethodRS256.Name:
			return m.Keys.RsaKey(t.Method.Alg(), kid)
		case jwt.SigningMethodES256.Name:
			return m.Keys.EcdsaKey(t.Method.Alg(), kid)
		}
		return nil, fmt.Errorf("signing method %s is not accepted", t.Method.Alg())
	})
	if err != nil {
		return p, fmt.Errorf("the token does not verify: %v", err)
	}
	now := m.now().Unix()
	if !claims.VerifyIssuer(m.Issuer, true) {
		return p, fmt.Errorf("the token is from issuer %q, not %q", claims["iss"], m.Issuer)
	}
	if !claims.VerifyAudience(m.Audience, true) {
		return p, fmt.Errorf("the token is not for audience %q", m.Audience)
	}
	if _, ok := claims["exp"]; !ok {
		return p, errors.New("the token has no expiry")
	}
	if !claims.VerifyExpiresAt(now, true) {
		return p, errors.New("the token has expired: log in again")
	}
	if !claims.VerifyNotBefore(now, false) {
		return p, errors.New("the token is not valid yet")
	}
	p.Subject, _ = claims["sub"].(string)
	if p.Subject == "" {
		return p, errors.New("the token has no subject")
	}
	if err := m.readClaims(claims, &p); err != nil {
		return p, err
	}
	return p, nil
}

// Roles lists the roles a token may grant.
var Roles = []string{workflows.RoleOfficer, workflows.RoleSupervisor, workflows.RoleExporter, workflows.RoleAuditor,
	workflows.RoleWorker, workflows.RoleAdmin}

// AgencyRoles are the roles a token with ClaimAgency may grant: an agency's officer (who decides
// what the roster allows), auditor (a clerk, who reads the agency's reviews and decides nothing)
// and worker. Supervision, exporting and administration are customs' and the cluster's.
var AgencyRoles = []string{workflows.RoleOfficer, workflows.RoleAuditor, workflows.RoleWorker}

// readClaims reads the engine's claims into p: the roles, the exporter and the agency. A claim
// of the wrong type, a role the engine does not know, an agency the server does not admit, or
// an agency's token with a role or an exporter that is not an agency's, is refused naming the
// claim. Other claims (email, scope, an identity provider's own) are not the engine's and are
// left alone.
func (m *ClaimMapper) readClaims(claims jwt.MapClaims, p *workflows.Principal) error {
	switch roles := claims[ClaimRoles].(type) {
	case nil:
	case []any:
		for i, r := range roles {
			s, ok := r.(string)
			if !ok {
				return fmt.Errorf("the token's claim %s[%d] is %s, not a role's name", ClaimRoles, i, kind(r))
			}
			if !slices.Contains(Roles, s) {
				return fmt.Errorf("the token's claim %s[%d]: %q is not a role (%s)", ClaimRoles, i, clipClaim(s), strings.Join(Roles, ", "))
			}
			p.Roles = append(p.Roles, s)
		}
	default:
		return fmt.Errorf("the token's claim %s is %s, not a list of roles", ClaimRoles, kind(roles))
	}
	if v, ok := claims[ClaimExporter]; ok {
		if p.Exporter, ok = v.(string); !ok {
			return fmt.Errorf("the token's claim %s is %s, not a customs code", ClaimExporter, kind(v))
		}
	}
	v, ok := claims[ClaimAgency]
	if !ok {
		return nil
	}
	agencies := m.Agencies
	if agencies == nil {
		agencies = agency.Agencies
	}
	if p.Agency, ok = v.(string); !ok {
		return fmt.Errorf("the token's claim %s is %s, not an agency's name", ClaimAgency, kind(v))
	}
	if !slices.Contains(agencies, p.Agency) {
		return fmt.Errorf("the token's claim %s: %q is not an agency on this server's single window (%s)",
			ClaimAgency, clipClaim(p.Agency), strings.Join(agencies, ", "))
	}
	if p.Exporter != "" {
		return fmt.Errorf("the token's claim %s: a caller working for agency %s acts for no exporter", ClaimExporter, p.Agency)
	}
	for i, r := range p.Roles {
		if !slices.Contains(AgencyRoles, r) {
			return fmt.Errorf("the token's claim %s[%d]: %q is not a role of a caller working for agency %s (%s)",
				ClaimRoles, i, r, p.Agency, strings.Join(AgencyRoles, ", "))
		}
	}
	return nil
}

// kind names the JSON type of a claim's value, for a refusal.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// clipClaim cuts a claim's value to 64 bytes for a refusal.
func clipClaim(s string) string {
	if len(s) <= 64 {
		return s
	}
	return strings.ToValidUTF8(s[:64], "") + "..."
}

// Readers are the roles that read every clearance: the staff.
var Readers = []string{workflows.RoleOfficer, workflows.RoleSupervisor, workflows.RoleAuditor, workflows.RoleAdmin}

// HTTPAuthorizer decides an HTTP request of one of the engine's own services (the codec server)
// by the caller's bearer token, as the Temporal server decides a call: verified by m, not
// revoked, and holding one of roles. It returns 0 to allow, or the status and the reason.
func HTTPAuthorizer(m *ClaimMapper, revoked *Revocations, roles ...string) func(r *http.Request) (int, string) {
	return func(r *http.Request) (int, string) {
		p, err := m.verify(r.Header.Get("Authorization"))
		if err != nil {
			return http.StatusUnauthorized, err.Error()
		}
		if gone, err := revoked.Revoked(p.Subject); gone || err != nil {
			return http.StatusForbidden, p.Subject + " is revoked: the token is no longer accepted"
		}
		if !slices.ContainsFunc(roles, p.Has) {
			return http.StatusForbidden, fmt.Sprintf("%s (%s) may not use this service: it is for %s", p.Subject, strings.Join(p.Roles, ", "), strings.Join(roles, ", "))
		}
		return 0, ""
	}
}
