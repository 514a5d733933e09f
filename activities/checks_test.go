package activities

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
)

func TestSelectLaneRules(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		change func(*declaration.Declaration, *policy.Policy)
		lane   policy.Lane
		reason string
	}{
		{"high-risk destination", "us-nasal-cannulas-anaesthesia-masks.json",
			func(_ *declaration.Declaration, p *policy.Policy) { p.HighRiskDestinations = []string{"KP", "US"} },
			policy.LaneRed, "red: destination: US"},
		{"discredited exporter", "us-nasal-cannulas-anaesthesia-masks.json",
			func(d *declaration.Declaration, _ *policy.Policy) { d.Exporter.Code = "4419960888" },
			policy.LaneRed, "is rated discredited"},
		{"new exporter", "us-nasal-cannulas-anaesthesia-masks.json",
			func(d *declaration.Declaration, _ *policy.Policy) { d.Exporter.Code = "3302969999" },
			policy.LaneYellow, "3302969999 has no customs record"},
		{"line without certificate", "us-nasal-cannulas-anaesthesia-masks.json",
			func(d *declaration.Declaration, _ *policy.Policy) {
				d.Certificates[0].Lines = []string{"1"}
				d.Certificates = d.Certificates[:2]
			},
			policy.LaneYellow, "certificates: line 2"},
		{"blood product", "de-antibody-test-kits.json",
			func(d *declaration.Declaration, _ *policy.Policy) {
				d.Lines[0].Category, d.Lines[0].RiskClass = declaration.CategoryBloodProduct, declaration.RiskC
			},
			policy.LaneRed, "blood-product, a controlled commodity"},
		{"risk class A", "de-antibody-test-kits.json",
			func(d *declaration.Declaration, _ *policy.Policy) { d.Lines[0].RiskClass = declaration.RiskA },
			policy.LaneRed, "risk class A"},
		{"expedited keeps the lane", "nl-examination-gloves-self-declared.json",
			func(d *declaration.Declaration, _ *policy.Policy) {
				d.Expedited = &declaration.Expedited{Justification: "Hospitals in Rotterdam run out of gloves this week."}
			},
			policy.LaneGreen, "expedited: emergency procedure requested"},
		{"everyone sampled", "nl-examination-gloves-self-declared.json",
			func(_ *declaration.Declaration, p *policy.Policy) {
				p.SamplePercent, p.SamplePercentByRating = 100, nil
			},
			policy.LaneYellow, "picked by the 100% random sample"},
		{"a trusted trader sampled at its rating's rate", "nl-examination-gloves-self-declared.json",
			func(_ *declaration.Declaration, p *policy.Policy) {
				p.SamplePercent, p.SamplePercentByRating = 100, map[string]int{"advanced-certified": 0}
			},
			policy.LaneGreen, "outside the 0% random sample for advanced-certified exporters"},
		{"a general-credit exporter sampled at its rating's rate", "it-ffp2-respirators.json",
			func(_ *declaration.Declaration, p *policy.Policy) {
				p.SamplePercent, p.SamplePercentByRating = 0, map[string]int{"general-credit": 100, "advanced-certified": 0}
			},
			policy.LaneYellow, "picked by the 100% random sample for general-credit exporters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := example(t, tt.file)
			p := policy.Default()
			p.SamplePercent = 0
			tt.change(&d, &p)
			a := newActivities(t)
			a.Config = StaticConfig(Configuration{Policy: p, Roster: policy.DefaultRoster()})
			sel := selectLane(t, a, input(d))
			if sel.Lane != tt.lane {
				t.Errorf("lane = %s, want %s; reasons %q", sel.Lane, tt.lane, sel.Reasons)
			}
			if !strings.Contains(strings.Join(sel.Reasons, "\n"), tt.reason) {
				t.Errorf("reasons %q do not mention %q", sel.Reasons, tt.reason)
			}
		})
	}
}

func TestSampled(t *testing.T) {
	// Reproducible: the same ID always gives the same answer, and 0 and 100 are exact.
	for i := range 200 {
		id := fmt.Sprintf("NB-2020-%06d", i)
		first, second := Sampled(id, 5), Sampled(id, 5)
		if first != second || Sampled(id, 0) || !Sampled(id, 100) {
			t.Fatalf("Sampled(%s) is not stable or ignores the bounds", id)
		}
	}
	// About the asked share of declarations.
	n := 0
	for i := range 20000 {
		if Sampled(fmt.Sprintf("NB-2020-%06d", i), 5) {
			n++
		}
	}
	if n < 800 || n > 1200 {
		t.Errorf("5%% sample picked %d of 20000", n)
	}

	// A green declaration whose ID falls in the sample goes yellow, with the reason. Its exporter
	// is advanced-certified, sampled at the shipped policy's 2%.
	d := example(t, "nl-examination-gloves-self-declared.json")
	for i := 0; ; i++ {
		d.ID = fmt.Sprintf("LC-2020-NL-%04d", i)
		if Sampled(d.ID, policy.Default().SampleFor("advanced-certified")) {
			break
		}
	}
	a := newActivities(t)
	a.Config = nil // the shipped policy
	sel := selectLane(t, a, input(d))
	if sel.Lane != policy.LaneYellow || !sel.Sampled {
		t.Errorf("sampled declaration %s: %+v", d.ID, sel)
	}
}

func TestCheckDocuments(t *testing.T) {
	a := newActivities(t)

	t.Run("missing quality declaration", func(t *testing.T) {
		res := mustCheck(t, a, a.CheckDocuments, input(example(t, "missing-documents-quality-declaration-thermometers.json")))
		wantFinding(t, res, "missing-quality-declaration", SeverityError, "lines[0]", "announcement No. 5")
		if len(res.Findings) != 1 {
			t.Errorf("findings %v, want only the missing declaration", codes(res))
		}
	})
	t.Run("announcement No. 5 not yet in force", func(t *testing.T) {
		in := input(example(t, "missing-documents-quality-declaration-thermometers.json"))
		in.On = time.Date(2020, 3, 31, 12, 0, 0, 0, time.UTC) // 20:00 in Beijing, still 31 March
		res := mustCheck(t, a, a.CheckDocuments, in)
		if len(findings(res, "missing-quality-declaration")) != 0 {
			t.Errorf("findings %v before 1 April 2020", codes(res))
		}
	})
	t.Run("non-medical masks from 26 April 2020", func(t *testing.T) {
		d := example(t, "it-ffp2-respirators.json")
		d.Documents = d.Documents[:3] // no quality declaration
		in := input(d)
		in.On = time.Date(2020, 4, 25, 12, 0, 0, 0, time.UTC)
		if res := mustCheck(t, a, a.CheckDocuments, in); len(res.Findings) != 0 {
			t.Errorf("25 April: findings %v", codes(res))
		}
		in.On = time.Date(2020, 4, 26, 12, 0, 0, 0, time.UTC)
		res := mustCheck(t, a, a.CheckDocuments, in)
		wantFinding(t, res, "missing-quality-declaration", SeverityError, "lines[0]", "26 April 2020")
		if len(findings(res, "missing-registration-certificate")) != 0 {
			t.Error("a non-medical mask was asked for an NMPA registration certificate")
		}
	})
	t.Run("missing registration certificate", func(t *testing.T) {
		d := example(t, "de-antibody-test-kits.json")
		d.Documents = d.Documents[:4]
		res := mustCheck(t, a, a.CheckDocuments, input(d))
		wantFinding(t, res, "missing-registration-certificate", SeverityError, "lines[0]", "NMPA")
	})
	t.Run("invoice total", func(t *testing.T) {
		d := example(t, "us-nasal-cannulas-anaesthesia-masks.json")
		d.Documents[0].Amount = 8_600_000
		res := mustCheck(t, a, a.CheckDocuments, input(d))
		wantFinding(t, res, "invoice-total-mismatch", SeverityError, "documents[0].amount", "86,000.00 USD", "86,400.00 USD")
	})
	t.Run("invoice currency", func(t *testing.T) {
		d := example(t, "us-nasal-cannulas-anaesthesia-masks.json")
		d.Lines[1].Currency = "EUR"
		res := mustCheck(t, a, a.CheckDocuments, input(d))
		wantFinding(t, res, "invoice-currency-mismatch", SeverityError, "lines[1].currency", "EUR", "USD")
		if len(findings(res, "invoice-total-mismatch")) != 0 {
			t.Error("a currency mismatch was also reported as a total mismatch")
		}
	})
	t.Run("invoice and packing list", func(t *testing.T) {
		d := example(t, "us-nasal-cannulas-anaesthesia-masks.json")
		d.Documents = d.Documents[2:] // contract and air waybill only
		res := mustCheck(t, a, a.CheckDocuments, input(d))
		wantFinding(t, res, "missing-document", SeverityError, "documents", "commercial invoice")
		wantFinding(t, res, "missing-document", SeverityError, "documents", "packing list")
	})
	t.Run("packing list for some lines", func(t *testing.T) {
		d := example(t, "us-nasal-cannulas-anaesthesia-masks.json")
		d.Documents[1].Lines = []string{"1"}
		res := mustCheck(t, a, a.CheckDocuments, input(d))
		wantFinding(t, res, "missing-document", SeverityError, "lines[1]", "line 2", "packing list")
	})
	t.Run("contract above the threshold", func(t *testing.T) {
		d := example(t, "us-nasal-cannulas-anaesthesia-masks.json")
		d.Documents = append(d.Documents[:2], d.Documents[3])
		res := mustCheck(t, a, a.CheckDocuments, input(d))
		wantFinding(t, res, "missing-document", SeverityError, "documents", "contract", "86,400.00 USD", "50,000.00 USD")

		b := *a
		b.ContractThresholds = map[string]int64{"USD": 10_000_000}
		if res := mustCheck(t, &b, b.CheckDocuments, input(d)); len(res.Findings) != 0 {
			t.Errorf("below a raised threshold: findings %v", codes(res))
		}
	})
	t.Run("implausible HS code", func(t *testing.T) {
		d := example(t, "it-ffp2-respirators.json")
		d.Lines[0].HSCode = "9018.90.99"
		res := mustCheck(t, a, a.CheckDocuments, input(d))
		wantFinding(t, res, "hs-code-category-mismatch", SeverityWarning, "lines[0].hsCode", "6307.90")
		if res.Worst() != SeverityWarning {
			t.Errorf("worst = %s", res.Worst())
		}
	})
}

func TestPrescreenBiological(t *testing.T) {
	a := newActivities(t)

	res := mustCheck(t, a, a.PrescreenBiological, input(example(t, "fr-biological-class-b.json")))
	wantFinding(t, res, "biological-line", SeverityInfo, "lines[0]", "risk class B", "RX-ERA-2020-011")
	if res.Worst() != SeverityInfo || res.Stage != policy.StageBiologicalReview {
		t.Errorf("class B with its risk assessment: %v", codes(res))
	}

	d := example(t, "fr-biological-class-b.json")
	d.Documents = d.Documents[:5] // without the risk assessment
	res = mustCheck(t, a, a.PrescreenBiological, input(d))
	wantFinding(t, res, "missing-risk-assessment", SeverityError, "lines[0]", "risk class B")

	d.Lines[0].RiskClass = declaration.RiskA
	res = mustCheck(t, a, a.PrescreenBiological, input(d))
	wantFinding(t, res, "missing-risk-assessment", SeverityError, "lines[0]")
	wantFinding(t, res, "missing-biosafety-approval", SeverityError, "lines[0]")
	wantFinding(t, res, "class-a-by-air", SeverityWarning, "transport")

	res = mustCheck(t, a, a.PrescreenBiological, input(example(t, "de-antibody-test-kits.json")))
	if res.Worst() != SeverityInfo || len(findings(res, "biological-line")) != 1 {
		t.Errorf("class D: %v", codes(res))
	}

	res = mustCheck(t, a, a.PrescreenBiological, input(example(t, "nl-examination-gloves-self-declared.json")))
	wantFinding(t, res, "no-biological-lines", SeverityInfo, "lines")
}

func TestVerifyCertificatesNonNotifiedBody(t *testing.T) {
	a := newActivities(t)
	_, err := runCheck(t, a, a.VerifyCertificates, input(example(t, "es-masks-non-notified-body.json")))
	res, appErr := invalidCertificate(t, err)
	f := wantFinding(t, res, "issuer-not-notified", SeverityError, "certificates[0].issuer", "1282", "PPE Regulation", "Machinery")
	if !strings.Contains(appErr.Message(), f.Message) {
		t.Errorf("message %q does not carry the finding %q", appErr.Message(), f.Message)
	}
	if res.Stage != policy.StageCertificationCheck || res.CheckedAt.IsZero() {
		t.Errorf("details: stage %q, checked at %v", res.Stage, res.CheckedAt)
	}
	// The line is covered, by an invalid certificate: no second finding calls it uncovered.
	if len(findings(res, "missing-certificate")) != 0 {
		t.Errorf("findings %v", codes(res))
	}
}

func TestVerifyCertificatesInvalid(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		change func(*declaration.Declaration)
		on     time.Time
		code   string
		field  string
		words  []string
	}{
		{"expired", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) {
				d.Certificates[0].ValidTo = time.Date(2025, 4, 9, 0, 0, 0, 0, time.UTC)
			},
			checkDay, "certificate-expired", "certificates[0].validTo", []string{"expired on 2025-04-09"}},
		{"not yet valid", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) {
				d.Certificates[0].ValidFrom = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
			},
			checkDay, "certificate-not-yet-valid", "certificates[0].validFrom", []string{"2026-07-01"}},
		{"wrong holder", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) { d.Certificates[0].Holder = "Ningbo Yongjia Trading Co., Ltd." },
			checkDay, "holder-mismatch", "certificates[0].holder", []string{"Ningbo Yongjia Trading", "not by the manufacturer"}},
		{"510(k) of another firm", "us-nasal-cannulas-anaesthesia-masks.json",
			func(d *declaration.Declaration) { d.Certificates[1].Number = "K183456" },
			checkDay, "holder-mismatch", "certificates[1].holder", []string{"registered to Xiantao Hengrui"}},
		{"510(k) for another product", "us-nasal-cannulas-anaesthesia-masks.json",
			func(d *declaration.Declaration) { d.Certificates[1].Number = "K190522" },
			checkDay, "product-mismatch", "certificates[1].lines", []string{"Surgical face mask", "line 1"}},
		{"malformed 510(k)", "us-nasal-cannulas-anaesthesia-masks.json",
			func(d *declaration.Declaration) { d.Certificates[1].Number = "K19287" },
			checkDay, "malformed-number", "certificates[1].number", []string{"K and six digits"}},
		{"unknown 510(k)", "us-nasal-cannulas-anaesthesia-masks.json",
			func(d *declaration.Declaration) { d.Certificates[1].Number = "K999999" },
			checkDay, "unknown-number", "certificates[1].number", []string{"510(k) database"}},
		{"unknown FDA registration", "us-nasal-cannulas-anaesthesia-masks.json",
			func(d *declaration.Declaration) { d.Certificates[0].Number = "3016541288" },
			checkDay, "unknown-number", "certificates[0].number", []string{"FDA establishment register"}},
		{"NMPA registration expired on the register", "de-antibody-test-kits.json",
			func(d *declaration.Declaration) {
				d.Lines[0].Category, d.Lines[0].Biological, d.Lines[0].RiskClass = declaration.CategoryMedicalMask, false, ""
				d.Lines[0].HSCode, d.Lines[0].DeviceClass = "6307.90", declaration.DeviceClassI
				d.Manufacturer.Name = "Ningbo Kangrun Medical Instruments Co., Ltd."
				d.Certificates = d.Certificates[1:]
				d.Certificates[0].Number, d.Certificates[0].Holder = "浙械注准20152140099", d.Manufacturer.Name
			},
			checkDay, "certificate-expired", "certificates[0].number", []string{"2020-05-31"}},
		{"NMPA registration of another firm", "de-antibody-test-kits.json",
			func(d *declaration.Declaration) { d.Certificates[1].Number = "国械注准20203400241" },
			checkDay, "holder-mismatch", "certificates[1].holder", []string{"Shanghai Ruixin"}},
		{"malformed NMPA number", "de-antibody-test-kits.json",
			func(d *declaration.Declaration) { d.Certificates[1].Number = "NMPA-2020340017" },
			checkDay, "malformed-number", "certificates[1].number", []string{"国械注准"}},
		{"revoked NIOSH approval", "us-n95-respirators-niosh.json",
			func(d *declaration.Declaration) { d.Certificates[0].Number = "TC-84A-9232" },
			checkDay, "certificate-revoked", "certificates[0].number", []string{"2022-03-01"}},
		{"revoked EUA", "es-masks-non-notified-body.json",
			func(d *declaration.Declaration) {
				d.Destination = "US"
				d.Certificates[0] = declaration.Certificate{Scheme: declaration.SchemeFDAEUA, Number: "EUA200188",
					Holder: d.Manufacturer.Name, Lines: []string{"1"}, ValidFrom: time.Date(2020, 4, 3, 0, 0, 0, 0, time.UTC),
					ValidTo: time.Date(2030, 4, 2, 0, 0, 0, 0, time.UTC)}
			},
			checkDay, "certificate-revoked", "certificates[0].number", []string{"revoked on 2020-05-07"}},
		{"CE under the wrong regulation", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) { d.Certificates[0].Regulation = registry.RegulationMDR },
			checkDay, "regulation-mismatch", "certificates[0].regulation", []string{"Medical Devices Regulation", "PPE Regulation"}},
		{"CE issuer not a notified body", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) { d.Certificates[0].Issuer = "9999" },
			checkDay, "issuer-not-notified-body", "certificates[0].issuer", []string{"9999"}},
		{"CE issuer malformed", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) { d.Certificates[0].Issuer = "CE2797" },
			checkDay, "malformed-issuer", "certificates[0].issuer", []string{"CE2797"}},
		{"UK body after 2020", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) { d.Certificates[0].Issuer = "0086" },
			checkDay, "issuer-not-notified", "certificates[0].issuer", []string{"BSI Assurance UK", "notified for nothing"}},
		{"self-declared respirator", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) { d.Certificates[0].Issuer = "" },
			checkDay, "self-declaration-not-allowed", "certificates[0].issuer", []string{"PPE Regulation"}},
		{"self-declared sterile gloves", "nl-examination-gloves-self-declared.json",
			func(d *declaration.Declaration) { d.Lines[0].Sterile = true },
			checkDay, "self-declaration-not-allowed", "certificates[0].issuer", []string{"Medical Devices Regulation"}},
		{"delisted qualified producer", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) {
				d.Manufacturer = declaration.Party{Name: "Wenzhou Lida Medical Supplies Co., Ltd.", Code: "91330304MA2AT1C68D", Country: "CN"}
				d.Lines[0].Category, d.Lines[0].Description = declaration.CategoryFaceMask, "Cotton face mask, washable, non-medical"
				d.Certificates[0].Holder = d.Manufacturer.Name
				d.Certificates = append(d.Certificates, declaration.Certificate{Scheme: declaration.SchemeQualifiedProducer,
					Number: "91330304MA2AT1C68D", Holder: d.Manufacturer.Name, Lines: []string{"1"},
					ValidFrom: time.Date(2020, 4, 26, 0, 0, 0, 0, time.UTC), ValidTo: time.Date(2030, 4, 25, 0, 0, 0, 0, time.UTC)})
			},
			checkDay, "producer-delisted", "certificates[1].number", []string{"taken off", "2020-06-12"}},
		{"qualified producer listing of another firm", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) {
				d.Certificates = append(d.Certificates, declaration.Certificate{Scheme: declaration.SchemeQualifiedProducer,
					Number: "91330304MA2AT1C68D", Holder: "Wenzhou Lida Medical Supplies Co., Ltd.", Lines: []string{"1"},
					ValidFrom: time.Date(2020, 4, 26, 0, 0, 0, 0, time.UTC), ValidTo: time.Date(2030, 4, 25, 0, 0, 0, 0, time.UTC)})
			},
			checkDay, "holder-mismatch", "certificates[1].holder", []string{"Wenzhou Lida"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := example(t, tt.file)
			tt.change(&d)
			if err := d.Validate(); err != nil {
				t.Fatalf("the changed declaration does not validate: %v", err)
			}
			a := newActivities(t)
			_, err := runCheck(t, a, a.VerifyCertificates, CheckInput{Declaration: d, On: tt.on})
			res, _ := invalidCertificate(t, err)
			wantFinding(t, res, tt.code, SeverityError, tt.field, tt.words...)
		})
	}
}

func TestVerifyCertificatesValid(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		change func(*declaration.Declaration)
		on     time.Time
		want   string // a finding code the result must have, or ""
	}{
		{"holder differs only in case and punctuation", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) {
				d.Certificates[0].Holder = "NINGBO YONGJIA PROTECTIVE EQUIPMENT CO LTD"
			},
			checkDay, "certificate-verified"},
		{"holder by its Chinese name", "de-antibody-test-kits.json",
			func(d *declaration.Declaration) { d.Certificates[1].Holder = "杭州联博生物技术有限公司" },
			checkDay, "certificate-verified"},
		{"NMPA number in ASCII form", "de-antibody-test-kits.json",
			func(d *declaration.Declaration) { d.Certificates[1].Number = "NMPA-20203400176" },
			checkDay, "certificate-verified"},
		{"UK body in 2020", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) { d.Certificates[0].Issuer = "0086" },
			time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC), "certificate-verified"},
		{"EUA instead of a 510(k)", "de-antibody-test-kits.json",
			func(d *declaration.Declaration) {
				d.Destination = "US"
				d.Certificates[0] = declaration.Certificate{Scheme: declaration.SchemeFDAEUA, Number: "EUA200431",
					Holder: d.Manufacturer.Name, Lines: []string{"1"}, ValidFrom: time.Date(2020, 5, 29, 0, 0, 0, 0, time.UTC),
					ValidTo: time.Date(2030, 5, 28, 0, 0, 0, 0, time.UTC)}
				d.Certificates = append(d.Certificates, declaration.Certificate{Scheme: declaration.SchemeFDARegistration,
					Number: "3014227765", Holder: d.Manufacturer.Name, Lines: []string{"1"},
					ValidFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), ValidTo: time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC)})
			},
			checkDay, "certificate-verified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := example(t, tt.file)
			tt.change(&d)
			a := newActivities(t)
			res, err := runCheck(t, a, a.VerifyCertificates, CheckInput{Declaration: d, On: tt.on})
			if err != nil {
				t.Fatal(err)
			}
			if res.NeedsOfficer() {
				t.Errorf("findings %+v", res.Findings)
			}
			if len(findings(res, tt.want)) == 0 {
				t.Errorf("no %s finding: %v", tt.want, codes(res))
			}
		})
	}
}

func TestVerifyCertificatesMissing(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		change func(*declaration.Declaration)
		code   string
		sev    Severity
		field  string
		words  []string
	}{
		{"no 510(k)", "us-nasal-cannulas-anaesthesia-masks.json",
			func(d *declaration.Declaration) { d.Certificates = d.Certificates[:2] },
			"missing-certificate", SeverityError, "lines[1]", []string{"line 2", "510(k)"}},
		{"no FDA registration", "us-nasal-cannulas-anaesthesia-masks.json",
			func(d *declaration.Declaration) { d.Certificates = d.Certificates[1:] },
			"missing-certificate", SeverityError, "lines[0]", []string{"FDA establishment registration"}},
		{"no NIOSH approval", "us-n95-respirators-niosh.json",
			func(d *declaration.Declaration) { d.Certificates = nil },
			"missing-certificate", SeverityError, "lines[0]", []string{"NIOSH"}},
		{"no CE certificate", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) { d.Certificates = nil },
			"missing-certificate", SeverityError, "lines[0]", []string{"notified under the PPE Regulation"}},
		{"no NMPA registration", "expedited-emergency-ventilators.json",
			func(d *declaration.Declaration) { d.Certificates = d.Certificates[:1] },
			"missing-certificate", SeverityError, "lines[0]", []string{"NMPA registration", "announcement No. 5"}},
		{"producer not on the qualified list", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) {
				d.Manufacturer = declaration.Party{Name: "Ningbo Haixin Mask Factory", Country: "CN"}
				d.Certificates[0].Holder = d.Manufacturer.Name
			},
			"producer-not-qualified", SeverityError, "manufacturer", []string{"Ningbo Haixin Mask Factory", "26 April 2020"}},
		{"no market rule", "it-ffp2-respirators.json",
			func(d *declaration.Declaration) { d.Destination = "RS" },
			"no-market-rule", SeverityWarning, "destination", []string{"RS"}},
		{"self-declared device without class", "nl-examination-gloves-self-declared.json",
			func(d *declaration.Declaration) { d.Lines[0].DeviceClass = "" },
			"device-class-unknown", SeverityWarning, "lines[0].deviceClass", []string{"class I"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := example(t, tt.file)
			tt.change(&d)
			a := newActivities(t)
			res, err := runCheck(t, a, a.VerifyCertificates, input(d))
			if err != nil {
				t.Fatalf("err = %v, want a result for an officer", err)
			}
			wantFinding(t, res, tt.code, tt.sev, tt.field, tt.words...)
			if !res.NeedsOfficer() {
				t.Error("the result does not need an officer")
			}
		})
	}
}

func TestPlanInspection(t *testing.T) {
	a := newActivities(t)
	res := mustCheck(t, a, a.PlanInspection, input(example(t, "expedited-emergency-ventilators.json")))
	if res.Stage != policy.StagePhysicalInspection {
		t.Errorf("stage = %q", res.Stage)
	}
	wantFinding(t, res, "inspection-order", SeverityInfo, "lines", "come first: 1", "expedited")
	wantFinding(t, res, "inspect-line", SeverityInfo, "lines[0]", "50 units", "draw 8", "self-test", "CE 0197")

	res = mustCheck(t, a, a.PlanInspection, input(example(t, "fr-biological-class-b.json")))
	wantFinding(t, res, "cold-chain", SeverityWarning, "lines[0]", "risk class B")
	wantFinding(t, res, "inspect-line", SeverityInfo, "lines[0]", "draw 125")
}

func TestSampleSize(t *testing.T) {
	for _, tt := range []struct{ qty, want int64 }{
		{0, 0}, {1, 1}, {2, 2}, {8, 2}, {9, 3}, {50, 8}, {51, 13}, {1200, 80}, {1201, 125},
		{10000, 200}, {35001, 500}, {500000, 800}, {500001, 1250}, {5_000_000, 1250},
	} {
		if got := SampleSize(tt.qty); got != tt.want {
			t.Errorf("SampleSize(%d) = %d, want %d", tt.qty, got, tt.want)
		}
	}
}
