package agency

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/registry"
)

var checkedOn = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// checks runs the agency's checks of req in the SDK's activity environment over reg.
func checks(t *testing.T, agency string, reg registry.Registry, req PermitRequest) (CheckResult, error) {
	t.Helper()
	acts, err := NewActivities(agency, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	acts.Now = func() time.Time { return checkedOn }
	var s testsuite.WorkflowTestSuite
	s.SetLogger(testLogger(t))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	v, err := env.ExecuteActivity(ActivityChecks, CheckInput{Request: req, On: checkedOn})
	if err != nil {
		return CheckResult{}, err
	}
	var res CheckResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

func codes(fs []Finding) string {
	var cs []string
	for _, f := range fs {
		cs = append(cs, f.Code)
	}
	return strings.Join(cs, ",")
}

func TestNMPAChecksTheRegistrationOfEachLine(t *testing.T) {
	withCert := func(number, holder string) declaration.Declaration {
		d := withoutRegistration(testKits(t))
		d.Certificates = append(d.Certificates, declaration.Certificate{Scheme: declaration.SchemeNMPA, Number: number, Holder: holder,
			Lines: []string{"1"}, ValidFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), ValidTo: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		return d
	}
	cases := map[string]struct {
		d    declaration.Declaration
		want string
	}{
		"a registered test kit":        {testKits(t), ""},
		"its ASCII form":               {withCert("NMPA-20203400176", "Hangzhou Lianbo Biotech Co., Ltd."), ""},
		"no registration":              {withoutRegistration(testKits(t)), "no-registration"},
		"a malformed number":           {withCert("NMPA-123", "x"), "malformed-registration"},
		"a number not on the register": {withCert("国械注准20203409999", "x"), "unknown-registration"},
		// 浙械注准20152140099 lapsed on 2020-05-31; it registers a mask of another holder.
		"a lapsed registration of another product and holder": {withCert("浙械注准20152140099", "x"),
			"registration-expired,holder-mismatch,product-mismatch"},
	}
	for name, c := range cases {
		res, err := checks(t, NMPA, registry.Default(), request(t, NMPA, c.d))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := codes(res.Findings); got != c.want {
			t.Errorf("%s: findings %q, want %q (%+v)", name, got, c.want, res.Findings)
		}
		if strings.Join(res.Officers, ",") != "nmpa-gao,nmpa-tang" || res.Validity != profiles[NMPA].Validity || !res.Checked.Equal(checkedOn) {
			t.Errorf("%s: result %+v: want NMPA's permit officers, validity and the check's time", name, res)
		}
		if c.want == "" && !res.ValidUntil.Equal(time.Date(2030, 3, 17, 23, 59, 59, 0, time.UTC)) {
			t.Errorf("%s: valid until %s, want the registration's end", name, res.ValidUntil)
		}
	}
}

func TestSAMRChecksTheManufacturerOnTheList(t *testing.T) {
	masks := func(name, code string, c declaration.Category) declaration.Declaration {
		d := testKits(t)
		d.Manufacturer = declaration.Party{Name: name, Code: code, Country: "CN"}
		d.Lines[0].Category = c
		return d
	}
	cases := map[string]struct {
		d    declaration.Declaration
		want string
	}{
		"a listed producer by its code":    {masks("Another Name Co., Ltd.", "91330212MA2CK7QX4N", declaration.CategoryFaceMask), ""},
		"a listed producer by its name":    {masks("NINGBO KANGRUN MEDICAL INSTRUMENTS CO LTD", "", declaration.CategoryMedicalMask), ""},
		"a producer not on the list":       {masks("Nowhere Masks Co., Ltd.", "", declaration.CategoryFaceMask), "producer-not-listed"},
		"a delisted producer":              {masks("Wenzhou Lida Medical Supplies Co., Ltd.", "", declaration.CategoryFaceMask), "producer-delisted"},
		"a product the listing leaves out": {masks("Ningbo Kangrun Medical Instruments Co., Ltd.", "", declaration.CategoryRespirator), "category-not-listed"},
	}
	for name, c := range cases {
		res, err := checks(t, SAMR, registry.Default(), request(t, SAMR, c.d))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := codes(res.Findings); got != c.want {
			t.Errorf("%s: findings %q, want %q (%+v)", name, got, c.want, res.Findings)
		}
	}
}

func TestAnAgencyWithoutChecksAsksItsOfficer(t *testing.T) {
	roster := Roster{Agency: "HEALTH", Officers: []Officer{{ID: "health-wu", Name: "Wu Ping", Roles: []string{RolePermitOfficer}}}}
	acts, err := NewActivities("HEALTH", registry.Default(), &roster)
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(testLogger(t))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	v, err := env.ExecuteActivity(ActivityChecks, CheckInput{Request: request(t, "HEALTH", testKits(t)), On: checkedOn})
	if err != nil {
		t.Fatal(err)
	}
	var res CheckResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if codes(res.Findings) != "officer-review" || strings.Join(res.Officers, ",") != "health-wu" || res.Validity != DefaultValidity {
		t.Fatalf("result %+v: want officer-review for health-wu", res)
	}
}

func TestChecksRefuseARequestOfAnotherAgency(t *testing.T) {
	_, err := checks(t, NMPA, registry.Default(), request(t, SAMR, testKits(t)))
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrInvalidRequest || !app.NonRetryable() || !strings.Contains(err.Error(), "SAMR's request reached NMPA's checks") {
		t.Fatalf("%v: want a non-retryable %s", err, ErrInvalidRequest)
	}
}

// awayRegistry is a registry that cannot be reached.
type awayRegistry struct{ registry.Registry }

func (awayRegistry) NMPARegistration(context.Context, string) (registry.NMPARegistration, bool, error) {
	return registry.NMPARegistration{}, false, errors.New("connection refused")
}

func TestChecksRetryWhileTheRegistryIsAway(t *testing.T) {
	_, err := checks(t, NMPA, awayRegistry{registry.Default()}, request(t, NMPA, testKits(t)))
	var app *temporal.ApplicationError
	if err == nil || !errors.As(err, &app) || app.NonRetryable() || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("%v: want a retryable failure naming the registry's error", err)
	}
}

func TestFindingsAreBounded(t *testing.T) {
	fs := make([]Finding, 3*MaxFindings)
	got := boundFindings(fs)
	if len(got) != MaxFindings || got[MaxFindings-1].Code != "more-findings" || !strings.Contains(got[MaxFindings-1].Message, "201 more") {
		t.Fatalf("%d findings bounded to %d, last %+v", len(fs), len(got), got[len(got)-1])
	}
}

func TestNewActivitiesRefusesWhatCannotWork(t *testing.T) {
	samr, err := DefaultRoster(SAMR)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		agency string
		reg    registry.Registry
		roster *Roster
		want   string
	}{
		"a bad agency":                {"nmpa", registry.Default(), nil, "agency: \"nmpa\" is not an agency's short name"},
		"no registry":                 {NMPA, nil, nil, "no registry"},
		"no built-in roster":          {"HEALTH", registry.Default(), nil, "HEALTH has no built-in roster"},
		"another agency's roster":     {NMPA, registry.Default(), &samr, "the roster is SAMR's, not NMPA's"},
		"a roster without an officer": {NMPA, registry.Default(), &Roster{Agency: NMPA}, "no permit-officer"},
	} {
		if _, err := NewActivities(c.agency, c.reg, c.roster); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}
