// Package agency is the partner agencies' side of the single window: each agency (the medical
// products administration, the market regulator) works in a namespace of its own, where its
// AgencyReview workflow runs the agency's automated checks on the lines customs asks it about
// and, where they find something, waits for one of the agency's officers to grant, refuse or ask
// for more information. Customs reaches an agency through a Temporal Nexus endpoint that serves
// the service "customs-single-window": its operation "review-permit" starts the review, or
// attaches to the one already running for the same request, and answers with the agency's
// disposition when the review ends.
package agency

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/medsupply/customs/declaration"
)

// The names customs and the agencies share.
const (
	// ServiceName is the Nexus service every agency's endpoint serves.
	ServiceName = "customs-single-window"
	// OperationReview is the workflow-backed operation that starts AgencyReview.
	OperationReview = "review-permit"
	// WorkflowName is the registered name of the agency's review workflow.
	WorkflowName = "AgencyReview"
	// TaskQueue is the task queue of the agency's worker, in the agency's own namespace; the
	// agency's endpoint targets it.
	TaskQueue = "agency-review"
)

// Agencies on the single window.
const (
	// NMPA is the National Medical Products Administration: registration certificates of
	// devices and test kits (MOFCOM/GACC/NMPA announcement No. 5 of 2020).
	NMPA = "NMPA"
	// SAMR is the State Administration for Market Regulation: the white list of qualified
	// producers (the announcements that followed, e.g. non-medical masks).
	SAMR = "SAMR"
)

// Agencies lists the agencies whose automated checks the single window ships, in a fixed order.
// Another agency (a health authority where it is not a customs department) may be put on the
// single window too, under a short name of its own: it has no automated checks, and its officer
// reviews every request.
var Agencies = []string{NMPA, SAMR}

// Profile is what the single window knows of an agency.
type Profile struct {
	Code string `json:"code"`
	// Name is the agency's full name.
	Name string `json:"name"`
	// Checks says what the agency's automated checks look at.
	Checks string `json:"checks"`
	// Validity is how long a permit the agency grants is valid, at most.
	Validity time.Duration `json:"validity"`
}

// DefaultValidity is how long a permit of an agency without a profile of its own is valid.
const DefaultValidity = 90 * 24 * time.Hour

// profiles are the profiles of the agencies whose checks ship, by code.
var profiles = map[string]Profile{
	NMPA: {Code: NMPA, Name: "National Medical Products Administration",
		Checks:   "each line's NMPA medical device registration certificate: on the NMPA register, valid on the day, held by the manufacturer, for the line's product",
		Validity: 90 * 24 * time.Hour},
	SAMR: {Code: SAMR, Name: "State Administration for Market Regulation",
		Checks:   "the manufacturer on the list of qualified producers, listed on the day, for each line's product",
		Validity: 30 * 24 * time.Hour},
}

// agencyPattern is an agency's short name: upper-case letters, digits and inner dashes, as the
// policy's single window names it; its endpoint and namespace are named after it.
var agencyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9-]{0,14}[A-Z0-9]$`)

// ProfileOf returns the profile of an agency: its own for the agencies whose checks ship, and
// one without checks for another well-formed short name. It reports false for a name that is
// not an agency's.
func ProfileOf(agency string) (Profile, bool) {
	if p, ok := profiles[agency]; ok {
		return p, true
	}
	if !agencyPattern.MatchString(agency) {
		return Profile{}, false
	}
	return Profile{Code: agency, Name: agency, Checks: "none: its officer reviews every request", Validity: DefaultValidity}, true
}

// CheckAgency says why agency is not an agency's short name, or returns nil.
func CheckAgency(agency string) error {
	switch {
	case agency == "":
		return fmt.Errorf("missing")
	case !agencyPattern.MatchString(agency):
		return fmt.Errorf("%q is not an agency's short name: 2-16 upper-case letters, digits and inner dashes, such as %s or %s",
			clip(agency), NMPA, SAMR)
	}
	return nil
}

// EndpointName returns the name of the Nexus endpoint customs calls for the agency, such as
// "agency-nmpa".
func EndpointName(agency string) string { return "agency-" + strings.ToLower(agency) }

// ParseList reads a comma-separated list of agencies' short names, as the commands' --agencies
// flags take it: each an agency's short name (CheckAgency), each once; blanks between the commas
// are dropped.
func ParseList(list string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if err := CheckAgency(a); err != nil {
			return nil, err
		}
		if slices.Contains(out, a) {
			return nil, fmt.Errorf("%s is named twice", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// Namespace returns the agency's own namespace, such as "agency-nmpa".
func Namespace(agency string) string { return "agency-" + strings.ToLower(agency) }

// Disposition of a permit request.
type Disposition string

// Dispositions an agency answers with.
const (
	Granted           Disposition = "granted"
	Refused           Disposition = "refused"
	InformationNeeded Disposition = "information-needed"
)

// PermitRequest is what customs asks an agency through the single window.
type PermitRequest struct {
	Agency string `json:"agency"`
	// RequestID is unique per clearance, agency and request number; the AgencyReview workflow
	// ID derives from it, so that asking again attaches to the same review.
	RequestID string `json:"requestId"`
	// ClearanceID is the customs clearance's workflow ID.
	ClearanceID string                  `json:"clearanceId"`
	Declaration declaration.Declaration `json:"declaration"`
	// Lines are the IDs of the lines that need the agency's permit.
	Lines []string `json:"lines"`
	// Reason says why customs asks (the policy's rule).
	Reason string `json:"reason"`
}

// PermitResult is the agency's disposition, the operation's result.
type PermitResult struct {
	Agency      string      `json:"agency"`
	RequestID   string      `json:"requestId"`
	Disposition Disposition `json:"disposition"`
	// Permit is the permit number when granted; ValidUntil its end.
	Permit     string    `json:"permit,omitempty"`
	ValidUntil time.Time `json:"validUntil,omitempty"`
	// Reason says why it was refused, or what is needed.
	Reason string `json:"reason,omitempty"`
	// Requested are the documents needed (information-needed).
	Requested []string `json:"requested,omitempty"`
	// Officer is the agency officer who decided; "" when granted by the agency's rules.
	Officer string    `json:"officer,omitempty"`
	Decided time.Time `json:"decided"`
	// Findings are what the agency's automated checks found, which its officer weighed.
	Findings []Finding `json:"findings,omitempty"`
}

// Bounds of a request and of an officer's decision.
const (
	// MaxRequestIDBytes bounds a request ID; MaxClearanceIDBytes the clearance's workflow ID.
	MaxRequestIDBytes   = 200
	MaxClearanceIDBytes = 255
	// MaxPayloadBytes bounds the JSON of one decision.
	MaxPayloadBytes = 64 << 10
	// MaxReasonBytes bounds a reason; the exporter reads it.
	MaxReasonBytes = 4096
	// MaxRequested bounds the documents a request for information names, MaxRequestedBytes each.
	MaxRequested      = 20
	MaxRequestedBytes = 200
	// MaxFindings bounds the findings a review keeps: the first ones, and a last that counts the rest.
	MaxFindings = 100
)

// A request ID is letters, digits, '.', '_', '-' and '/', such as customs' own
// <clearance ID>/<agency>/<request number>.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)

// IDPrefix starts every AgencyReview's workflow ID.
const IDPrefix = "permit-review-"

// WorkflowID returns the workflow ID of the review of req: permit-review-<request ID>, each '/'
// written '~' (a request ID holds none), since the Web UI's pages of a workflow have held slashes
// in its ID badly. A request ID that is not one (Validate refuses it) gives
// permit-review-h<hash>, still a valid ID of bounded length.
func WorkflowID(req PermitRequest) string {
	if validRequestID(req.RequestID) {
		return IDPrefix + strings.ReplaceAll(req.RequestID, "/", "~")
	}
	sum := sha256.Sum256([]byte(req.RequestID))
	return IDPrefix + "h" + hex.EncodeToString(sum[:16])
}

func validRequestID(id string) bool {
	return len(id) <= MaxRequestIDBytes && requestIDPattern.MatchString(id)
}

// Validate says what is wrong with the request, naming the field and the reason, or returns nil.
func (r PermitRequest) Validate() error {
	if err := CheckAgency(r.Agency); err != nil {
		return fmt.Errorf("agency: %w", err)
	}
	switch {
	case r.RequestID == "":
		return fmt.Errorf("requestId: missing")
	case len(r.RequestID) > MaxRequestIDBytes:
		return fmt.Errorf("requestId: %d bytes is longer than the %d a request ID may hold", len(r.RequestID), MaxRequestIDBytes)
	case !requestIDPattern.MatchString(r.RequestID):
		return fmt.Errorf("requestId: %q must be letters, digits, '.', '_', '-' or '/', starting with a letter or digit", clip(r.RequestID))
	}
	if strings.TrimSpace(r.ClearanceID) == "" {
		return fmt.Errorf("clearanceId: missing")
	}
	if why := declaration.TextProblem(r.ClearanceID, MaxClearanceIDBytes, false); why != "" {
		return fmt.Errorf("clearanceId: %s", why)
	}
	if err := r.Declaration.Validate(); err != nil {
		return fmt.Errorf("declaration: %w", err)
	}
	if len(r.Lines) == 0 {
		return fmt.Errorf("lines: missing: name the lines that need the agency's permit")
	}
	if len(r.Lines) > declaration.MaxLines {
		return fmt.Errorf("lines: %d lines are more than the %d a declaration may hold", len(r.Lines), declaration.MaxLines)
	}
	for i, id := range r.Lines {
		if slices.Index(r.Lines, id) != i {
			return fmt.Errorf("lines[%d]: line %q is named twice", i, clip(id))
		}
		if !slices.ContainsFunc(r.Declaration.Lines, func(l declaration.Line) bool { return l.ID == id }) {
			return fmt.Errorf("lines[%d]: %q is not a line of declaration %s", i, clip(id), r.Declaration.ID)
		}
	}
	if strings.TrimSpace(r.Reason) == "" {
		return fmt.Errorf("reason: missing: say why customs asks (the policy's rule)")
	}
	if why := declaration.TextProblem(r.Reason, MaxReasonBytes, true); why != "" {
		return fmt.Errorf("reason: %s", why)
	}
	return nil
}

// requested returns the declaration's lines the request names, in declaration order.
func (r PermitRequest) requested() []declaration.Line {
	var out []declaration.Line
	for _, l := range r.Declaration.Lines {
		if slices.Contains(r.Lines, l.ID) {
			out = append(out, l)
		}
	}
	return out
}

// PermitNumber returns the number of the permit the agency grants on the request: the agency,
// the year of the decision and ten characters of a hash of the request ID. The same request
// always gets the same number, however often it is asked and whoever grants it.
func PermitNumber(agency, requestID string, decided time.Time) string {
	sum := sha256.Sum256([]byte(agency + "\x00" + requestID))
	return fmt.Sprintf("%s-%d-%s", agency, decided.UTC().Year(), base32.StdEncoding.EncodeToString(sum[:])[:10])
}

// clip cuts s to 200 bytes at most, at a character boundary, for a refusal or the current details.
func clip(s string) string { return declaration.Clip(s, 200) }
