package declaration

import (
	"strconv"
	"strings"
)

// FormatMoney writes an amount in minor units with its currency's decimals and the thousands
// grouped: 8640000 USD as "86,400.00 USD", 5000000 JPY as "5,000,000 JPY". It is the one way the
// engine shows money, in findings, in the Web UI and on the command line.
func FormatMoney(minor int64, currency string) string {
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = -u
	}
	digits := MinorDigits(currency)
	div := uint64(1)
	for range digits {
		div *= 10
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	major := strconv.FormatUint(u/div, 10)
	for i, r := range major {
		if i > 0 && (len(major)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if digits > 0 {
		frac := strconv.FormatUint(u%div, 10)
		b.WriteByte('.')
		b.WriteString(strings.Repeat("0", digits-len(frac)) + frac)
	}
	return b.String() + " " + currency
}
