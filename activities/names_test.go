package activities

import (
	"reflect"
	"testing"
)

// The names histories are read by are the names of the methods the worker registers: renaming a
// method without its name fails here.
func TestActivityNamesAreTheMethods(t *testing.T) {
	typ := reflect.TypeOf(&Activities{})
	names := []string{NameLoadConfiguration, NameSelectLane, NameCheckDocuments, NamePrescreenBiological,
		NameVerifyCertificates, NamePlanInspection, NameIssueReleaseNotice, NameNotifyExporter}
	for _, n := range names {
		if _, ok := typ.MethodByName(n); !ok {
			t.Errorf("Activities has no method %s", n)
		}
	}
	if len(checkStages) != 4 {
		t.Errorf("%d check activities, want one per stage with automated checks", len(checkStages))
	}
}
