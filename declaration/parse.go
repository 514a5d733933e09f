package declaration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxSize is the largest declaration Parse accepts, in bytes.
const MaxSize = 1 << 20

// MaxDepth is the deepest nesting of JSON objects and arrays Parse accepts. A declaration needs
// four levels (declaration, certificates, a certificate, its lines); the bound leaves room and
// stops a hostile input long before it costs anything.
const MaxDepth = 16

// dateLayout is the plain date Parse accepts besides RFC 3339 for a time field.
const dateLayout = "2006-01-02"

// Parse decodes a declaration from its JSON form, strictly: the input must be valid UTF-8, at
// most MaxSize bytes, a single JSON object nested at most MaxDepth deep, with nothing after it.
// Field names must match exactly (no case folding) and appear once; an unknown field, a value of
// the wrong JSON type, a number that is not a whole number or does not fit in an int64, and a
// time that is neither RFC 3339 (2020-04-01T08:00:00+08:00) nor a plain date (2020-04-01, read
// as midnight UTC at the start of that day) are all problems. null is accepted only where the
// Go value can be nil: a list (read as empty) and expedited (read as absent).
//
// Parse reports every problem it finds, each naming its field path (lines[0].colour), in a
// *ValidationError; it stops at the first syntax error or at excessive nesting, after which
// nothing more can be named. On any problem it returns the zero Declaration. Parse does not
// validate the content: see Validate and ParseAndValidate.
func Parse(data []byte) (Declaration, error) {
	var d Declaration
	if err := decode(data, &d, "the declaration"); err != nil {
		return Declaration{}, err
	}
	return d, nil
}

// Decode decodes data into the value v points to, by Parse's rules: what the exporter writes
// beside a declaration (documents and certificates supplied later) reads as the declaration does.
// It returns a *ValidationError; v is left partly filled on one.
func Decode(data []byte, v any) error { return decode(data, v, "the input") }

func decode(data []byte, v any, what string) error {
	if len(data) > MaxSize {
		return &ValidationError{Problems: []Problem{{
			Reason: fmt.Sprintf("%s is %d bytes, more than the limit of %d", what, len(data), MaxSize),
		}}}
	}
	if !utf8.Valid(data) {
		return &ValidationError{Problems: []Problem{{
			Reason: fmt.Sprintf("invalid UTF-8 at byte %d", invalidUTF8At(data)),
		}}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &parser{data: data, dec: dec}
	if err := p.value(reflect.ValueOf(v).Elem(), ""); err == nil {
		p.end()
	}
	return p.problems.err()
}

// ParseAndValidate parses a declaration and validates it. On a parse failure it returns the
// zero Declaration and Parse's error; on a validation failure it returns the decoded
// declaration too, so that the caller can name it, with Validate's error. Both errors are a
// *ValidationError.
func ParseAndValidate(data []byte) (Declaration, error) {
	d, err := Parse(data)
	if err != nil {
		return Declaration{}, err
	}
	return d, d.Validate()
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// errStop ends a parse that cannot go on; the reason is already among the problems.
var errStop = errors.New("parse stopped")

// parser walks the JSON tokens of a declaration and fills in the Go value as it goes, guided by
// the value's type. Walking tokens rather than calling json.Unmarshal lets it name the path of
// every problem, collect them all, read plain dates into time.Time, and bound the nesting
// without recursing on the input: it recurses only along the Go type, and skips unwanted values
// iteratively.
type parser struct {
	data     []byte
	dec      *json.Decoder
	depth    int
	problems problems
}

var timeType = reflect.TypeFor[time.Time]()

// value reads the next JSON value into v; path names v for problems.
func (p *parser) value(v reflect.Value, path string) error {
	tok, err := p.token(path)
	if err != nil {
		return err
	}
	if tok == nil { // null
		switch v.Kind() {
		case reflect.Pointer, reflect.Slice:
			v.SetZero()
			return nil
		}
		p.problems.add(path, "%smust be %s, not null", subject(path), expected(v.Type()))
		return nil
	}
	t := v.Type()
	switch {
	case t == timeType:
		s, ok := tok.(string)
		if !ok {
			return p.mismatch(tok, t, path)
		}
		tm, ok := parseTime(s)
		if !ok {
			p.problems.add(path, "%s is neither an RFC 3339 time such as 2020-04-01T08:00:00+08:00 nor a date such as 2020-04-01", quote(s))
			return nil
		}
		v.Set(reflect.ValueOf(tm))
		return nil
	case t.Kind() == reflect.String:
		s, ok := tok.(string)
		if !ok {
			return p.mismatch(tok, t, path)
		}
		v.SetString(s)
		return nil
	case t.Kind() == reflect.Bool:
		b, ok := tok.(bool)
		if !ok {
			return p.mismatch(tok, t, path)
		}
		v.SetBool(b)
		return nil
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return p.mismatch(tok, t, path)
		}
		if i, err := strconv.ParseInt(string(n), 10, t.Bits()); err == nil {
			v.SetInt(i)
		} else if errors.Is(err, strconv.ErrRange) || overflows(string(n), t.Bits()) {
			p.problems.add(path, "%s does not fit in a %d-bit integer", clip(string(n)), t.Bits())
		} else {
			p.problems.add(path, "must be a whole number written in digits, not %s", clip(string(n)))
		}
		return nil
	case t.Kind() == reflect.Pointer:
		e := reflect.New(t.Elem())
		if err := p.filled(tok, e.Elem(), path); err != nil {
			return err
		}
		v.Set(e)
		return nil
	case t.Kind() == reflect.Slice:
		if tok != json.Delim('[') {
			return p.mismatch(tok, t, path)
		}
		return p.array(v, path)
	case t.Kind() == reflect.Struct:
		if tok != json.Delim('{') {
			return p.mismatch(tok, t, path)
		}
		return p.object(v, path)
	}
	p.problems.add(path, "the declaration model cannot hold a JSON value in a Go %s", t)
	return p.skip(tok)
}

// filled reads into v a value whose first token is already read; only pointers need it.
func (p *parser) filled(tok json.Token, v reflect.Value, path string) error {
	switch {
	case v.Kind() == reflect.Struct && v.Type() != timeType:
		if tok != json.Delim('{') {
			return p.mismatch(tok, v.Type(), path)
		}
		return p.object(v, path)
	case v.Kind() == reflect.Slice:
		if tok != json.Delim('[') {
			return p.mismatch(tok, v.Type(), path)
		}
		return p.array(v, path)
	}
	p.problems.add(path, "the declaration model cannot hold a JSON value in a Go *%s", v.Type())
	return p.skip(tok)
}

// array reads the elements of a JSON array whose '[' is already read.
func (p *parser) array(v reflect.Value, path string) error {
	if err := p.enter(path); err != nil {
		return err
	}
	v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	for i := 0; ; i++ {
		if !p.dec.More() {
			break
		}
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
		if err := p.value(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return p.close(path)
}

// object reads the members of a JSON object whose '{' is already read into the struct v.
func (p *parser) object(v reflect.Value, path string) error {
	if err := p.enter(path); err != nil {
		return err
	}
	fields := fieldsOf(v.Type())
	seen := make(map[string]bool, len(fields))
	for p.dec.More() {
		tok, err := p.token(path)
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok { // the decoder returns only strings here; keep the walk safe regardless
			p.problems.add(path, "expected a field name")
			return errStop
		}
		fpath := join(path, key)
		i, known := fields[key]
		switch {
		case !known:
			p.problems.add(fpath, "unknown field")
		case seen[key]:
			p.problems.add(fpath, "appears more than once")
		default:
			seen[key] = true
			if err := p.value(v.Field(i), fpath); err != nil {
				return err
			}
			continue
		}
		tok, err = p.token(fpath)
		if err != nil {
			return err
		}
		if err := p.skip(tok); err != nil {
			return err
		}
	}
	return p.close(path)
}

// enter counts one more level of nesting.
func (p *parser) enter(path string) error {
	p.depth++
	if p.depth > MaxDepth {
		p.problems.add(path, "nested more than %d levels deep", MaxDepth)
		return errStop
	}
	return nil
}

// close reads the ']' or '}' that ends the current array or object.
func (p *parser) close(path string) error {
	if _, err := p.token(path); err != nil {
		return err
	}
	p.depth--
	return nil
}

// skip reads past the rest of a value whose first token is tok, without recursion.
func (p *parser) skip(tok json.Token) error {
	open := 0
	for {
		switch tok {
		case json.Delim('['), json.Delim('{'):
			open++
			if p.depth+open > MaxDepth {
				// A delimiter is one byte: the offending one ends at the input offset.
				p.problems.add("", "nested more than %d levels deep at byte %d", MaxDepth, p.dec.InputOffset()-1)
				return errStop
			}
		case json.Delim(']'), json.Delim('}'):
			open--
		}
		if open == 0 {
			return nil
		}
		var err error
		if tok, err = p.token(""); err != nil {
			return err
		}
	}
}

// end checks that nothing but JSON white space follows the declaration.
func (p *parser) end() {
	rest := p.data[p.dec.InputOffset():]
	if i := bytes.IndexFunc(rest, func(r rune) bool { return !strings.ContainsRune(" \t\r\n", r) }); i >= 0 {
		p.problems.add("", "unexpected data after the declaration at byte %d", len(p.data)-len(rest)+i)
	}
}

// token reads the next token; a syntax error or an early end becomes the problem that stops the
// parse.
func (p *parser) token(path string) (json.Token, error) {
	tok, err := p.dec.Token()
	if err == nil {
		return tok, nil
	}
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		p.problems.add(path, "invalid JSON near byte %d: %s", syn.Offset, syn.Error())
	case err == io.EOF && p.depth == 0 && p.dec.InputOffset() == 0:
		p.problems.add(path, "no declaration: the input is empty")
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		p.problems.add(path, "invalid JSON: the input ends early")
	default:
		p.problems.add(path, "invalid JSON: %v", err)
	}
	return nil, errStop
}

// mismatch reports a value of the wrong JSON type and skips it.
func (p *parser) mismatch(tok json.Token, t reflect.Type, path string) error {
	p.problems.add(path, "%smust be %s, not %s", subject(path), expected(t), kindOf(tok))
	return p.skip(tok)
}

// subject names the declaration itself in a problem that has no field to name.
func subject(path string) string {
	if path == "" {
		return "the declaration "
	}
	return ""
}

// overflows reports whether a JSON number with a fraction or an exponent is too large in
// magnitude for a signed integer of the given bits.
func overflows(n string, bits int) bool {
	f, err := strconv.ParseFloat(n, 64)
	limit := math.Ldexp(1, bits-1)
	return errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0) || f >= limit || f < -limit
}

// expected names the JSON form a Go type is read from.
func expected(t reflect.Type) string {
	switch {
	case t == timeType:
		return "a time"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "a whole number"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Pointer:
		return expected(t.Elem())
	}
	return "an object"
}

// kindOf names the JSON type of a token.
func kindOf(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			return "a list"
		}
		return "an object"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// parseTime reads an RFC 3339 time or a plain date, the latter as midnight UTC.
func parseTime(s string) (time.Time, bool) {
	if len(s) == len(dateLayout) {
		t, err := time.Parse(dateLayout, s)
		return t, err == nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// fieldCache maps a struct type to its JSON field names and their indexes.
var fieldCache sync.Map // reflect.Type -> map[string]int

func fieldsOf(t reflect.Type) map[string]int {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]int)
	}
	f := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = sf.Name
		}
		f[name] = i
	}
	fieldCache.Store(t, f)
	return f
}

// join appends a field name to a path, quoting a name that is not a plain identifier so that a
// hostile name cannot break the one-problem-per-line form of the error.
func join(path, key string) string {
	if !plainKey(key) {
		key = quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func plainKey(s string) bool {
	if s == "" || len(s) > maxQuoted {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// maxQuoted bounds the runes of an input string repeated in a problem.
const maxQuoted = 64

// quote quotes s for a problem, shortened to maxQuoted runes.
func quote(s string) string {
	return strconv.Quote(clip(s))
}

// clip shortens s to maxQuoted runes, marking the cut with an ellipsis.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return s
	}
	n := 0
	for i := range s {
		if n == maxQuoted {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
