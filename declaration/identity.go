package declaration

import (
	"fmt"
	"strings"
)

// ClearancePrefix starts the workflow ID of every clearance.
const ClearancePrefix = "clearance-"

// ClearanceID returns the workflow ID of the clearance of an exporter's declaration:
// clearance-<exporter code>-<declaration ID>. A declaration ID is the exporter's own reference,
// unique per exporter only, so the same reference of two exporters is two clearances.
func ClearanceID(exporterCode, declarationID string) (string, error) {
	if !isRegistrationCode(exporterCode) {
		return "", fmt.Errorf("exporter code %q must be 10 letters or digits", exporterCode)
	}
	if !idPattern.MatchString(declarationID) {
		return "", fmt.Errorf("declaration ID %q must be 1-64 letters, digits, '.', '_' or '-'", declarationID)
	}
	return ClearancePrefix + exporterCode + "-" + declarationID, nil
}

// LegacyClearanceID returns the workflow ID a clearance of the declaration had when it was
// started before workflow IDs named the exporter: clearance-<declaration ID>.
func LegacyClearanceID(declarationID string) (string, error) {
	if !idPattern.MatchString(declarationID) {
		return "", fmt.Errorf("declaration ID %q must be 1-64 letters, digits, '.', '_' or '-'", declarationID)
	}
	return ClearancePrefix + declarationID, nil
}

// IsClearanceOf reports whether id is the workflow ID of the clearance of the exporter's
// declaration, in the exporter's form or the legacy one.
func IsClearanceOf(id, exporterCode, declarationID string) bool {
	if w, err := ClearanceID(exporterCode, declarationID); err == nil && id == w {
		return true
	}
	w, err := LegacyClearanceID(declarationID)
	return err == nil && id == w
}

// DeclarationOfClearance returns the declaration ID of the clearance with workflow ID id, given
// the values of its DeclarationId and ExporterCode search attributes (either may be empty). The
// DeclarationId attribute, which every clearance started in the exporter's form carries, is the
// answer; without it the ID is read in the exporter's form when it names the exporter, else in
// the legacy one.
func DeclarationOfClearance(id, declarationID, exporterCode string) string {
	if declarationID != "" {
		return declarationID
	}
	rest := strings.TrimPrefix(id, ClearancePrefix)
	if exporterCode != "" {
		if d, ok := strings.CutPrefix(rest, exporterCode+"-"); ok && idPattern.MatchString(d) {
			return d
		}
	}
	return rest
}
