package activities

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
)

// VerifyCertificates checks every certificate of the declaration, then every line against its
// destination market's requirement and the Chinese export rules.
//
// Each certificate is checked for its number's format, its presence on the register (FDA,
// NIOSH, NMPA, the qualified producers list; for CE, its issuer's presence among the notified
// bodies and notification under the regulation of the lines it covers), its holder (the
// manufacturer, ignoring case and punctuation; the register's holder where there is one), the
// lines it covers (their category must be the product the register lists) and its validity on
// in.On. A certificate that is present but invalid makes the activity fail with a
// non-retryable ApplicationError of type ErrInvalidCertificate whose details are the
// CheckResult with every finding. Its codes: malformed-number, unknown-number,
// malformed-issuer, issuer-not-notified-body, issuer-not-notified, regulation-mismatch,
// self-declaration-not-allowed, holder-mismatch, product-mismatch, certificate-expired,
// certificate-not-yet-valid, certificate-revoked, producer-delisted, unknown-scheme.
//
// Otherwise the result may hold errors that an officer resolves (by a request for
// information or a refusal): missing-certificate, a line without a certificate its market or
// the Chinese rules require; producer-not-qualified, a mask whose producer is not on the list
// of qualified producers. Warnings: no-market-rule (a destination the engine has no rule for),
// device-class-unknown (a self-declared CE on a line that gives no device class). Info:
// certificate-verified per valid certificate, qualified-producer, not-ce-marked,
// not-fda-device.
//
// Requirements. EU and EEA: CE marking; a class I device that is neither sterile nor measuring
// may be self-declared (a CE certificate without issuer); other devices need a body notified
// under the MDR, test kits and reagents under the IVDR, respirators and protective clothing
// under the PPE Regulation. US: the manufacturer's FDA establishment registration and a 510(k)
// or an EUA for devices; a NIOSH approval or an EUA for respirators. China, for every
// destination: NMPA registration for the goods of announcement No. 5 of 2020 from 1 April 2020;
// the producer on the qualified list for non-medical masks from 26 April 2020.
//
// A registry that cannot be reached is a plain error: the activity is retried.
func (a *Activities) VerifyCertificates(ctx context.Context, in CheckInput) (CheckResult, error) {
	if err := checkInput(in); err != nil {
		return CheckResult{}, err
	}
	reg, err := a.reg()
	if err != nil {
		return CheckResult{}, err
	}
	d := &in.Declaration
	v := &verifier{ctx: ctx, reg: reg, d: d, on: in.On}
	for i, c := range d.Certificates {
		if err := v.certificate(i, c); err != nil {
			return CheckResult{}, fmt.Errorf("check certificate %s: %w", c.Number, err)
		}
	}
	if err := v.requirements(); err != nil {
		return CheckResult{}, err
	}
	res := v.r.checkResult(policy.StageCertificationCheck, a.now())
	log := logger(ctx, d.ID, policy.StageCertificationCheck)
	if v.invalid > 0 {
		log.Warn("invalid certificates", "invalid", v.invalid, "findings", len(res.Findings))
		msg := fmt.Sprintf("declaration %s carries an invalid certificate: %s", d.ID, v.firstInvalid)
		if v.invalid > 1 {
			msg = fmt.Sprintf("declaration %s carries invalid certificates (%d problems), first: %s", d.ID, v.invalid, v.firstInvalid)
		}
		return CheckResult{}, temporal.NewNonRetryableApplicationError(msg, ErrInvalidCertificate, nil, res)
	}
	log.Info("certificates verified", "certificates", len(d.Certificates), "findings", len(res.Findings), "worst", res.Worst())
	return res, nil
}

// verifier holds the state of one certification check.
type verifier struct {
	ctx          context.Context
	reg          registry.Registry
	d            *declaration.Declaration
	on           time.Time
	r            result
	invalid      int
	firstInvalid string
	// producer caches the look-up of the manufacturer on the qualified producers list.
	producer *producerLookup
}

type producerLookup struct {
	p     registry.QualifiedProducer
	found bool
}

// bad records a finding that makes a certificate invalid.
func (v *verifier) bad(code, field, format string, args ...any) {
	v.r.add(code, SeverityError, field, format, args...)
	if v.invalid == 0 {
		v.firstInvalid = v.r.findings[len(v.r.findings)-1].Message
	}
	v.invalid++
}

type coveredLine struct {
	idx  int
	line declaration.Line
}

// lines returns the lines a certificate covers, in declaration order.
func (v *verifier) lines(c declaration.Certificate) []coveredLine {
	var out []coveredLine
	for i, l := range v.d.Lines {
		if slices.Contains(c.Lines, l.ID) {
			out = append(out, coveredLine{i, l})
		}
	}
	return out
}

// certificate checks one certificate.
func (v *verifier) certificate(i int, c declaration.Certificate) error {
	path := fmt.Sprintf("certificates[%d]", i)
	name := fmt.Sprintf("%s certificate %s", c.Scheme, c.Number)
	before := v.invalid
	var (
		holders []string // the names the register knows the holder by, if it has one
		detail  string
		err     error
	)
	switch c.Scheme {
	case declaration.SchemeCE:
		detail, err = v.ce(path, name, c)
	case declaration.SchemeFDARegistration:
		holders, err = v.fdaRegistration(path, name, c)
	case declaration.SchemeFDA510K:
		holders, err = v.clearance510K(path, name, c)
	case declaration.SchemeFDAEUA:
		holders, err = v.eua(path, name, c)
	case declaration.SchemeNIOSH:
		holders, err = v.niosh(path, name, c)
	case declaration.SchemeNMPA:
		holders, err = v.nmpa(path, name, c)
	case declaration.SchemeQualifiedProducer:
		holders, err = v.qualifiedProducer(path, name, c)
	default:
		v.bad("unknown-scheme", path+".scheme", "%s: %q is not a certificate scheme the engine can check", name, c.Scheme)
	}
	if err != nil {
		return err
	}

	manufacturer := v.d.Manufacturer.Name
	registerOK := true
	if len(holders) > 0 && !anyName(holders, manufacturer) {
		registerOK = false
		v.bad("holder-mismatch", path+".holder", "%s is registered to %s, not to the manufacturer %s",
			name, holders[0], manufacturer)
	}
	if registerOK && !registry.SameName(c.Holder, manufacturer) && !(anyName(holders, c.Holder) && anyName(holders, manufacturer)) {
		v.bad("holder-mismatch", path+".holder", "%s is held by %s, not by the manufacturer %s", name, c.Holder, manufacturer)
	}
	switch {
	case v.on.Before(c.ValidFrom):
		v.bad("certificate-not-yet-valid", path+".validFrom", "%s is valid only from %s, not on %s", name, date(c.ValidFrom), date(v.on))
	case v.on.After(c.ValidTo):
		v.bad("certificate-expired", path+".validTo", "%s expired on %s", name, date(c.ValidTo))
	}

	if v.invalid == before {
		var ids []string
		for _, cl := range v.lines(c) {
			ids = append(ids, cl.line.ID)
		}
		if detail != "" {
			detail = " " + detail
		}
		covers := "line " + strings.Join(ids, "")
		if len(ids) > 1 {
			covers = "lines " + strings.Join(ids, ", ")
		}
		v.r.add("certificate-verified", SeverityInfo, path, "%s%s, held by %s, covers %s and is valid until %s",
			name, detail, c.Holder, covers, date(c.ValidTo))
	}
	return nil
}

func anyName(names []string, name string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return n != "" && registry.SameName(n, name) })
}

// ce checks a CE certificate: a self-declaration only where the lines allow one; otherwise an
// issuer that is a notified body, notified under the regulation of the certificate and of
// every line it covers on the day of the check.
func (v *verifier) ce(path, name string, c declaration.Certificate) (string, error) {
	covered := v.lines(c)
	if strings.TrimSpace(c.Issuer) == "" {
		for _, cl := range covered {
			req := euRequirementFor(cl.line)
			switch {
			case req.applies && req.notifiedBody:
				v.bad("self-declaration-not-allowed", path+".issuer",
					"%s is a self-declaration, but %s falls under %s and needs a notified body's certificate",
					name, label(cl.line), registry.RegulationTitle(req.regulation))
			case req.applies && req.classUnknown:
				v.r.add("device-class-unknown", SeverityWarning, linePath(cl.idx)+".deviceClass",
					"%s is self-declared, which holds only for a class I device that is neither sterile nor measuring; "+
						"%s gives no device class: the certification officer confirms it", name, label(cl.line))
			}
		}
		return "(self-declared)", nil
	}
	if !registry.IsNotifiedBodyNumber(c.Issuer) {
		v.bad("malformed-issuer", path+".issuer", "%s: issuer %q is not a four-digit notified body number", name, c.Issuer)
		return "", nil
	}
	body, found, err := v.reg.NotifiedBody(v.ctx, c.Issuer)
	if err != nil {
		return "", fmt.Errorf("look up notified body %s: %w", c.Issuer, err)
	}
	if !found {
		v.bad("issuer-not-notified-body", path+".issuer", "%s: %s is not the number of a notified body", name, c.Issuer)
		return "", nil
	}
	var need []string
	if c.Regulation != "" {
		need = append(need, c.Regulation)
	}
	for _, cl := range covered {
		req := euRequirementFor(cl.line)
		if !req.applies {
			continue
		}
		if c.Regulation != "" && c.Regulation != req.regulation {
			v.bad("regulation-mismatch", path+".regulation", "%s is issued under %s, but %s falls under %s",
				name, registry.RegulationTitle(c.Regulation), label(cl.line), registry.RegulationTitle(req.regulation))
			continue
		}
		if !slices.Contains(need, req.regulation) {
			need = append(need, req.regulation)
		}
	}
	for _, reg := range need {
		if !body.NotifiedFor(reg, v.on) {
			scope := "nothing"
			if regs := body.RegulationsOn(v.on); len(regs) > 0 {
				scope = strings.Join(regs, ", ")
			}
			v.bad("issuer-not-notified", path+".issuer", "%s: %s (%s) is not notified under %s on %s; it is notified for %s",
				name, body.Number, body.Name, registry.RegulationTitle(reg), date(v.on), scope)
		}
	}
	return fmt.Sprintf("(notified body %s %s, %s)", body.Number, body.Name, strings.Join(need, ", ")), nil
}

func (v *verifier) malformed(path, name, what string) {
	v.bad("malformed-number", path+".number", "%s: the number is not %s", name, what)
}

func (v *verifier) unknown(path, name, where string) {
	v.bad("unknown-number", path+".number", "%s is not on %s", name, where)
}

// productMismatch reports the covered lines whose category is not want.
func (v *verifier) productMismatch(path, name, product string, want declaration.Category, c declaration.Certificate) {
	for _, cl := range v.lines(c) {
		if cl.line.Category != want {
			v.bad("product-mismatch", path+".lines", "%s is for %s (%s), not for %s, a %s",
				name, product, want, label(cl.line), cl.line.Category)
		}
	}
}

func (v *verifier) fdaRegistration(path, name string, c declaration.Certificate) ([]string, error) {
	if !registry.IsFDARegistrationNumber(c.Number) {
		v.malformed(path, name, "an FDA registration number of 7 or 10 digits")
		return nil, nil
	}
	est, found, err := v.reg.FDAEstablishment(v.ctx, c.Number)
	if err != nil {
		return nil, fmt.Errorf("look up FDA registration: %w", err)
	}
	if !found {
		v.unknown(path, name, "the FDA establishment register")
		return nil, nil
	}
	if !est.ValidThrough.IsZero() && v.on.After(est.ValidThrough) {
		v.bad("certificate-expired", path+".number", "%s of %s was current through %s and has not been renewed",
			name, est.Firm, date(est.ValidThrough))
	}
	return []string{est.Firm}, nil
}

func (v *verifier) clearance510K(path, name string, c declaration.Certificate) ([]string, error) {
	if !registry.Is510KNumber(c.Number) {
		v.malformed(path, name, "a 510(k) number, K and six digits")
		return nil, nil
	}
	k, found, err := v.reg.Clearance510K(v.ctx, c.Number)
	if err != nil {
		return nil, fmt.Errorf("look up 510(k): %w", err)
	}
	if !found {
		v.unknown(path, name, "the FDA 510(k) database")
		return nil, nil
	}
	v.productMismatch(path, name, k.Device, k.Category, c)
	return []string{k.Holder}, nil
}

func (v *verifier) eua(path, name string, c declaration.Certificate) ([]string, error) {
	if !registry.IsEUANumber(c.Number) {
		v.malformed(path, name, "an EUA number, EUA and six digits")
		return nil, nil
	}
	e, found, err := v.reg.EUA(v.ctx, c.Number)
	if err != nil {
		return nil, fmt.Errorf("look up EUA: %w", err)
	}
	if !found {
		v.unknown(path, name, "the FDA's list of Emergency Use Authorizations")
		return nil, nil
	}
	if !e.Revoked.IsZero() && !v.on.Before(e.Revoked) {
		v.bad("certificate-revoked", path+".number", "%s was revoked on %s", name, date(e.Revoked))
	}
	v.productMismatch(path, name, e.Product, e.Category, c)
	return []string{e.Holder}, nil
}

func (v *verifier) niosh(path, name string, c declaration.Certificate) ([]string, error) {
	if !registry.IsNIOSHNumber(c.Number) {
		v.malformed(path, name, "a NIOSH approval number, TC-84A- and four digits")
		return nil, nil
	}
	n, found, err := v.reg.NIOSHApproval(v.ctx, c.Number)
	if err != nil {
		return nil, fmt.Errorf("look up NIOSH approval: %w", err)
	}
	if !found {
		v.unknown(path, name, "NIOSH's list of approved respirators")
		return nil, nil
	}
	if !n.Revoked.IsZero() && !v.on.Before(n.Revoked) {
		v.bad("certificate-revoked", path+".number", "%s was revoked on %s", name, date(n.Revoked))
	}
	v.productMismatch(path, name, n.Class+" respirator "+n.Model, declaration.CategoryRespirator, c)
	return []string{n.Holder}, nil
}

func (v *verifier) nmpa(path, name string, c declaration.Certificate) ([]string, error) {
	if !registry.IsNMPANumber(c.Number) {
		v.malformed(path, name, "an NMPA registration number such as 国械注准20203400176 or NMPA-20203400176")
		return nil, nil
	}
	n, found, err := v.reg.NMPARegistration(v.ctx, c.Number)
	if err != nil {
		return nil, fmt.Errorf("look up NMPA registration: %w", err)
	}
	if !found {
		v.unknown(path, name, "the NMPA register of medical devices")
		return nil, nil
	}
	switch {
	case v.on.Before(n.ValidFrom):
		v.bad("certificate-not-yet-valid", path+".number", "%s is registered only from %s", name, date(n.ValidFrom))
	case v.on.After(n.ValidTo):
		v.bad("certificate-expired", path+".number", "%s expired on the NMPA register on %s", name, date(n.ValidTo))
	}
	v.productMismatch(path, name, n.Product, n.Category, c)
	return []string{n.Holder, n.HolderLocal}, nil
}

func (v *verifier) qualifiedProducer(path, name string, c declaration.Certificate) ([]string, error) {
	p, found, err := v.reg.QualifiedProducer(v.ctx, c.Number)
	if err != nil {
		return nil, fmt.Errorf("look up qualified producer: %w", err)
	}
	if !found {
		v.unknown(path, name, "the list of qualified producers")
		return nil, nil
	}
	if !p.ListedOn(v.on) {
		v.bad("producer-delisted", path+".number", "%s: %s was taken off the list of qualified producers on %s",
			name, p.Name, date(p.Delisted))
	}
	for _, cl := range v.lines(c) {
		if !slices.Contains(p.Categories, cl.line.Category) {
			v.bad("product-mismatch", path+".lines", "%s: the listing of %s does not cover %s, a %s",
				name, p.Name, label(cl.line), cl.line.Category)
		}
	}
	return []string{p.Name, p.NameLocal}, nil
}

// present reports whether some certificate of one of the schemes covers line id. Whether it is
// valid was judged on its own: an invalid one already fails the check.
func (v *verifier) present(id string, schemes ...declaration.Scheme) bool {
	for _, i := range certificatesCovering(v.d, id) {
		if slices.Contains(schemes, v.d.Certificates[i].Scheme) {
			return true
		}
	}
	return false
}

// requirements checks each line against its market's requirement and the Chinese rules.
func (v *verifier) requirements() error {
	d := v.d
	eu, us := ceMarket[d.Destination], d.Destination == "US"
	if !eu && !us {
		v.r.add("no-market-rule", SeverityWarning, "destination",
			"no certification rule is configured for destination %s: the certification officer checks the importing country's requirements",
			d.Destination)
	}
	for i, l := range d.Lines {
		switch {
		case eu:
			v.euLine(i, l)
		case us:
			v.usLine(i, l)
		}
		if err := v.chinaLine(i, l); err != nil {
			return err
		}
	}
	return nil
}

func (v *verifier) missing(i int, l declaration.Line, format string, args ...any) {
	v.r.add("missing-certificate", SeverityError, linePath(i), "%s %s", label(l), fmt.Sprintf(format, args...))
}

func (v *verifier) euLine(i int, l declaration.Line) {
	req := euRequirementFor(l)
	switch {
	case !req.applies && medicinal(l.Category):
		v.r.add("not-ce-marked", SeverityInfo, linePath(i),
			"%s is a %s, a medicinal product that is not CE-marked; the biological review covers it", label(l), l.Category)
	case !req.applies:
		v.r.add("not-ce-marked", SeverityInfo, linePath(i),
			"%s is a non-medical mask, neither a medical device nor PPE in the EU; no CE certificate is required", label(l))
	case v.present(l.ID, declaration.SchemeCE):
	case req.notifiedBody:
		v.missing(i, l, "to %s needs a CE certificate from a body notified under %s",
			v.d.Destination, registry.RegulationTitle(req.regulation))
	default:
		v.missing(i, l, "to %s needs CE marking under %s (a self-declaration suffices for class I)",
			v.d.Destination, registry.RegulationTitle(req.regulation))
	}
}

func (v *verifier) usLine(i int, l declaration.Line) {
	req := usRequirementFor(l)
	if !req.applies {
		v.r.add("not-fda-device", SeverityInfo, linePath(i),
			"%s is a %s, not a device the FDA clears; no 510(k) or registration is checked", label(l), l.Category)
		return
	}
	if req.registration && !v.present(l.ID, declaration.SchemeFDARegistration) {
		v.missing(i, l, "to the US needs the manufacturer's FDA establishment registration")
	}
	if req.clearance && !v.present(l.ID, declaration.SchemeFDA510K, declaration.SchemeFDAEUA) {
		v.missing(i, l, "to the US needs a 510(k) clearance (K and six digits) or an Emergency Use Authorization")
	}
	if req.niosh && !v.present(l.ID, declaration.SchemeNIOSH, declaration.SchemeFDAEUA) {
		v.missing(i, l, "to the US needs a NIOSH approval (TC-84A-xxxx) or an Emergency Use Authorization")
	}
}

func (v *verifier) chinaLine(i int, l declaration.Line) error {
	rule := chinaRuleFor(l, v.on)
	switch rule {
	case chinaNMPA:
		if !v.present(l.ID, declaration.SchemeNMPA) {
			v.missing(i, l, "needs NMPA registration for export under %s", rule)
		}
	case chinaQualified:
		if v.present(l.ID, declaration.SchemeQualifiedProducer) {
			return nil
		}
		if v.producer == nil {
			p, found, err := v.lookupManufacturer()
			if err != nil {
				return fmt.Errorf("look up qualified producer %s: %w", v.d.Manufacturer.Name, err)
			}
			v.producer = &producerLookup{p, found}
		}
		p, m := v.producer.p, v.d.Manufacturer.Name
		switch {
		case !v.producer.found:
			v.r.add("producer-not-qualified", SeverityError, "manufacturer",
				"%s: the manufacturer %s is not on the list of qualified producers required by %s", label(l), m, rule)
		case !p.ListedOn(v.on):
			v.r.add("producer-not-qualified", SeverityError, "manufacturer",
				"%s: the manufacturer %s was taken off the list of qualified producers on %s", label(l), m, date(p.Delisted))
		case !slices.Contains(p.Categories, l.Category):
			v.r.add("producer-not-qualified", SeverityError, "manufacturer",
				"%s: the manufacturer's listing as a qualified producer does not cover %s", label(l), l.Category)
		default:
			v.r.add("qualified-producer", SeverityInfo, linePath(i),
				"%s: the manufacturer is on the list of qualified producers as %s (%s)", label(l), p.Name, p.Code)
		}
	}
	return nil
}

// lookupManufacturer finds the manufacturer on the qualified producers list by its code, then
// by its name.
func (v *verifier) lookupManufacturer() (registry.QualifiedProducer, bool, error) {
	m := v.d.Manufacturer
	if m.Code != "" {
		p, found, err := v.reg.QualifiedProducer(v.ctx, m.Code)
		if err != nil || found {
			return p, found, err
		}
	}
	return v.reg.QualifiedProducer(v.ctx, m.Name)
}
