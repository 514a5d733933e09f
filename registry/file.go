package registry

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/medsupply/customs/declaration"
)

// The files of a registry directory, one list of records each. Every file must be present; a
// directory given at run time replaces the built-in data as a whole, so that what a clearance
// was checked against is always one consistent set.
const (
	FileNotifiedBodies     = "notified-bodies.json"
	FileFDAEstablishments  = "fda-establishments.json"
	FileFDA510K            = "fda-510k.json"
	FileFDAEUA             = "fda-eua.json"
	FileNIOSHApprovals     = "niosh-approvals.json"
	FileNMPARegistrations  = "nmpa-registrations.json"
	FileQualifiedProducers = "qualified-producers.json"
	FileExporters          = "exporters.json"
)

// Files lists the files of a registry directory.
var Files = []string{FileNotifiedBodies, FileFDAEstablishments, FileFDA510K, FileFDAEUA,
	FileNIOSHApprovals, FileNMPARegistrations, FileQualifiedProducers, FileExporters}

//go:embed data/*.json
var builtin embed.FS

// FileRegistry is a Registry held in memory, loaded from JSON files. It is read-only once
// loaded and safe for concurrent use. Its lookups never fail with an error.
type FileRegistry struct {
	bodies     map[string]NotifiedBody
	fda        map[string]FDAEstablishment
	k510       map[string]Clearance510K
	eua        map[string]EUA
	niosh      map[string]NIOSHApproval
	nmpa       map[string]NMPARegistration  // by the eleven digits
	producers  map[string]QualifiedProducer // by code
	byName     map[string]QualifiedProducer // by normalized English and Chinese name
	exporters  map[string]ExporterRecord
	sourceName string
}

var _ Registry = (*FileRegistry)(nil)

var loadDefault = sync.OnceValues(func() (*FileRegistry, error) {
	sub, err := fs.Sub(builtin, "data")
	if err != nil {
		return nil, err
	}
	r, err := load(sub, "built-in registry data")
	if err != nil {
		return nil, err
	}
	return r, nil
})

// Default returns the registry built from the data that ships with the repository
// (registry/data). It panics if that data is invalid, which the package's tests rule out.
func Default() *FileRegistry {
	r, err := loadDefault()
	if err != nil {
		panic("registry: built-in data is invalid: " + err.Error())
	}
	return r
}

// Load returns the registry in directory dir, or the built-in one when dir is empty.
func Load(dir string) (*FileRegistry, error) {
	if dir == "" {
		return Default(), nil
	}
	return LoadDir(dir)
}

// LoadDir reads a registry from the files in directory dir; every file in Files must be there.
func LoadDir(dir string) (*FileRegistry, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("registry directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("registry directory: %s is not a directory", dir)
	}
	return load(os.DirFS(dir), dir)
}

// LoadFS reads a registry from the files at the root of fsys.
func LoadFS(fsys fs.FS) (*FileRegistry, error) { return load(fsys, "registry") }

// Source names where the registry was loaded from: a directory, or the built-in data.
func (r *FileRegistry) Source() string { return r.sourceName }

func load(fsys fs.FS, source string) (*FileRegistry, error) {
	r := &FileRegistry{sourceName: source}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var (
		bodies    []NotifiedBody
		fda       []FDAEstablishment
		k510      []Clearance510K
		euas      []EUA
		niosh     []NIOSHApproval
		nmpa      []NMPARegistration
		producers []QualifiedProducer
		exporters []ExporterRecord
	)
	add(readList(fsys, FileNotifiedBodies, &bodies))
	add(readList(fsys, FileFDAEstablishments, &fda))
	add(readList(fsys, FileFDA510K, &k510))
	add(readList(fsys, FileFDAEUA, &euas))
	add(readList(fsys, FileNIOSHApprovals, &niosh))
	add(readList(fsys, FileNMPARegistrations, &nmpa))
	add(readList(fsys, FileQualifiedProducers, &producers))
	add(readList(fsys, FileExporters, &exporters))
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", source, errors.Join(errs...))
	}

	var ps problems
	r.bodies = index(&ps, FileNotifiedBodies, bodies, func(b NotifiedBody) string { return b.Number }, checkBody)
	r.fda = index(&ps, FileFDAEstablishments, fda, func(e FDAEstablishment) string { return e.Number }, checkFDA)
	r.k510 = index(&ps, FileFDA510K, k510, func(c Clearance510K) string { return c.Number }, check510K)
	r.eua = index(&ps, FileFDAEUA, euas, func(e EUA) string { return e.Number }, checkEUA)
	r.niosh = index(&ps, FileNIOSHApprovals, niosh, func(a NIOSHApproval) string { return a.Number }, checkNIOSH)
	r.nmpa = index(&ps, FileNMPARegistrations, nmpa, func(n NMPARegistration) string {
		d, _ := NMPADigits(n.Number)
		return d
	}, checkNMPA)
	r.producers = index(&ps, FileQualifiedProducers, producers, func(p QualifiedProducer) string { return p.Code }, checkProducer)
	r.exporters = index(&ps, FileExporters, exporters, func(e ExporterRecord) string { return strings.ToUpper(e.Code) }, checkExporter)
	r.byName = make(map[string]QualifiedProducer, 2*len(producers))
	for i, p := range producers {
		for _, n := range []string{p.Name, p.NameLocal} {
			key := NormalizeName(n)
			if key == "" {
				continue
			}
			if other, dup := r.byName[key]; dup && other.Code != p.Code {
				ps.add(FileQualifiedProducers, i, "name %q is also the name of producer %s", n, other.Code)
			}
			r.byName[key] = p
		}
	}
	if err := ps.err(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return r, nil
}

// readList decodes a JSON array of records strictly: an unknown field is an error.
func readList[T any](fsys fs.FS, name string, out *[]T) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: unexpected data after the list", name)
	}
	return nil
}

// index checks each record and maps it by key; an empty or repeated key is a problem.
func index[T any](ps *problems, file string, list []T, key func(T) string, check func(*problems, string, int, T)) map[string]T {
	m := make(map[string]T, len(list))
	for i, rec := range list {
		check(ps, file, i, rec)
		k := key(rec)
		if k == "" {
			continue // check reported the malformed number
		}
		if _, dup := m[k]; dup {
			ps.add(file, i, "%s appears twice", k)
			continue
		}
		m[k] = rec
	}
	return m
}

type problems []string

func (ps *problems) add(file string, i int, format string, args ...any) {
	*ps = append(*ps, fmt.Sprintf("%s[%d]: %s", file, i, fmt.Sprintf(format, args...)))
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return errors.New(strings.Join(ps, "; "))
}

func (ps *problems) need(file string, i int, field, value string) {
	if strings.TrimSpace(value) == "" {
		ps.add(file, i, "%s: missing", field)
	}
}

func (ps *problems) category(file string, i int, c declaration.Category) {
	if !slices.Contains(declaration.Categories, c) {
		ps.add(file, i, "category: %q is not a product category", c)
	}
}

func (ps *problems) period(file string, i int, from, to time.Time, fromName, toName string) {
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		ps.add(file, i, "%s is before %s", toName, fromName)
	}
}

func checkBody(ps *problems, f string, i int, b NotifiedBody) {
	if !IsNotifiedBodyNumber(b.Number) {
		ps.add(f, i, "number: %q is not a four-digit notified body number", b.Number)
	}
	ps.need(f, i, "name", b.Name)
	if !declaration.IsCountryCode(b.Country) {
		ps.add(f, i, "country: %q is not a country code", b.Country)
	}
	if len(b.Designations) == 0 {
		ps.add(f, i, "designations: missing")
	}
	for _, d := range b.Designations {
		if !slices.Contains(Regulations, d.Regulation) {
			ps.add(f, i, "designations: %q is not a known regulation", d.Regulation)
		}
		ps.period(f, i, d.From, d.Until, "from", "until")
	}
}

func checkFDA(ps *problems, f string, i int, e FDAEstablishment) {
	if !IsFDARegistrationNumber(e.Number) {
		ps.add(f, i, "number: %q is not a 7- or 10-digit registration number", e.Number)
	}
	ps.need(f, i, "firm", e.Firm)
	if !declaration.IsCountryCode(e.Country) {
		ps.add(f, i, "country: %q is not a country code", e.Country)
	}
}

func check510K(ps *problems, f string, i int, c Clearance510K) {
	if !Is510KNumber(c.Number) {
		ps.add(f, i, "number: %q is not K and six digits", c.Number)
	}
	ps.need(f, i, "device", c.Device)
	ps.need(f, i, "holder", c.Holder)
	if len(c.ProductCode) != 3 || strings.ToUpper(c.ProductCode) != c.ProductCode {
		ps.add(f, i, "productCode: %q is not a three-letter FDA product code", c.ProductCode)
	}
	ps.category(f, i, c.Category)
}

func checkEUA(ps *problems, f string, i int, e EUA) {
	if !IsEUANumber(e.Number) {
		ps.add(f, i, "number: %q is not EUA and six digits", e.Number)
	}
	ps.need(f, i, "product", e.Product)
	ps.need(f, i, "holder", e.Holder)
	ps.category(f, i, e.Category)
	if e.Issued.IsZero() {
		ps.add(f, i, "issued: missing")
	}
	ps.period(f, i, e.Issued, e.Revoked, "issued", "revoked")
}

func checkNIOSH(ps *problems, f string, i int, a NIOSHApproval) {
	if !IsNIOSHNumber(a.Number) {
		ps.add(f, i, "number: %q is not TC-84A- and four digits", a.Number)
	}
	ps.need(f, i, "holder", a.Holder)
	ps.need(f, i, "model", a.Model)
	ps.need(f, i, "class", a.Class)
	if a.Issued.IsZero() {
		ps.add(f, i, "issued: missing")
	}
	ps.period(f, i, a.Issued, a.Revoked, "issued", "revoked")
}

func checkNMPA(ps *problems, f string, i int, n NMPARegistration) {
	if !nmpaPattern.MatchString(n.Number) {
		ps.add(f, i, "number: %q is not an NMPA registration number in its Chinese form", n.Number)
	}
	ps.need(f, i, "holder", n.Holder)
	ps.need(f, i, "product", n.Product)
	ps.category(f, i, n.Category)
	if n.ValidFrom.IsZero() || n.ValidTo.IsZero() {
		ps.add(f, i, "validFrom and validTo: both required")
	}
	ps.period(f, i, n.ValidFrom, n.ValidTo, "validFrom", "validTo")
}

func checkProducer(ps *problems, f string, i int, p QualifiedProducer) {
	if !IsCreditCode(p.Code) {
		ps.add(f, i, "code: %q is not a unified social credit code", p.Code)
	}
	ps.need(f, i, "name", p.Name)
	if len(p.Categories) == 0 {
		ps.add(f, i, "categories: missing")
	}
	for _, c := range p.Categories {
		ps.category(f, i, c)
	}
	if p.Listed.IsZero() {
		ps.add(f, i, "listed: missing")
	}
	ps.period(f, i, p.Listed, p.Delisted, "listed", "delisted")
}

func checkExporter(ps *problems, f string, i int, e ExporterRecord) {
	if !IsExporterCode(e.Code) {
		ps.add(f, i, "code: %q is not a customs registration code of 10 letters or digits", e.Code)
	}
	ps.need(f, i, "name", e.Name)
	switch e.Rating {
	case RatingAdvanced, RatingGeneral, RatingDiscredited:
	default:
		ps.add(f, i, "rating: %q is not a credit rating", e.Rating)
	}
	if e.Declarations < 0 || e.PriorRefusals < 0 || e.PriorRefusals > e.Declarations {
		ps.add(f, i, "declarations and priorRefusals: need 0 <= priorRefusals <= declarations")
	}
}

func clean(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// NotifiedBody implements Registry.
func (r *FileRegistry) NotifiedBody(_ context.Context, number string) (NotifiedBody, bool, error) {
	b, ok := r.bodies[strings.TrimSpace(number)]
	return b, ok, nil
}

// FDAEstablishment implements Registry.
func (r *FileRegistry) FDAEstablishment(_ context.Context, number string) (FDAEstablishment, bool, error) {
	e, ok := r.fda[strings.TrimSpace(number)]
	return e, ok, nil
}

// Clearance510K implements Registry.
func (r *FileRegistry) Clearance510K(_ context.Context, number string) (Clearance510K, bool, error) {
	c, ok := r.k510[clean(number)]
	return c, ok, nil
}

// EUA implements Registry.
func (r *FileRegistry) EUA(_ context.Context, number string) (EUA, bool, error) {
	e, ok := r.eua[clean(number)]
	return e, ok, nil
}

// NIOSHApproval implements Registry.
func (r *FileRegistry) NIOSHApproval(_ context.Context, number string) (NIOSHApproval, bool, error) {
	a, ok := r.niosh[clean(number)]
	return a, ok, nil
}

// NMPARegistration implements Registry. The ASCII form finds a registration by its digits; the
// Chinese form must also name the issuing authority and kind the registration has.
func (r *FileRegistry) NMPARegistration(_ context.Context, number string) (NMPARegistration, bool, error) {
	number = strings.TrimSpace(number)
	digits, ok := NMPADigits(number)
	if !ok {
		return NMPARegistration{}, false, nil
	}
	reg, ok := r.nmpa[digits]
	if !ok {
		return NMPARegistration{}, false, nil
	}
	if !strings.HasPrefix(number, "NMPA-") && strings.TrimSuffix(number, "号") != reg.Number {
		return NMPARegistration{}, false, nil
	}
	return reg, true, nil
}

// QualifiedProducer implements Registry.
func (r *FileRegistry) QualifiedProducer(_ context.Context, nameOrCode string) (QualifiedProducer, bool, error) {
	if p, ok := r.producers[clean(nameOrCode)]; ok {
		return p, true, nil
	}
	key := NormalizeName(nameOrCode)
	if key == "" {
		return QualifiedProducer{}, false, nil
	}
	p, ok := r.byName[key]
	return p, ok, nil
}

// ExporterRecord implements Registry.
func (r *FileRegistry) ExporterRecord(_ context.Context, code string) (ExporterRecord, bool, error) {
	e, ok := r.exporters[clean(code)]
	return e, ok, nil
}

// Exporters returns every exporter record, by code.
func (r *FileRegistry) Exporters() []ExporterRecord {
	out := make([]ExporterRecord, 0, len(r.exporters))
	for _, e := range r.exporters {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b ExporterRecord) int { return strings.Compare(a.Code, b.Code) })
	return out
}
