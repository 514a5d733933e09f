package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
)

// maxFindingsShown bounds the findings the current details list; the status query has them all.
const maxFindingsShown = 10

// details is the Web UI's current-details sentence: what is awaited, from whom, and by when.
func (c *clearance) details(now time.Time) string {
	var b strings.Builder
	w := c.waiting
	// brief is what the officer weighs and how to decide, last: the Web UI shows the details
	// in full, and the decision's input is easiest found at their end.
	brief := ""
	switch c.phase {
	case PhaseStarting:
		b.WriteString("Selecting the risk lane.")
	case PhaseChecking, PhaseSupplied:
		fmt.Fprintf(&b, "Running the automated checks of the %s stage (%s lane).", c.Stage, c.Lane)
	case PhaseAmended:
		fmt.Fprintf(&b, "Amendment %d applied: running again the checks it bears on, then the %s stage's.", len(c.Amendments), c.Stage)
	case PhaseAwaitingOfficer:
		if w == nil {
			fmt.Fprintf(&b, "Awaiting a decision on **%s**.", c.Stage)
			break
		}
		fmt.Fprintf(&b, "Awaiting a decision on **%s** from a %s (%s).", c.Stage, w.Role, strings.Join(w.Officers, ", "))
		fmt.Fprintf(&b, " Allowance ends %s: %s.", w.Due.UTC().Format("2006-01-02 15:04 MST"), left(w.Due.Sub(now)))
		brief = c.weighing(w)
	case PhaseAwaitingExporter:
		if w == nil {
			fmt.Fprintf(&b, "Awaiting documents on **%s** from the exporter.", c.Stage)
			break
		}
		fmt.Fprintf(&b, "Awaiting documents on **%s** from exporter %s: %s.", c.Stage, w.Exporter, declaration.Printable(w.Reason))
		fmt.Fprintf(&b, " The declaration lapses at %s: %s.", w.Due.UTC().Format("2006-01-02 15:04 MST"), left(w.Due.Sub(now)))
		if w.ClockStopped {
			b.WriteString(" The stage's allowance stands still meanwhile: this is trader time.")
		}
	case PhaseAwaitingAgencyInformation:
		if w == nil {
			b.WriteString("Awaiting the exporter's answer to a partner agency's request for more information.")
			break
		}
		fmt.Fprintf(&b, "Awaiting the exporter's answer to %s's request for more information: %s.", strings.Join(w.Agencies, " and "),
			declaration.Printable(w.Reason))
		fmt.Fprintf(&b, " The declaration lapses at %s: %s.", w.Due.UTC().Format("2006-01-02 15:04 MST"), left(w.Due.Sub(now)))
	case PhaseAwaitingAgency:
		fmt.Fprintf(&b, "Awaiting %s through the single window: the release begins once every permit is granted.",
			strings.Join(c.permitsAwaited(), " and "))
	case PhaseDecided:
		fmt.Fprintf(&b, "Applying the decision taken on **%s**.", c.Stage)
	case PhaseRefusing:
		fmt.Fprintf(&b, "Ending refused at %s: %s.", c.Stage, declaration.Printable(c.withdrawal.Reason))
	case PhaseWithdrawing:
		b.WriteString("Withdrawing the declaration at the exporter's request.")
	case PhaseRerouting:
		fmt.Fprintf(&b, "Rerouted to the %s lane during the release: its stages come first.", c.Lane)
	case PhaseReleasing:
		b.WriteString("Release approved: issuing the release notice.")
	case PhaseEnding:
		fmt.Fprintf(&b, "Ending at %s: %s. Telling the exporter.", c.Stage, declaration.Printable(c.reason))
	case PhaseEnded:
		switch c.State {
		case StateReleased:
			number := ""
			if c.notice != nil {
				number = c.notice.Number
			}
			fmt.Fprintf(&b, "Released under notice %s.", number)
		case StateRefused:
			fmt.Fprintf(&b, "Refused at %s: %s", c.Stage, declaration.Printable(c.reason))
		case StateLapsed:
			fmt.Fprintf(&b, "Lapsed at %s: %s", c.Stage, declaration.Printable(c.reason))
		case StateWithdrawn:
			fmt.Fprintf(&b, "Withdrawn by the exporter: %s", declaration.Printable(c.reason))
		}
	}
	if p := c.awaitingConsent(); p != nil && c.phase != PhaseEnded {
		fmt.Fprintf(&b, " **Amendment %d** from the exporter awaits an officer's consent (%s): %s.", p.Version,
			UpdateDecideAmendment, declaration.Printable(clip(p.Reason, 200)))
	}
	if h, ok := c.onHold(); ok && c.phase != PhaseEnded {
		fmt.Fprintf(&b, " **On hold** by %s since %s: %s.", h.party(), h.At.UTC().Format("2006-01-02 15:04 MST"), declaration.Printable(clip(h.Reason, 200)))
	}
	if h := c.holder(); h != "" && c.phase != PhaseEnded {
		fmt.Fprintf(&b, " Held by %s since %s.", h, c.Claim.At.UTC().Format("2006-01-02 15:04 MST"))
	}
	if c.Registration != nil {
		fmt.Fprintf(&b, " Registration %s.", c.Registration.Number)
	}
	if c.SlaBreached && c.phase != PhaseEnded && len(c.Escalations) > 0 {
		e := c.Escalations[len(c.Escalations)-1]
		fmt.Fprintf(&b, " **Overdue**: %s overran its %s allowance; escalated to supervisor %s.", e.Stage, e.Allowance, e.Supervisor)
	}
	b.WriteString(brief)
	return b.String()
}

func left(d time.Duration) string {
	if d < time.Minute {
		return "the time is up"
	}
	return fmt.Sprintf("%s left", roundDuration(d))
}

func roundDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	m := (d - h*time.Hour) / time.Minute
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}

// weighing tells the officer awaited what to weigh and how to decide: each finding of the stage
// (and of earlier stages checked again since an officer approved) with its level and what it asks
// of an approval, the documents asked of the exporter and supplied, and the input of the
// decision, ready to paste into the update dialog.
func (c *clearance) weighing(w *Waiting) string {
	var b strings.Builder
	fs := c.toWeigh()
	if len(fs) == 0 {
		b.WriteString("\n\nThe automated checks found nothing to weigh.")
	} else {
		b.WriteString("\n\nTo weigh:")
	}
	blocking := false
	for i, f := range fs {
		if i == maxFindingsShown {
			fmt.Fprintf(&b, "\n- and %d more, in the status query", len(fs)-i)
			break
		}
		fmt.Fprintf(&b, "\n- %s: %s", f.Severity, declaration.Printable(clip(f.Message, MaxRequestedBytes)))
		if f.Field != "" {
			fmt.Fprintf(&b, " (`%s`)", declaration.Printable(clip(f.Field, MaxRequestedBytes)))
		}
		switch f.Severity {
		case activities.SeverityError:
			blocking = true
			b.WriteString(": approving needs a reason")
		case activities.SeverityWarning:
			b.WriteString(": weigh it before approving")
		}
	}
	for i := len(c.Decisions) - 1; i >= 0; i-- {
		if d := c.Decisions[i]; d.Stage == c.Stage && d.Outcome == OutcomeRequestInformation {
			fmt.Fprintf(&b, "\n\nAsked of the exporter by %s at %s: %s", d.Officer, d.At.UTC().Format("2006-01-02 15:04 MST"),
				declaration.Printable(clip(d.Reason, MaxRequestedBytes)))
			if len(d.Requested) > 0 {
				fmt.Fprintf(&b, " (%s)", declaration.Printable(clip(strings.Join(d.Requested, ", "), MaxRequestedBytes)))
			}
			b.WriteString(".")
			break
		}
	}
	for _, s := range c.Supplies {
		if s.Stage == c.Stage {
			fmt.Fprintf(&b, "\nSupplied by the exporter at %s: %d documents, %d certificates", s.At.UTC().Format("2006-01-02 15:04 MST"),
				s.Documents, s.Certificates)
			if s.Note != "" {
				fmt.Fprintf(&b, " (%s)", declaration.Printable(clip(s.Note, MaxRequestedBytes)))
			}
			b.WriteString(".")
		}
	}
	officer := ""
	if w != nil && len(w.Officers) > 0 {
		officer = w.Officers[0]
	}
	input := fmt.Sprintf(`{"stage":%q,"officer":%q,"outcome":"approve"}`, c.Stage, officer)
	if blocking {
		input = fmt.Sprintf(`{"stage":%q,"officer":%q,"outcome":"approve","reason":"..."}`, c.Stage, officer)
	}
	fmt.Fprintf(&b, "\n\nDecide with the update **%s**: `%s`. The outcome is approve, reject or request-information; "+
		"a reject or a request needs a reason. Signed in, leave the officer out: it is you.", UpdateDecide, input)
	return b.String()
}
