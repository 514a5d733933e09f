package declaration

import (
	"strings"
	"sync"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
)

// The country and currency codes come from golang.org/x/text, whose data is the Unicode CLDR's.
// CLDR is not ISO: it names regions ISO 3166-1 does not assign, and its currency data (CLDR 32,
// 2017, in the x/text this module uses) gives the decimals in use rather than ISO 4217's minor
// units for some currencies, and predates the currencies introduced or withdrawn since. The
// corrections below make the answers ISO's; TestOverridesAreStillNeeded fails when an update of
// x/text makes one unnecessary.

// IsCountryCode reports whether s is an officially assigned ISO 3166-1 alpha-2 code, in
// capitals: a region x/text counts as a country, less the codes ISO 3166-1 withdrew (those CLDR
// replaces by another, such as UK by GB, and notCountries), those it reserves (with no alpha-3
// code or no UN M49 number, such as EU or AC) and the user-assigned XK.
func IsCountryCode(s string) bool {
	if len(s) != 2 || !upper(s) || notCountries[s] {
		return false
	}
	r, err := language.ParseRegion(s)
	return err == nil && r.String() == s && r.IsCountry() && !r.IsPrivateUse() && r.Canonicalize() == r &&
		r.ISO3() != "ZZZ" && r.M49() != 0
}

// notCountries are codes ISO 3166-1 withdrew that x/text still counts as countries, since each
// was split into several: the Netherlands Antilles, Serbia and Montenegro, the Neutral Zone, the
// USSR and Yugoslavia.
var notCountries = setOf("AN CS NT SU YU")

// IsCurrencyCode reports whether s is the ISO 4217 code, in capitals, of a currency in
// circulation: one x/text has in use as legal tender in some region, corrected by circulating and
// withdrawn. Fund codes, precious metals and withdrawn currencies are not.
func IsCurrencyCode(s string) bool {
	if len(s) != 3 || !upper(s) || withdrawn[s] {
		return false
	}
	return circulating[s] || xtextTender()[s]
}

// circulating are ISO 4217 currencies in circulation that x/text does not have in use: introduced
// after its data (MRU 2018, VES 2018, VED 2021, SLE 2022, ZWG 2024, XCG 2025), or, for SVC, in
// circulation beside the US dollar that CLDR records as El Salvador's only tender.
var circulating = setOf("MRU SLE SVC VED VES XCG ZWG")

// withdrawn are ISO 4217 currencies withdrawn since x/text's data: replaced (ANG by XCG, MRO by
// MRU, SLL by SLE, VEF by VES), given up for the euro (HRK 2023, BGN 2026), or abolished (CUC
// 2021).
var withdrawn = setOf("ANG BGN CUC HRK MRO SLL VEF")

// MinorDigits returns how many digits a currency's minor unit has (its ISO 4217 exponent): 2 for
// most, 0 for the yen or the won, 3 for the Kuwaiti or Bahraini dinar; 2 for a code that is no
// currency.
func MinorDigits(code string) int {
	if d, ok := minorUnits[code]; ok {
		return d
	}
	u, err := currency.ParseISO(code)
	if err != nil || u.String() != code {
		return 2
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale
}

// minorUnits are ISO 4217's minor units where x/text's differ: CLDR gives the decimals in use (0
// for these, the Iraqi dinar included, whose ISO exponent is 3), ISO 4217 the minor unit amounts
// are written in, as the declaration's are; and x/text does not know the currencies circulating
// names.
var minorUnits = map[string]int{
	"AFN": 2, "ALL": 2, "AMD": 2, "COP": 2, "GYD": 2, "IDR": 2, "IRR": 2, "KPW": 2, "LAK": 2, "LBP": 2, "MGA": 2,
	"MMK": 2, "MNT": 2, "MUR": 2, "PKR": 2, "RSD": 2, "SOS": 2, "SYP": 2, "TZS": 2, "UZS": 2, "YER": 2,
	"IQD": 3,
	"MRU": 2, "SLE": 2, "VED": 2, "VES": 2, "XCG": 2, "ZWG": 2,
}

// xtextTender is the set of the currencies x/text has in use as legal tender in some region.
var xtextTender = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for it := currency.Query(); it.Next(); {
		m[it.Unit().String()] = true
	}
	return m
})

// upper reports whether s is ASCII capital letters only.
func upper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func setOf(codes string) map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(codes) {
		m[c] = true
	}
	return m
}
