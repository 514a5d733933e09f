package sim

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/medsupply/customs/trs"
	"github.com/medsupply/customs/workflows"
)

// Headline answers the staffing question in a few numbers. It counts released clearances only:
// a refusal or a lapse ends a clearance early, and would flatter the share within the standard.
type Headline struct {
	Clearances int           `json:"clearances"`
	Released   int           `json:"released"`
	Refused    int           `json:"refused"`
	Lapsed     int           `json:"lapsed"`
	Standard   time.Duration `json:"standard"`
	// Rows are all released clearances, then the standard and the expedited procedure.
	Rows []HeadlineRow `json:"rows"`
	// Parties splits the released clearances' elapsed time by party, as the Time Release Study
	// does: customs, the exporter, each agency on the single window; TimeByParty says it in words.
	Parties     []trs.Party `json:"parties,omitempty"`
	TimeByParty string      `json:"timeByParty,omitempty"`
}

// HeadlineRow is the headline of one procedure.
type HeadlineRow struct {
	// Procedure is "all", "standard" or "expedited".
	Procedure string `json:"procedure"`
	Released  int    `json:"released"`
	// Within is the share released within the standard.
	Within float64       `json:"within"`
	Mean   time.Duration `json:"mean"`
	Median time.Duration `json:"median"`
	P90    time.Duration `json:"p90"`
	// Escalated is the share that overran at least one stage allowance.
	Escalated float64 `json:"escalated"`
}

func headline(cs []trs.Clearance, results []workflows.Result, standard time.Duration) Headline {
	h := Headline{Clearances: len(cs), Standard: standard}
	var released []trs.Clearance
	escalated := map[string]int{}
	for i, c := range cs {
		switch c.State {
		case workflows.StateReleased:
			released = append(released, c)
			if len(results[i].Escalations) > 0 {
				escalated["all"]++
				escalated[procedure(c.Expedited)]++
			}
		case workflows.StateRefused:
			h.Refused++
		case workflows.StateLapsed:
			h.Lapsed++
		}
	}
	h.Released = len(released)
	if len(released) == 0 {
		return h
	}
	r := trs.Build(released, standard, "", time.Time{})
	for _, g := range r.Groups {
		if g.Dimension == "all" {
			h.Parties, h.TimeByParty = g.Parties, g.TimeByParty()
		}
		if g.Dimension != "all" && g.Dimension != "procedure" {
			continue
		}
		h.Rows = append(h.Rows, HeadlineRow{Procedure: g.Key, Released: g.Total.Count, Within: g.WithinStandard,
			Mean: g.Total.Mean, Median: g.Total.Median, P90: g.Total.P90,
			Escalated: float64(escalated[g.Key]) / float64(g.Total.Count)})
	}
	return h
}

func procedure(expedited bool) string {
	if expedited {
		return "expedited"
	}
	return "standard"
}

// WriteHeadline prints the headline and the officers' load.
func WriteHeadline(w io.Writer, o *Outcome) error {
	h, st := o.Headline, o.Stats
	fmt.Fprintf(w, "Simulated %d clearances: %d released, %d refused, %d lapsed\n", h.Clearances, h.Released, h.Refused, h.Lapsed)
	loc := st.FirstArrival.Location()
	const layout = "2006-01-02 15:04 MST"
	fmt.Fprintf(w, "Arrivals %s to %s; the last clearance ended %s (%s simulated)\n",
		st.FirstArrival.Format(layout), st.LastArrival.In(loc).Format(layout),
		st.LastEnd.In(loc).Format(layout), trs.Human(st.LastEnd.Sub(st.FirstArrival)))
	fmt.Fprintf(w, "Officers' decisions %d (%d requests for information); exporters' answers %d accepted, %d too late, %d refused\n",
		st.Decisions, st.Requests, st.Supplies, st.LateSupplies, st.RefusedSupplies)
	fmt.Fprintf(w, "Wall time %s (%.0f clearances/s)\n\n", st.Wall.Round(time.Millisecond), float64(h.Clearances)/st.Wall.Seconds())

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "released\tn\twithin %s\tmean\tmedian\tp90\tescalated\t\n", trs.Human(h.Standard))
	for _, r := range h.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%s\t%s\t%s\t%.1f%%\t\n", r.Procedure, r.Released, 100*r.Within,
			trs.Human(r.Mean), trs.Human(r.Median), trs.Human(r.P90), 100*r.Escalated)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if h.TimeByParty != "" {
		fmt.Fprintf(w, "Time by party, released: %s\n", h.TimeByParty)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "role\tofficers\tdecisions\tutilisation\tlongest queue\t")
	for _, r := range st.Officers {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f%%\t%d\t\n", r.Role, r.Officers, r.Decisions, 100*r.Utilisation, r.MaxQueue)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Agencies) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "agency\tpermits asked\tby an officer\twithdrawn\tmean review\t")
	for _, a := range st.Agencies {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t\n", a.Agency, a.Requests, a.ByOfficer, a.Withdrawn, trs.Human(a.MeanReview))
	}
	return tw.Flush()
}
