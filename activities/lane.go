package activities

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
)

// RedLaneRefusals is the number of prior refusals from which an exporter's declarations go to
// the red lane; from one refusal they go to the yellow lane.
const RedLaneRefusals = 3

// controlledCommodity reports whether a category always goes to the red lane: ventilators (an
// export under scrutiny in 2020) and the biological products that are medicines.
func controlledCommodity(c declaration.Category) bool {
	switch c {
	case declaration.CategoryVentilator, declaration.CategoryVaccine, declaration.CategoryBloodProduct,
		declaration.CategoryMicroorganism, declaration.CategoryTissue:
		return true
	}
	return false
}

// Sampled reports whether a declaration falls in the random sample of percent per cent: the
// 32-bit FNV-1a hash of its ID, modulo 100, is below percent. The sample is as good as random
// across declarations, yet reproducible: an auditor recomputes from the ID alone why a
// declaration was sampled, and a resubmission under the same ID is not re-rolled. Replay does
// not depend on it (the activity's result is in the workflow history), but it costs nothing
// that it is deterministic too.
func Sampled(declarationID string, percent int) bool {
	h := fnv.New32a()
	h.Write([]byte(declarationID)) // a hash.Hash never returns an error
	return int(h.Sum32()%100) < percent
}

// SelectLane selects the risk lane of a declaration. Rules are applied in order and the
// strictest lane any of them asks for wins:
//
//   - commodity: a ventilator, vaccine, blood product, microorganism or tissue line goes red;
//   - biological risk: a line of risk class A or B goes red, C or D yellow;
//   - destination: a destination among the policy's HighRiskDestinations goes red;
//   - exporter history: a discredited exporter or one with RedLaneRefusals prior refusals goes
//     red, one with fewer refusals yellow, an exporter without a customs record (new) yellow;
//   - certificates: a line no certificate covers goes yellow;
//   - expedited: noted; the procedure keeps every check and changes no lane.
//
// A declaration that stays green may still be picked by the random sample (see Sampled) and sent
// to yellow: the policy's SamplePercent, or its SamplePercentByRating for the exporter's credit
// rating (trusted traders are sampled less). Reasons list every rule that fired and the rate.
func (a *Activities) SelectLane(ctx context.Context, in CheckInput) (LaneSelection, error) {
	if err := checkInput(in); err != nil {
		return LaneSelection{}, err
	}
	d := &in.Declaration
	reg, err := a.reg()
	if err != nil {
		return LaneSelection{}, err
	}
	cfg, err := a.configuration()
	if err != nil {
		return LaneSelection{}, err
	}

	sel := LaneSelection{Lane: policy.LaneGreen, Reasons: []string{}}
	raise := func(l policy.Lane, format string, args ...any) {
		if rank(l) > rank(sel.Lane) {
			sel.Lane = l
		}
		sel.Reasons = append(sel.Reasons, fmt.Sprintf("%s: ", l)+fmt.Sprintf(format, args...))
	}

	for _, l := range d.Lines {
		if controlledCommodity(l.Category) {
			raise(policy.LaneRed, "commodity: %s is a %s, a controlled commodity", label(l), l.Category)
		}
	}
	for _, l := range d.Lines {
		if !l.Biological {
			continue
		}
		switch l.RiskClass {
		case declaration.RiskA, declaration.RiskB:
			raise(policy.LaneRed, "biological: %s is of risk class %s", label(l), l.RiskClass)
		case declaration.RiskC, declaration.RiskD:
			raise(policy.LaneYellow, "biological: %s is of risk class %s", label(l), l.RiskClass)
		}
	}
	if slices.Contains(cfg.Policy.HighRiskDestinations, d.Destination) {
		raise(policy.LaneRed, "destination: %s is a high-risk destination", d.Destination)
	}

	rec, found, err := reg.ExporterRecord(ctx, d.Exporter.Code)
	if err != nil {
		return LaneSelection{}, fmt.Errorf("look up exporter %s: %w", d.Exporter.Code, err)
	}
	switch {
	case !found:
		raise(policy.LaneYellow, "exporter: %s has no customs record; a new exporter gets a documentary check", d.Exporter.Code)
	case rec.Rating == registry.RatingDiscredited:
		raise(policy.LaneRed, "exporter: %s (%s) is rated %s", rec.Code, rec.Name, rec.Rating)
	case rec.PriorRefusals >= RedLaneRefusals:
		raise(policy.LaneRed, "exporter: %s (%s) had %d of %d declarations refused", rec.Code, rec.Name,
			rec.PriorRefusals, rec.Declarations)
	case rec.PriorRefusals > 0:
		raise(policy.LaneYellow, "exporter: %s (%s) had %d of %d declarations refused", rec.Code, rec.Name,
			rec.PriorRefusals, rec.Declarations)
	}

	for _, l := range d.Lines {
		if len(certificatesCovering(d, l.ID)) == 0 {
			raise(policy.LaneYellow, "certificates: %s has no certificate", label(l))
		}
	}
	if d.IsExpedited() {
		sel.Reasons = append(sel.Reasons, "expedited: emergency procedure requested; every check is kept, only the allowances are shorter")
	}

	rating := ""
	if found {
		rating = string(rec.Rating)
	}
	sel.Rating, sel.Priority = rating, cfg.Policy.PriorityFor(rating, d.IsExpedited())
	switch _, own := cfg.Policy.PriorityByRating[rating]; {
	case d.IsExpedited():
		sel.Reasons = append(sel.Reasons, "priority: urgent: expedited procedure")
	case own && rating != "":
		sel.Reasons = append(sel.Reasons, fmt.Sprintf("priority: %s for %s exporters", sel.Priority, rating))
	}
	if sel.Lane == policy.LaneGreen {
		percent := cfg.Policy.SampleFor(rating)
		of := ""
		if _, own := cfg.Policy.SamplePercentByRating[rating]; own && rating != "" {
			of = " for " + rating + " exporters"
		}
		if Sampled(d.ID, percent) {
			sel.Lane, sel.Sampled = policy.LaneYellow, true
			sel.Reasons = append(sel.Reasons, fmt.Sprintf(
				"yellow: sample: picked by the %d%% random sample%s (FNV-1a of the declaration ID mod 100 < %d)",
				percent, of, percent))
		} else {
			sel.Reasons = append(sel.Reasons, fmt.Sprintf("green: no rule fired and the declaration is outside the %d%% random sample%s", percent, of))
		}
	}
	logger(ctx, d.ID, "").Info("lane selected", "lane", sel.Lane, "sampled", sel.Sampled, "reasons", len(sel.Reasons))
	return sel, nil
}

func rank(l policy.Lane) int {
	switch l {
	case policy.LaneYellow:
		return 1
	case policy.LaneRed:
		return 2
	}
	return 0
}
