package declaration

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
)

// iso4217Digits is the minor unit of every currency in circulation, as ISO 4217 lists it
// (as of 2026): 2 unless named here.
var iso4217Digits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0,
	"VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// iso4217 lists the 155 ISO 4217 codes of the currencies in circulation: no fund codes, precious
// metals or withdrawn currencies.
const iso4217 = "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BTN BWP BYN " +
	"BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP " +
	"GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS " +
	"KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR " +
	"MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD " +
	"RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP " +
	"TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG"

// TestCurrenciesAreISO4217s: the currencies accepted are exactly ISO 4217's in circulation, each
// with ISO 4217's minor unit, whatever x/text's CLDR data says.
func TestCurrenciesAreISO4217s(t *testing.T) {
	want := strings.Fields(iso4217)
	var got []string
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				if s := string([]rune{a, b, c}); IsCurrencyCode(s) {
					got = append(got, s)
				}
			}
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("currencies accepted:\n%s\nwant ISO 4217's %d:\n%s", strings.Join(got, " "), len(want), iso4217)
	}
	for _, c := range want {
		digits, ok := iso4217Digits[c]
		if !ok {
			digits = 2
		}
		if got := MinorDigits(c); got != digits {
			t.Errorf("MinorDigits(%s) = %d, want ISO 4217's %d", c, got, digits)
		}
	}
}

// TestOverridesAreStillNeeded: each correction of x/text's data corrects something x/text gets
// wrong. When an update of golang.org/x/text brings its data up to date, this fails, naming the
// corrections to drop.
func TestOverridesAreStillNeeded(t *testing.T) {
	for c, digits := range minorUnits {
		if u, err := currency.ParseISO(c); err == nil {
			if scale, _ := currency.Standard.Rounding(u); scale == digits {
				t.Errorf("minorUnits[%s]: x/text says %d digits too; drop the correction", c, scale)
			}
		}
	}
	tender := xtextTender()
	for c := range circulating {
		if tender[c] {
			t.Errorf("circulating: x/text has %s in circulation; drop it", c)
		}
	}
	for c := range withdrawn {
		if !tender[c] {
			t.Errorf("withdrawn: x/text does not have %s in circulation; drop it", c)
		}
	}
	for c := range notCountries {
		if r, err := language.ParseRegion(c); err != nil || !r.IsCountry() {
			t.Errorf("notCountries: x/text does not call %s a country; drop it", c)
		}
	}
}

// TestCodesOfTheExamplesAndTests: every currency the examples and the tests of the engine write
// has the minor unit its amounts are written in.
func TestCodesOfTheExamplesAndTests(t *testing.T) {
	for c, want := range map[string]int{"USD": 2, "EUR": 2, "CNY": 2, "GBP": 2, "CHF": 2, "HKD": 2, "AUD": 2, "CAD": 2, "SGD": 2,
		"INR": 2, "BRL": 2, "RUB": 2, "JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3} {
		if got := MinorDigits(c); got != want || !IsCurrencyCode(c) {
			t.Errorf("%s: %d digits (a currency: %v), want %d", c, got, IsCurrencyCode(c), want)
		}
	}
	if got := fmt.Sprint(MinorDigits("XYZ"), MinorDigits("")); got != "2 2" {
		t.Errorf("an unknown currency has %s digits, want 2", got)
	}
}

// TestCountriesAreISO3166s: the countries accepted are the 249 officially assigned ISO 3166-1
// alpha-2 codes, in capitals only: not x/text's deprecated, reserved or user-assigned regions.
func TestCountriesAreISO3166s(t *testing.T) {
	var got []string
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			if s := string([]rune{a, b}); IsCountryCode(s) {
				got = append(got, s)
			}
		}
	}
	if len(got) != 249 || !sort.StringsAreSorted(got) {
		t.Errorf("%d countries, want 249: %v", len(got), got)
	}
	for _, c := range []string{"AN", "CS", "NT", "SU", "YU", "UK", "EU", "XK", "FX", "TP", "ZR", "DD", "AC", "CP", "DG", "EA", "IC", "TA",
		"UN", "EZ", "QO", "ZZ", "AA", "cn", "Cn", "CHN", "156", "C", ""} {
		if IsCountryCode(c) {
			t.Errorf("IsCountryCode(%q) = true", c)
		}
	}
	for _, c := range []string{"CN", "US", "GB", "SS", "BQ", "CW", "SX", "AX", "BL", "MF", "AQ", "BV", "HM", "UM", "PS", "EH", "TW", "HK", "MO"} {
		if !IsCountryCode(c) {
			t.Errorf("IsCountryCode(%q) = false", c)
		}
	}
}
