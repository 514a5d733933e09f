package policy

import (
	"strings"
	"testing"
	"time"
)

func TestDueCountsOnlyWorkingDays(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	// Qingming 2020: Saturday 4 April, observed on Monday 6 April.
	cal := Calendar{Counting: CountingBusinessDays, Holidays: []string{"2020-04-06"}}
	friday := time.Date(2020, 4, 3, 9, 0, 0, 0, cst)
	cases := []struct {
		name      string
		start     time.Time
		allowance time.Duration
		want      time.Time
	}{
		{"within the day", friday, 3 * time.Hour, friday.Add(3 * time.Hour)},
		{"over a weekend and a holiday", friday, 48 * time.Hour, time.Date(2020, 4, 8, 9, 0, 0, 0, cst)},
		{"starting on a weekend", time.Date(2020, 4, 4, 15, 0, 0, 0, cst), 24 * time.Hour, time.Date(2020, 4, 8, 0, 0, 0, 0, cst)},
		{"twelve working days", time.Date(2020, 4, 1, 0, 0, 0, 0, cst), 12 * 24 * time.Hour, time.Date(2020, 4, 18, 0, 0, 0, 0, cst)},
	}
	for _, c := range cases {
		if got := cal.Due(c.start, c.allowance); !got.Equal(c.want) {
			t.Errorf("%s: due %s, want %s", c.name, got.In(cst), c.want)
		}
	}
	// A make-up working Sunday counts.
	sunday := Calendar{Counting: CountingBusinessDays, Workdays: []string{"2020-04-26"}}
	if got, want := sunday.Due(time.Date(2020, 4, 25, 10, 0, 0, 0, cst), 24*time.Hour), time.Date(2020, 4, 27, 0, 0, 0, 0, cst); !got.Equal(want) {
		t.Errorf("make-up Sunday: due %s, want %s", got.In(cst), want)
	}
	// Calendar counting is plain addition, whatever the days.
	if got := (Calendar{}).Due(friday, 48*time.Hour); !got.Equal(friday.Add(48 * time.Hour)) {
		t.Errorf("calendar counting: %s", got)
	}
	// The result keeps the caller's location.
	if got := cal.Due(friday.UTC(), time.Hour); got.Location() != time.UTC {
		t.Errorf("location %s", got.Location())
	}
}

func TestCalendarValidation(t *testing.T) {
	bad := Calendar{Counting: "lunar", UTCOffset: "CST", Weekend: []string{"caturday"}, Holidays: []string{"2020-13-01"}}
	errs := strings.Join(bad.Validate(), "\n")
	for _, want := range []string{`counting: "lunar"`, `utcOffset: "CST"`, `weekend[0]: "caturday"`, `holidays[0]: "2020-13-01"`} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in\n%s", want, errs)
		}
	}
	p := Default()
	p.Calendar = bad
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "calendar.counting") {
		t.Errorf("policy accepted a bad calendar: %v", err)
	}
}
