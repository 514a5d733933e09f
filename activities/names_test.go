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
		NameVerifyCertificates, NamePlanInspection, NameIssueReleaseNotice, NameRegisterDeclaration, NameNotifyExporter}
	for _, n := range names {
		if _, ok := typ.MethodByName(n); !ok {
			t.Errorf("Activities has no method %s", n)
		}
	}
	for _, c := range checks {
		if got, ok := CheckStage(c.activity); !ok || got != c.stage || CheckActivity(c.stage) != c.activity {
			t.Errorf("%s and %s do not name each other", c.activity, c.stage)
		}
	}
	if CheckActivity("release") != "" {
		t.Error("the release has no check activity")
	}
}
