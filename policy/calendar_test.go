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

// TestDueFollowsTheZonesDaylightSaving: with an IANA zone, working days begin at the office's
// midnight through the change of its clock, from the offsets Resolve recorded; the fixed offset
// the same office keeps in winter would end the allowance an hour late.
func TestDueFollowsTheZonesDaylightSaving(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Clocks go forward on Sunday 29 March 2026: Friday is CET (+01:00), Tuesday CEST (+02:00).
	friday := time.Date(2026, 3, 27, 9, 0, 0, 0, berlin)
	want := time.Date(2026, 3, 31, 9, 0, 0, 0, berlin) // 15h Friday, 24h Monday, 9h Tuesday
	cal := Calendar{Counting: CountingBusinessDays, Zone: "Europe/Berlin"}
	if errs := cal.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	resolved, err := cal.Resolve(friday)
	if err != nil {
		t.Fatal(err)
	}
	if len(resolved.Offsets) < 4 {
		t.Fatalf("offsets over two years of Berlin: %v", resolved.Offsets)
	}
	for name, c := range map[string]Calendar{"resolved": resolved, "from the database": cal} {
		if got := c.Due(friday, 48*time.Hour); !got.Equal(want) {
			t.Errorf("%s: due %s, want %s", name, got.In(berlin), want)
		}
	}
	fixed := Calendar{Counting: CountingBusinessDays, UTCOffset: "+01:00"}
	if got := fixed.Due(friday, 48*time.Hour); got.Equal(want) {
		t.Errorf("the fixed offset ends the allowance at %s too: the test does not tell DST apart", got.In(berlin))
	}
	// And back on Sunday 25 October 2026: Monday starts at 23:00 UTC, not 22:00.
	autumn := time.Date(2026, 10, 23, 12, 0, 0, 0, berlin)
	if got, want := resolved.Due(autumn, 24*time.Hour), time.Date(2026, 10, 26, 12, 0, 0, 0, berlin); !got.Equal(want) {
		t.Errorf("autumn: due %s, want %s", got.In(berlin), want)
	}
}

// TestResolvedOffsetsAreWhatTheClearanceCounts: a clearance counts with the offsets recorded
// when its policy was loaded, whatever the database of the machine that replays it says.
func TestResolvedOffsetsAreWhatTheClearanceCounts(t *testing.T) {
	start := time.Date(2026, 3, 27, 8, 0, 0, 0, time.UTC)
	recorded := Calendar{Counting: CountingBusinessDays, Zone: "Europe/Berlin",
		Offsets: []ZoneOffset{{From: start.Add(-48 * time.Hour), Seconds: 3 * 3600}}} // as if the zone were +03:00
	// Friday from 11:00 local (+03:00): 13h, then Monday 24h, Tuesday 11h: 08:00 UTC Tuesday minus 3h.
	if got, want := recorded.Due(start, 48*time.Hour), time.Date(2026, 3, 31, 8, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("due %s, want %s (counted with the recorded offset)", got, want)
	}
	if c, _ := (Calendar{UTCOffset: "+08:00"}).Resolve(start); len(c.Offsets) != 0 {
		t.Errorf("a fixed offset resolved to %v", c.Offsets)
	}
	bad := Calendar{Zone: "Mars/Olympus_Mons", UTCOffset: "+01:00"}
	errs := strings.Join(bad.Validate(), "\n")
	for _, want := range []string{`calendar.zone: "Mars/Olympus_Mons" is not a time zone of the IANA database`, "give zone or utcOffset, not both"} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in\n%s", want, errs)
		}
	}
	if _, err := bad.Resolve(start); err == nil {
		t.Error("an unknown zone resolved")
	}
}

func TestSampleByRating(t *testing.T) {
	p := Default()
	if p.SampleFor("advanced-certified") != 2 || p.SampleFor("general-credit") != 5 || p.SampleFor("") != 5 {
		t.Errorf("shipped sample rates: advanced %d, general %d, no record %d", p.SampleFor("advanced-certified"), p.SampleFor("general-credit"), p.SampleFor(""))
	}
	p.SamplePercentByRating = map[string]int{"gold": 1, "general-credit": 140}
	p.TraderTime = "pause"
	err := p.Validate()
	for _, want := range []string{`samplePercentByRating: "gold" is not a rating`, "samplePercentByRating.general-credit: 140 is not between 0 and 100",
		`traderTime: "pause" is not stop or count`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v, want %q", err, want)
		}
	}
}

func TestWorkedCountsOnlyWorkingTime(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	cal := Calendar{Counting: CountingBusinessDays, Holidays: []string{"2020-04-06"}}
	friday := time.Date(2020, 4, 3, 9, 0, 0, 0, cst)
	tuesday := time.Date(2020, 4, 7, 9, 0, 0, 0, cst)
	if got := cal.Worked(friday, tuesday); got != 24*time.Hour {
		t.Errorf("Friday 09:00 to Tuesday 09:00 over a weekend and a holiday: %s worked, want 24h", got)
	}
	if got := (Calendar{}).Worked(friday, tuesday); got != 96*time.Hour {
		t.Errorf("calendar counting: %s, want 96h", got)
	}
	if got := cal.Worked(tuesday, friday); got != 0 {
		t.Errorf("backwards: %s", got)
	}
	// Worked and Due agree: the due time of what was worked is where the walk ended.
	if due := cal.Due(friday, cal.Worked(friday, tuesday)); !due.Equal(tuesday) {
		t.Errorf("Due(Worked) = %s, want %s", due.In(cst), tuesday)
	}
}

// TestOfficeHoursCountOnlyOpeningHours: with office hours a day of allowance is one office day
// of opening hours, nights and weekends do not count, and Worked counts back in the same units.
func TestOfficeHoursCountOnlyOpeningHours(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	cal := Calendar{Counting: CountingBusinessDays, OfficeHours: &OfficeHours{Open: "09:00", Close: "17:00"}}
	if errs := cal.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	at := func(day, hour, minute int) time.Time { return time.Date(2020, 4, day, hour, minute, 0, 0, cst) }
	cases := []struct {
		name      string
		start     time.Time
		allowance time.Duration
		want      time.Time
	}{
		// Wednesday 1 April 2020 at 16:00: 1h that day, 8h Thursday, 7h Friday.
		{"two days from late afternoon", at(1, 16, 0), 48 * time.Hour, at(3, 16, 0)},
		{"half a day is half an office day", at(1, 9, 0), 12 * time.Hour, at(1, 13, 0)},
		{"lodged at night counts from the opening", at(1, 22, 0), 24 * time.Hour, at(2, 17, 0)},
		{"Friday evening to Monday", at(3, 18, 0), 3 * time.Hour, at(6, 10, 0)},
		{"before opening", at(2, 7, 30), 6 * time.Hour, at(2, 11, 0)},
	}
	for _, c := range cases {
		if got := cal.Due(c.start, c.allowance); !got.Equal(c.want) {
			t.Errorf("%s: due %s, want %s", c.name, got.In(cst), c.want)
		}
	}
	// Worked: Wednesday 16:00 to Thursday 10:00 is 2 office hours, a quarter of an office day.
	if got := cal.Worked(at(1, 16, 0), at(2, 10, 0)); got != 6*time.Hour {
		t.Errorf("worked %s, want 6h (2 office hours of 8)", got)
	}
	if due := cal.Due(at(1, 16, 0), cal.Worked(at(1, 16, 0), at(3, 11, 30))); !due.Equal(at(3, 11, 30)) {
		t.Errorf("Due(Worked) = %s", due.In(cst))
	}
	// Without office hours the same allowance runs through the night.
	if got := (Calendar{Counting: CountingBusinessDays}).Due(at(1, 16, 0), 48*time.Hour); !got.Equal(at(3, 16, 0)) || got.Equal(cal.Due(at(1, 22, 0), 48*time.Hour)) {
		t.Errorf("working days without office hours: %s", got.In(cst))
	}
}

// TestOfficeHoursFollowTheZone: opening hours are on the office's clock, so across the spring
// change they open an hour earlier in UTC.
func TestOfficeHoursFollowTheZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	hours := &OfficeHours{Open: "09:00", Close: "17:00"}
	cal, err := Calendar{Counting: CountingBusinessDays, Zone: "Europe/Berlin", OfficeHours: hours}.Resolve(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// Friday 27 March 2026 16:00 CET: 1h Friday, 7h from Monday 09:00 CEST.
	friday := time.Date(2026, 3, 27, 16, 0, 0, 0, berlin)
	want := time.Date(2026, 3, 30, 16, 0, 0, 0, berlin)
	if got := cal.Due(friday, 24*time.Hour); !got.Equal(want) || got.UTC().Hour() != 14 {
		t.Errorf("due %s (%s UTC), want %s", got.In(berlin), got.UTC(), want)
	}
	fixed := Calendar{Counting: CountingBusinessDays, UTCOffset: "+01:00", OfficeHours: hours}
	if got := fixed.Due(friday, 24*time.Hour); got.Equal(want) {
		t.Errorf("a fixed +01:00 ends at %s too: the test does not tell DST apart", got.In(berlin))
	}
}

func TestOfficeHoursValidation(t *testing.T) {
	cases := map[string]struct {
		cal  Calendar
		want string
	}{
		"not a time":     {Calendar{Counting: CountingBusinessDays, OfficeHours: &OfficeHours{Open: "9am", Close: "17:00"}}, `calendar.officeHours.open: "9am" is not a time of day`},
		"close missing":  {Calendar{Counting: CountingBusinessDays, OfficeHours: &OfficeHours{Open: "09:00"}}, `calendar.officeHours.close: "" is not a time of day`},
		"close first":    {Calendar{Counting: CountingBusinessDays, OfficeHours: &OfficeHours{Open: "17:00", Close: "09:00"}}, "calendar.officeHours: open 17:00 is not before close 09:00"},
		"calendar count": {Calendar{OfficeHours: &OfficeHours{Open: "09:00", Close: "17:00"}}, "calendar.officeHours: office hours count only with counting business-days"},
	}
	for name, c := range cases {
		errs := c.cal.Validate()
		if len(errs) != 1 || !strings.Contains(errs[0], c.want) {
			t.Errorf("%s: %v, want %q", name, errs, c.want)
		}
	}
}

// TestDueWithoutWorkingDays: a calendar with every day off never ends an allowance within the
// ten years it walks; the allowance counts on from there.
func TestDueWithoutWorkingDays(t *testing.T) {
	all := []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
	start := time.Date(2020, 4, 1, 0, 0, 0, 0, time.UTC)
	for name, cal := range map[string]Calendar{
		"whole days":   {Counting: CountingBusinessDays, Weekend: all},
		"office hours": {Counting: CountingBusinessDays, Weekend: all, OfficeHours: &OfficeHours{Open: "09:00", Close: "17:00"}},
	} {
		got := cal.Due(start, 48*time.Hour)
		if walked := got.Sub(start) - 48*time.Hour; walked < 3650*24*time.Hour-24*time.Hour || walked > 3661*24*time.Hour {
			t.Errorf("%s: due %s, want about ten years and two days on", name, got)
		}
	}
}

func TestPriorityByRating(t *testing.T) {
	p := Default()
	for _, tt := range []struct {
		rating    string
		expedited bool
		want      string
	}{
		{"advanced-certified", false, PriorityHigh}, {"discredited", false, PriorityLow}, {"general-credit", false, PriorityNormal},
		{"", false, PriorityNormal}, {"advanced-certified", true, PriorityUrgent}, {"", true, PriorityUrgent},
	} {
		if got := p.PriorityFor(tt.rating, tt.expedited); got != tt.want {
			t.Errorf("PriorityFor(%q, %v) = %q, want %q", tt.rating, tt.expedited, got, tt.want)
		}
	}
	p.PriorityByRating = map[string]string{"gold": "high", "discredited": "urgent"}
	err := p.Validate()
	if err == nil || !strings.Contains(err.Error(), `priorityByRating: "gold" is not a rating`) ||
		!strings.Contains(err.Error(), `priorityByRating.discredited: "urgent" is not high, normal or low`) {
		t.Errorf("Validate = %v", err)
	}
}
