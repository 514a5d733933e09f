package declaration

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of the free-text fields of a declaration, in bytes of UTF-8. They keep a declaration,
// and every payload that carries it, far below what a Temporal payload may hold.
const (
	MaxNameBytes          = 200
	MaxAddressBytes       = 500
	MaxDescriptionBytes   = 500
	MaxCodeBytes          = 100 // references, numbers, issuers, units, line IDs
	MaxJustificationBytes = 2000
	// MaxLines, MaxCertificates and MaxDocuments bound the lists of a declaration.
	MaxLines        = 500
	MaxCertificates = 100
	MaxDocuments    = 100
)

// TextProblem returns why s cannot be the value of a text field, or "" when it can: it must be
// valid UTF-8 of at most max bytes, without control characters (a line break or tab only where
// multiline allows it) and without the invisible characters that reorder or hide text on screen
// (bidirectional controls, zero-width characters).
func TextProblem(s string, max int, multiline bool) string {
	if len(s) > max {
		return fmt.Sprintf("%d bytes is longer than the %d this field may hold", len(s), max)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for i, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if hidden(r) {
			return fmt.Sprintf("holds the control character %s at byte %d", strconv.QuoteRune(r), i)
		}
	}
	return ""
}

// hidden reports whether r is a control character, or one that changes how the text around it is
// shown without being seen itself.
func hidden(r rune) bool {
	if unicode.IsControl(r) {
		return true
	}
	switch {
	case r >= 0x200B && r <= 0x200F, // zero-width space, joiners, directional marks
		r >= 0x202A && r <= 0x202E, // bidirectional embeddings and overrides
		r >= 0x2066 && r <= 0x2069, // bidirectional isolates
		r == 0xFEFF:                // zero-width no-break space
		return true
	}
	return false
}

// Printable returns s as one line a terminal or a table may show: control and invisible
// characters, line breaks and tabs among them, are written as escapes (\n, \x1b, \u202e) and
// invalid UTF-8 bytes as \xNN, so that text from a payload can neither move the cursor, recolour
// the screen, break a table's columns nor hide what follows it.
func Printable(s string) string {
	clean := utf8.ValidString(s)
	if clean {
		for _, r := range s {
			if hidden(r) {
				clean = false
				break
			}
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case hidden(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Clip cuts s to at most n bytes, at a character boundary, so that a refusal that repeats a
// caller's text stays within its bound and valid UTF-8.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
