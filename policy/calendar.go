package policy

import (
	"fmt"
	"strings"
	"time"
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
	// UTCOffset is the customs office's fixed offset from UTC, such as "+08:00" (the default,
	// China Standard Time, which keeps no daylight saving); days begin at its midnight.
	UTCOffset string `json:"utcOffset,omitempty"`
	// Weekend lists the days off each week; default Saturday and Sunday.
	Weekend []string `json:"weekend,omitempty"`
	// Holidays are days off ("2020-05-01").
	Holidays []string `json:"holidays,omitempty"`
	// Workdays are weekend days worked instead ("2020-04-26"), as adjusted holidays require.
	Workdays []string `json:"workdays,omitempty"`
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
	if _, err := c.zone(); err != nil {
		errs = append(errs, "calendar."+err.Error())
	}
	for i, d := range c.Weekend {
		if _, ok := weekdays[strings.ToLower(d)]; !ok {
			errs = append(errs, fmt.Sprintf("calendar.weekend[%d]: %q is not a day of the week", i, d))
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

// Due returns when an allowance that starts at start ends. Counted in calendar time it is
// start+allowance; counted in business days, only the hours of working days count, so an
// allowance of 2d starting on a Friday morning ends on Tuesday morning.
func (c Calendar) Due(start time.Time, allowance time.Duration) time.Time {
	if !c.BusinessDays() || allowance <= 0 {
		return start.Add(allowance)
	}
	loc, err := c.zone()
	if err != nil {
		return start.Add(allowance)
	}
	t := start.In(loc)
	left := allowance
	// Ten years of days bounds the walk whatever the holiday list says.
	for i := 0; i < 3660; i++ {
		midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		next := midnight.AddDate(0, 0, 1)
		if c.working(midnight) {
			if step := next.Sub(t); left <= step {
				return t.Add(left).In(start.Location())
			} else {
				left -= step
			}
		}
		t = next
	}
	return t.Add(left).In(start.Location())
}
