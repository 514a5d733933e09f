package activities

import (
	"context"
	"fmt"
	"strings"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// sampleSizes is ISO 2859-1's table for general inspection level II: the sample to draw from a
// lot of up to lot units.
var sampleSizes = []struct {
	lot    int64
	sample int64
}{
	{8, 2}, {15, 3}, {25, 5}, {50, 8}, {90, 13}, {150, 20}, {280, 32}, {500, 50}, {1200, 80},
	{3200, 125}, {10000, 200}, {35000, 315}, {150000, 500}, {500000, 800},
}

// SampleSize returns the number of units to draw for examination from a lot of the given
// quantity: ISO 2859-1, general inspection level II, never more than the lot.
func SampleSize(quantity int64) int64 {
	if quantity <= 0 {
		return 0
	}
	for _, s := range sampleSizes {
		if quantity <= s.lot {
			return min(s.sample, quantity)
		}
	}
	return 1250
}

// PlanInspection writes the inspection officer's order for the red lane: one
// inspect-line finding (info) per line with the sample to draw and what to examine, a
// cold-chain finding (warning) per biological line, and an inspection-order summary (info)
// naming the lines that sent the declaration to the red lane.
func (a *Activities) PlanInspection(ctx context.Context, in CheckInput) (CheckResult, error) {
	if err := checkInput(in); err != nil {
		return CheckResult{}, err
	}
	d := &in.Declaration
	var r result
	var targeted []string
	for _, l := range d.Lines {
		if controlledCommodity(l.Category) || (l.Biological && (l.RiskClass == declaration.RiskA || l.RiskClass == declaration.RiskB)) {
			targeted = append(targeted, l.ID)
		}
	}
	summary := fmt.Sprintf("physical inspection of %d line(s) before loading for %s by %s", len(d.Lines), d.Destination, d.Transport)
	if len(targeted) > 0 {
		summary += "; the lines that sent the declaration to the red lane come first: " + strings.Join(targeted, ", ")
	}
	if d.IsExpedited() {
		summary += "; expedited emergency consignment: inspect within the shortened allowance"
	}
	r.add("inspection-order", SeverityInfo, "lines", "%s", summary)

	for i, l := range d.Lines {
		n := SampleSize(l.Quantity)
		r.add("inspect-line", SeverityInfo, linePath(i),
			"%s, %d %s: count against the packing list, check HS code %s and the description; draw %d for examination "+
				"(ISO 2859-1, general inspection level II); %s",
			label(l), l.Quantity, l.Unit, l.HSCode, n, examine(d, l))
		if l.Biological {
			r.add("cold-chain", SeverityWarning, linePath(i),
				"%s is a biological product of risk class %s: check the temperature log and the cold-chain packaging, "+
					"and do not open primary containers outside a biosafety cabinet", label(l), l.RiskClass)
		}
	}
	res := r.checkResult(policy.StagePhysicalInspection, a.now())
	logger(ctx, d.ID, policy.StagePhysicalInspection).Info("inspection planned", "lines", len(d.Lines), "findings", len(res.Findings))
	return res, nil
}

// examine says what to examine on the samples of a line, naming the certificates whose marks
// the goods must carry.
func examine(d *declaration.Declaration, l declaration.Line) string {
	var marks []string
	for _, i := range certificatesCovering(d, l.ID) {
		c := d.Certificates[i]
		switch c.Scheme {
		case declaration.SchemeCE:
			if c.Issuer != "" {
				marks = append(marks, "CE "+c.Issuer)
			} else {
				marks = append(marks, "CE")
			}
		case declaration.SchemeNIOSH:
			marks = append(marks, "NIOSH "+c.Number)
		case declaration.SchemeNMPA:
			marks = append(marks, "registration "+c.Number)
		}
	}
	var what string
	switch l.Category {
	case declaration.CategoryRespirator, declaration.CategoryMedicalMask, declaration.CategoryFaceMask:
		what = "examine marking, labelling, fit of ear loops or head straps and seal; send samples for filtration testing"
	case declaration.CategoryProtectiveClothing:
		what = "examine seams, closures, size labels and the standard marked on the garment"
	case declaration.CategoryGloves:
		what = "examine for holes (water-leak test) and dimensions"
	case declaration.CategoryVentilator:
		what = "power on and run the self-test; compare serial numbers with the invoice"
	case declaration.CategoryThermometer:
		what = "check readings against a reference at two temperatures"
	case declaration.CategoryTestKit, declaration.CategoryReagent:
		what = "check lot numbers, expiry dates and storage temperature against the labels"
	default:
		what = "examine packaging, labelling and the lot numbers"
	}
	if len(marks) > 0 {
		what += "; the goods must carry " + strings.Join(marks, ", ")
	}
	return what
}
