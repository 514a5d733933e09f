package codec

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// ServerOptions configure the codec HTTP server.
type ServerOptions struct {
	// Origins lists the browser origins allowed to call the server (the Web UI's, such as
	// http://localhost:8233). Requests from other origins get no CORS headers, so browsers
	// refuse them.
	Origins []string
	// Token, when set, is required as "Authorization: Bearer <token>" on every encode and
	// decode request (the temporal CLI sends it with --codec-auth).
	Token string
	// Authorize, when set, decides each encode and decode request from its caller's token (the
	// Web UI passes the signed-in user's): it returns 0 to allow, or the HTTP status and the
	// reason of a refusal.
	Authorize func(r *http.Request) (status int, reason string)
}

// NewHandler returns the codec server: POST /encode and POST /decode as the Web UI and the
// temporal CLI expect, with CORS limited to the given origins and the bearer-token check.
func NewHandler(c *Codec, opts ServerOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && contains(opts.Origins, origin)
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			if !allowed {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if origin != "" && !allowed {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		if opts.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(opts.Token)) != 1 {
				http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
				return
			}
		}
		if opts.Authorize != nil {
			if status, reason := opts.Authorize(r); status != 0 {
				http.Error(w, reason, status)
				return
			}
		}
		inner.ServeHTTP(w, r)
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if strings.EqualFold(strings.TrimRight(y, "/"), x) {
			return true
		}
	}
	return false
}
