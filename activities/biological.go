package activities

import (
	"context"
	"fmt"
	"strings"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// PrescreenBiological prepares the health-quarantine officer's review of the biological lines.
// Errors: missing-risk-assessment (a line of risk class A or B without an expert risk
// assessment covering it) and missing-biosafety-approval (class A without a biosafety
// approval). Warning: class-a-by-air (a class A line declared for air transport, which the
// dangerous-goods rules confine to cargo aircraft). Info: biological-line, one per line,
// summarising what the officer reviews; no-biological-lines when there is none.
func (a *Activities) PrescreenBiological(ctx context.Context, in CheckInput) (CheckResult, error) {
	if err := checkInput(in); err != nil {
		return CheckResult{}, err
	}
	d := &in.Declaration
	var r result
	n := 0
	for i, l := range d.Lines {
		if !l.Biological {
			continue
		}
		n++
		var have []string
		if l.RiskClass == declaration.RiskA || l.RiskClass == declaration.RiskB {
			if docs := covering(d, declaration.DocRiskAssessment, l.ID); len(docs) == 0 {
				r.add("missing-risk-assessment", SeverityError, linePath(i),
					"%s is of risk class %s and needs an expert risk assessment; none covers it", label(l), l.RiskClass)
			} else {
				have = append(have, "risk assessment "+references(d, docs))
			}
		}
		if l.RiskClass == declaration.RiskA {
			if docs := covering(d, declaration.DocBiosafetyApproval, l.ID); len(docs) == 0 {
				r.add("missing-biosafety-approval", SeverityError, linePath(i),
					"%s is of risk class A and needs a biosafety approval; none covers it", label(l))
			} else {
				have = append(have, "biosafety approval "+references(d, docs))
			}
			if d.Transport == declaration.TransportAir {
				r.add("class-a-by-air", SeverityWarning, "transport",
					"%s is of risk class A and goes by air: confirm cargo-aircraft-only booking and UN 2814/2900 packaging", label(l))
			}
		}
		msg := fmt.Sprintf("%s: %s, risk class %s, %d %s; review the origin of the biological material, "+
			"inactivation or containment, packaging, labelling and the receiving facility", label(l), l.Category,
			l.RiskClass, l.Quantity, l.Unit)
		if len(have) > 0 {
			msg += "; on file: " + strings.Join(have, ", ")
		}
		r.add("biological-line", SeverityInfo, linePath(i), "%s", msg)
	}
	if n == 0 {
		r.add("no-biological-lines", SeverityInfo, "lines", "no line is a biological product; there is nothing to review")
	}
	res := r.checkResult(policy.StageBiologicalReview, a.now())
	logger(ctx, d.ID, policy.StageBiologicalReview).Info("biological products pre-screened",
		"lines", n, "findings", len(res.Findings), "worst", res.Worst())
	return res, nil
}

// references lists the references of the documents at the given indexes.
func references(d *declaration.Declaration, idx []int) string {
	refs := make([]string, len(idx))
	for k, j := range idx {
		refs[k] = d.Documents[j].Reference
	}
	return strings.Join(refs, ", ")
}
