// Package auth makes every caller of the clearance engine a verified identity: signed tokens
// (OIDC/JWT) checked by the Temporal server against the issuer's published keys, a claim mapper
// that reads the engine's claims from them, an authorizer that allows each role only its calls,
// and a frontend interceptor that writes the verified caller into every start, signal, update and
// query as the header workflows.HeaderPrincipal, where the clearance checks it and the history
// keeps it.
//
// It is the server's side and links the Temporal server: the embedded default and the project's
// server image use it; the worker and the starter do not.
package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/medsupply/customs/workflows"
)

// Claims the engine reads from a token beside the registered ones (iss, sub, aud, exp).
const (
	// ClaimRoles lists the caller's roles (workflows.RoleOfficer, ...).
	ClaimRoles = "customs_roles"
	// ClaimExporter is the customs code an exporter's token acts for.
	ClaimExporter = "customs_exporter"
	// ClaimAgency is the partner agency (agency.NMPA, ...) an agency officer's or an agency
	// worker's token works for: it admits the caller to that agency's namespace, and to no
	// other.
	ClaimAgency = "customs_agency"
)

// JWKSPath is where an Issuer publishes its public keys.
const JWKSPath = "/.well-known/jwks.json"

// Issuer signs tokens with an RSA key and publishes the public key as a JWKS. It is the identity
// provider of the embedded default and of the tests; production uses the customs service's own
// issuer, whose keys the server reads the same way.
type Issuer struct {
	// URL is the issuer's name, the tokens' iss claim.
	URL string
	// Audience is the tokens' aud claim.
	Audience string

	key *rsa.PrivateKey
	kid string
}

// NewIssuer returns an issuer signing with key.
func NewIssuer(url, audience string, key *rsa.PrivateKey) *Issuer {
	sum := sha256.Sum256(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	return &Issuer{URL: url, Audience: audience, key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:12])}
}

// GenerateKey returns a new 2048-bit RSA key.
func GenerateKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }

// LoadKey reads the PEM key at path.
func LoadKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseKey(path, b)
}

func parseKey(path string, b []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM RSA private key", path)
	}
	return x509.ParsePKCS1PrivateKey(block.Bytes)
}

// LoadOrCreateKey reads the PEM key at path, or creates it (mode 0600) when missing, so that
// tokens outlive a restart of the embedded default.
func LoadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := GenerateKey()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		out := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		return key, os.WriteFile(path, out, 0o600)
	}
	if err != nil {
		return nil, err
	}
	return parseKey(path, b)
}

// Token signs a token for p, valid for ttl from now.
func (i *Issuer) Token(p workflows.Principal, ttl time.Duration, now time.Time) (string, error) {
	if p.Subject == "" {
		return "", errors.New("token: a subject is required")
	}
	claims := jwt.MapClaims{
		"iss": i.URL, "sub": p.Subject, "aud": i.Audience,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(ttl).Unix(),
		ClaimRoles: p.Roles,
	}
	if p.Exporter != "" {
		claims[ClaimExporter] = p.Exporter
	}
	if p.Agency != "" {
		claims[ClaimAgency] = p.Agency
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = i.kid
	return t.SignedString(i.key)
}

// JWKS is the issuer's public key set, as an OIDC provider publishes it.
func (i *Issuer) JWKS() []byte {
	pub := i.key.PublicKey
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": i.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	return b
}

// Handler serves the JWKS at JWKSPath.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(i.JWKS())
	})
	return mux
}
