package activities

import (
	"context"
	"fmt"
	"slices"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// CheckDocuments checks that the declaration is complete and consistent. Errors (an officer
// must request information, refuse, or approve taking responsibility):
//
//   - missing-document: no commercial invoice, no packing list, a line on neither, or no
//     contract when the goods value in a currency is above its contract threshold;
//   - invoice-amount-missing, invoice-currency-mismatch, invoice-total-mismatch: an invoice
//     without amount, covering a line in another currency, or whose amount is not the sum of
//     the values of the lines it covers;
//   - missing-quality-declaration: a line the Chinese export rules cover (announcement No. 5 of
//     2020 from 1 April 2020; non-medical masks from 26 April 2020; the day is in.On) without the
//     manufacturer's quality declaration;
//   - missing-registration-certificate: a line under announcement No. 5 without its
//     registration certificate attached.
//
// Warnings: hs-code-category-mismatch, an HS code implausible for the line's category (6307.90
// for masks, 3822 or 3002 for test kits and biologicals, ...). Info: no-contract-threshold, a
// currency without a contract threshold.
func (a *Activities) CheckDocuments(ctx context.Context, in CheckInput) (CheckResult, error) {
	if err := checkInput(in); err != nil {
		return CheckResult{}, err
	}
	d := &in.Declaration
	var r result

	for _, t := range []declaration.DocumentType{declaration.DocCommercialInvoice, declaration.DocPackingList} {
		if !hasDocument(d, t) {
			r.add("missing-document", SeverityError, "documents", "no %s is attached", documentTitle(t))
			continue
		}
		for i, l := range d.Lines {
			if len(covering(d, t, l.ID)) == 0 {
				r.add("missing-document", SeverityError, linePath(i), "%s is on no %s", label(l), documentTitle(t))
			}
		}
	}
	a.checkInvoices(d, &r)
	a.checkContract(d, &r)

	for i, l := range d.Lines {
		rule := chinaRuleFor(l, in.On)
		if rule == chinaNone {
			continue
		}
		if len(covering(d, declaration.DocQualityDeclaration, l.ID)) == 0 {
			r.add("missing-quality-declaration", SeverityError, linePath(i),
				"%s: the manufacturer's quality declaration required by %s is missing", label(l), rule)
		}
		if rule == chinaNMPA && len(covering(d, declaration.DocRegistrationCertificate, l.ID)) == 0 {
			r.add("missing-registration-certificate", SeverityError, linePath(i),
				"%s: the NMPA registration certificate required by %s is not attached", label(l), rule)
		}
	}

	for i, l := range d.Lines {
		if ok, heads := plausibleHS(l); !ok {
			r.add("hs-code-category-mismatch", SeverityWarning, linePath(i)+".hsCode",
				"%s: HS code %s is unusual for %s, which is normally classified under %s", label(l), l.HSCode,
				l.Category, formatHeadings(heads))
		}
	}

	res := r.checkResult(policy.StageDocumentCheck, a.now())
	logger(ctx, d.ID, policy.StageDocumentCheck).Info("documents checked", "findings", len(res.Findings), "worst", res.Worst())
	return res, nil
}

// checkInvoices checks each commercial invoice's amount against the lines it covers.
func (a *Activities) checkInvoices(d *declaration.Declaration, r *result) {
	for j, doc := range d.Documents {
		if doc.Type != declaration.DocCommercialInvoice {
			continue
		}
		path := fmt.Sprintf("documents[%d]", j)
		if doc.Amount == 0 || doc.Currency == "" {
			r.add("invoice-amount-missing", SeverityError, path+".amount",
				"commercial invoice %s states no amount and currency to check against the lines", doc.Reference)
			continue
		}
		var sum int64
		consistent := true
		for i, l := range d.Lines {
			if len(doc.Lines) > 0 && !slices.Contains(doc.Lines, l.ID) {
				continue
			}
			if l.Currency != doc.Currency {
				consistent = false
				r.add("invoice-currency-mismatch", SeverityError, linePath(i)+".currency",
					"%s is valued in %s but commercial invoice %s is in %s", label(l), l.Currency, doc.Reference, doc.Currency)
				continue
			}
			sum += l.Value
		}
		if consistent && sum != doc.Amount {
			r.add("invoice-total-mismatch", SeverityError, path+".amount",
				"commercial invoice %s states %s but the lines it covers add up to %s", doc.Reference,
				declaration.FormatMoney(doc.Amount, doc.Currency), declaration.FormatMoney(sum, doc.Currency))
		}
	}
}

// checkContract asks for a contract when the goods value in a currency is above its threshold.
func (a *Activities) checkContract(d *declaration.Declaration, r *result) {
	thresholds := a.ContractThresholds
	if thresholds == nil {
		thresholds = DefaultContractThresholds
	}
	var currencies []string
	totals := map[string]int64{}
	for _, l := range d.Lines {
		if _, seen := totals[l.Currency]; !seen {
			currencies = append(currencies, l.Currency)
		}
		totals[l.Currency] += l.Value
	}
	for _, c := range currencies {
		limit, ok := thresholds[c]
		switch {
		case !ok:
			r.add("no-contract-threshold", SeverityInfo, "lines",
				"no contract threshold is set for %s; the goods value is %s", c, declaration.FormatMoney(totals[c], c))
		case totals[c] > limit && !hasDocument(d, declaration.DocContract):
			r.add("missing-document", SeverityError, "documents",
				"no contract is attached: the goods value of %s is above the threshold of %s", declaration.FormatMoney(totals[c], c), declaration.FormatMoney(limit, c))
		}
	}
}
