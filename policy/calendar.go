package policy

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"
	_ "time/tzdata" // the zones, on a machine without a time zone database (a distroless image)
)

// Counting names how allowances are counted.
const (
	// CountingCalendar counts every hour of every day.
	CountingCalendar = "calendar"
	// CountingBusinessDays counts only working days: weekends and holidays stop the clock.
	CountingBusinessDays = "business-days"
)

// Calendar says how allowances are counted. The Temporal timer knows no calendar: the engine
// turns an allowance counted in working days into the instant it ends and sets the timer for it.
type Calendar struct {
	// Counting is "calendar" (default) or "business-days".
	Counting string `json:"counting,omitempty"`
	// Zone is the customs office's time zone by its IANA name, such as "Europe/Berlin", whose
	// daylight saving the calendar follows; days begin at its midnight. It takes the place of
	// UTCOffset.
	Zone string `json:"zone,omitempty"`
	// UTCOffset is the office's fixed offset from UTC, such as "+08:00" (the default, China
	// Standard Time, which keeps no daylight saving), for a calendar without Zone.
	UTCOffset string `json:"utcOffset,omitempty"`
	// Offsets are Zone's offsets from UTC over the time a clearance runs, as the time zone
	// database said when the policy was loaded (Resolve). The clearance counts with these, not
	// with the database of whichever machine replays it, so a replay computes the same due times
	// after a tzdata update.
	Offsets []ZoneOffset `json:"offsets,omitempty"`
	// Weekend lists the days off each week; default Saturday and Sunday.
	Weekend []string `json:"weekend,omitempty"`
	// Holidays are days off ("2020-05-01").
	Holidays []string `json:"holidays,omitempty"`
	// Workdays are weekend days worked instead ("2020-04-26"), as adjusted holidays require.
	Workdays []string `json:"workdays,omitempty"`
	// OfficeHours, with working-day counting, counts only the office's opening hours of each
	// working day: a day of allowance is then one office day (from open to close), so an
	// allowance of 2d started at 16:00 with hours of 09:00 to 17:00 ends at 16:00 two working
	// days later, and 12h is half an office day.
	OfficeHours *OfficeHours `json:"officeHours,omitempty"`
}

// OfficeHours are the office's opening hours on its working days, on its own clock.
type OfficeHours struct {
	// Open and Close are times of day such as "09:00" and "17:30"; Open is before Close.
	Open  string `json:"open"`
	Close string `json:"close"`
}

// span returns the office day's opening and closing as times since midnight.
func (h OfficeHours) span() (open, close time.Duration, err error) {
	var errs []string
	at := func(field, v string) time.Duration {
		t, err := time.Parse("15:04", v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("calendar.officeHours.%s: %q is not a time of day such as 09:00", field, v))
			return 0
		}
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	open, close = at("open", h.Open), at("close", h.Close)
	if len(errs) == 0 && open >= close {
		errs = append(errs, fmt.Sprintf("calendar.officeHours: open %s is not before close %s", h.Open, h.Close))
	}
	if len(errs) > 0 {
		return 0, 0, errors.New(strings.Join(errs, "; "))
	}
	return open, close, nil
}

// officeDay returns the length of an office day, or a whole day without (valid) office hours.
func (c Calendar) officeDay() time.Duration {
	if c.OfficeHours == nil {
		return 24 * time.Hour
	}
	open, close, err := c.OfficeHours.span()
	if err != nil {
		return 24 * time.Hour
	}
	return close - open
}

// scale returns d*num/den without overflow, for non-negative d and positive num and den.
func scale(d, num, den time.Duration) time.Duration {
	if d <= 0 || num == den {
		return d
	}
	hi, lo := bits.Mul64(uint64(d), uint64(num))
	if hi >= uint64(den) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(den))
	return time.Duration(min(q, math.MaxInt64))
}

// ZoneOffset is a time zone's offset from UTC from an instant on, until the next one.
type ZoneOffset struct {
	From    time.Time `json:"from"`
	Seconds int       `json:"seconds"`
}

// resolveHorizon is how far ahead Resolve records a zone's offsets: longer than a clearance runs.
const resolveHorizon = 2 * 366 * 24 * time.Hour

// Resolve returns the calendar with Zone's offsets from a day before now to two years after,
// from this machine's time zone database. A calendar without Zone is returned as it is.
func (c Calendar) Resolve(now time.Time) (Calendar, error) {
	if c.Zone == "" {
		return c, nil
	}
	loc, err := time.LoadLocation(c.Zone)
	if err != nil {
		return c, fmt.Errorf("calendar.zone: %q is not a time zone of the IANA database: %v", c.Zone, err)
	}
	c.Offsets = nil
	t, end := now.Add(-24*time.Hour).In(loc), now.Add(resolveHorizon)
	for len(c.Offsets) < 64 {
		_, off := t.Zone()
		start, next := t.ZoneBounds()
		if start.IsZero() || start.After(t) {
			start = t
		}
		c.Offsets = append(c.Offsets, ZoneOffset{From: start.UTC(), Seconds: off})
		if next.IsZero() || next.After(end) {
			break
		}
		t = next.In(loc)
	}
	return c, nil
}

// offsetAt returns the offset from UTC the office's clock shows at t.
func (c Calendar) offsetAt(t time.Time) time.Duration {
	if len(c.Offsets) > 0 {
		off := c.Offsets[0].Seconds
		for _, o := range c.Offsets {
			if o.From.After(t) {
				break
			}
			off = o.Seconds
		}
		return time.Duration(off) * time.Second
	}
	loc, err := c.zone()
	if err != nil {
		return 8 * time.Hour
	}
	_, off := t.In(loc).Zone()
	return time.Duration(off) * time.Second
}

// BusinessDays reports whether allowances are counted in working days.
func (c Calendar) BusinessDays() bool { return c.Counting == CountingBusinessDays }

// Name says how allowances are counted, for reports.
func (c Calendar) Name() string {
	if c.BusinessDays() {
		return CountingBusinessDays
	}
	return CountingCalendar
}

func (c Calendar) zone() (*time.Location, error) {
	if c.Zone != "" {
		loc, err := time.LoadLocation(c.Zone)
		if err != nil {
			return nil, fmt.Errorf("zone: %q is not a time zone of the IANA database, such as Asia/Shanghai or Europe/Berlin", c.Zone)
		}
		return loc, nil
	}
	s := c.UTCOffset
	if s == "" {
		s = "+08:00"
	}
	t, err := time.Parse("-07:00", s)
	if err != nil {
		return nil, fmt.Errorf("utcOffset: %q is not an offset such as +08:00", c.UTCOffset)
	}
	_, off := t.Zone()
	return time.FixedZone("UTC"+s, off), nil
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// Validate reports every problem in the calendar.
func (c Calendar) Validate() []string {
	var errs []string
	if c.Counting != "" && c.Counting != CountingCalendar && c.Counting != CountingBusinessDays {
		errs = append(errs, fmt.Sprintf("calendar.counting: %q is not calendar or business-days", c.Counting))
	}
	if c.Zone != "" && c.UTCOffset != "" {
		errs = append(errs, "calendar.zone: give zone or utcOffset, not both")
	}
	if _, err := c.zone(); err != nil {
		errs = append(errs, "calendar."+err.Error())
	}
	for i, d := range c.Weekend {
		if _, ok := weekdays[strings.ToLower(d)]; !ok {
			errs = append(errs, fmt.Sprintf("calendar.weekend[%d]: %q is not a day of the week", i, d))
		}
	}
	if h := c.OfficeHours; h != nil {
		if _, _, err := h.span(); err != nil {
			errs = append(errs, err.Error())
		}
		if !c.BusinessDays() {
			errs = append(errs, "calendar.officeHours: office hours count only with counting business-days")
		}
	}
	for _, list := range []struct {
		name string
		days []string
	}{{"holidays", c.Holidays}, {"workdays", c.Workdays}} {
		for i, d := range list.days {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				errs = append(errs, fmt.Sprintf("calendar.%s[%d]: %q is not a date such as 2020-05-01", list.name, i, d))
			}
		}
	}
	return errs
}

// working reports whether the day that starts at midnight day is a working day.
func (c Calendar) working(day time.Time) bool {
	date := day.Format(time.DateOnly)
	for _, w := range c.Workdays {
		if w == date {
			return true
		}
	}
	for _, h := range c.Holidays {
		if h == date {
			return false
		}
	}
	weekend := c.Weekend
	if len(weekend) == 0 {
		weekend = []string{"saturday", "sunday"}
	}
	for _, w := range weekend {
		if weekdays[strings.ToLower(w)] == day.Weekday() {
			return false
		}
	}
	return true
}

// walk calls visit with each span of time that counts, in order, from from on: the working days
// (their office hours, when the calendar has them), until visit returns false. The walk goes from
// one of the office's midnights to the next, in UTC; a day is 23 or 25 hours long where the
// office's clock changes. Ten years of days bound it whatever the holiday list says; it reports
// whether visit stopped it, and where the walk ended when it did not.
func (c Calendar) walk(from time.Time, visit func(start, end time.Time) bool) (bool, time.Time) {
	var open, close time.Duration
	hours := false
	if h := c.OfficeHours; h != nil {
		if o, cl, err := h.span(); err == nil {
			open, close, hours = o, cl, true
		}
	}
	t := from.UTC()
	for i := 0; i < 3660; i++ {
		off := c.offsetAt(t)
		local := t.Add(off)
		day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
		// toUTC turns a moment of the office's clock on this day into UTC.
		toUTC := func(l time.Time) time.Time { return l.Add(-c.offsetAt(l.Add(-off))) }
		next := toUTC(day.AddDate(0, 0, 1))
		if c.working(day) {
			start, end := t, next
			if hours {
				start, end = toUTC(day.Add(open)), toUTC(day.Add(close))
				if start.Before(t) {
					start = t
				}
			}
			if start.Before(end) && !visit(start, end) {
				return true, t
			}
		}
		t = next
	}
	return false, t
}

// Worked returns how much of the time from from to to counts: all of it in calendar time, only
// the hours of working days when counting business days. With office hours, an office day's
// opening hours count as a whole day, as Due counts them.
func (c Calendar) Worked(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	if !c.BusinessDays() {
		return to.Sub(from)
	}
	if c.Zone == "" {
		if _, err := c.zone(); err != nil {
			return to.Sub(from)
		}
	}
	var worked time.Duration
	c.walk(from, func(start, end time.Time) bool {
		if !start.Before(to) {
			return false
		}
		if end.After(to) {
			end = to
		}
		worked += end.Sub(start)
		return true
	})
	return scale(worked, 24*time.Hour, c.officeDay())
}

// Due returns when an allowance that starts at start ends. Counted in calendar time it is
// start+allowance; counted in business days, only the hours of working days count, so an
// allowance of 2d starting on a Friday morning ends on Tuesday morning. With office hours, a day
// of allowance is one office day of opening hours.
func (c Calendar) Due(start time.Time, allowance time.Duration) time.Time {
	if !c.BusinessDays() || allowance <= 0 {
		return start.Add(allowance)
	}
	if c.Zone == "" {
		if _, err := c.zone(); err != nil {
			return start.Add(allowance)
		}
	}
	left := scale(allowance, c.officeDay(), 24*time.Hour)
	var due time.Time
	stopped, end := c.walk(start, func(from, end time.Time) bool {
		if step := end.Sub(from); left > step {
			left -= step
			return true
		}
		due = from.Add(left)
		return false
	})
	if !stopped {
		// Ten years without enough working time: what is left counts on from there, whole days.
		due = end.Add(scale(left, 24*time.Hour, c.officeDay()))
	}
	return due.In(start.Location())
}
