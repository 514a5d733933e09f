package declaration_test

import (
	"testing"

	"github.com/medsupply/customs/declaration"
)

func TestFormatMoney(t *testing.T) {
	for _, tt := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{8_640_000, "USD", "86,400.00 USD"}, {5, "EUR", "0.05 EUR"}, {5_000_000, "JPY", "5,000,000 JPY"},
		{1_234_567, "KWD", "1,234.567 KWD"}, {-150, "USD", "-1.50 USD"}, {0, "CNY", "0.00 CNY"},
		{1500, "BHD", "1.500 BHD"}, {15000, "KRW", "15,000 KRW"},
		{-9223372036854775808, "USD", "-92,233,720,368,547,758.08 USD"},
	} {
		if got := declaration.FormatMoney(tt.amount, tt.currency); got != tt.want {
			t.Errorf("FormatMoney(%d, %s) = %q, want %q", tt.amount, tt.currency, got, tt.want)
		}
	}
}
