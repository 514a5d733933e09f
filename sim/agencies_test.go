package sim

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/trs"
	"github.com/medsupply/customs/workflows"
)

// respiratorAgencies make both NMPA's and SAMR's permits needed for the yellow example's
// respirators, each granted by the agency's checks after a fixed time.
func respiratorAgencies(nmpa, samr time.Duration) []Agency {
	rule := func(a string) policy.AgencyRule {
		return policy.AgencyRule{Agency: a, Categories: []declaration.Category{declaration.CategoryRespirator}, Reason: a + " permit of respirators"}
	}
	return []Agency{{Rule: rule(agency.NMPA), CheckTime: Fixed(nmpa)}, {Rule: rule(agency.SAMR), CheckTime: Fixed(samr)}}
}

// share is the party's share of the group's elapsed time.
func share(t *testing.T, g trs.Group, party string) float64 {
	t.Helper()
	total := 0.0
	for _, p := range g.Parties {
		total += p.Share
	}
	require.InDelta(t, 1, total, 1e-9, "the parties' shares add up to 1: %+v", g.Parties)
	for _, p := range g.Parties {
		if p.Name == party {
			return p.Share
		}
	}
	t.Fatalf("no party %s in %+v", party, g.Parties)
	return 0
}

// The yellow respirators' document officer decides in an hour; NMPA's checks take 10 hours and
// SAMR's 4, both asked as the declaration is accepted. The release waits from the first hour on
// both: SAMR answers at 4 hours, NMPA at 10. Told apart, the 3 hours both held the clearance are
// 1.5 each: NMPA 7.5 hours, SAMR 1.5, customs 1, of 10 hours elapsed. With NMPA's checks at 6
// hours, NMPA holds it 3.5 hours of 6.
func TestAgenciesTimeByHand(t *testing.T) {
	cfg := Config{N: 3, Seed: 7, Arrivals: Fixed(2 * day), Mix: mix(t, yellowExample), ExpeditedShare: 0,
		Officers: staff(t, ""), OfficerTime: Fixed(time.Hour), Agencies: respiratorAgencies(10*time.Hour, 4*time.Hour)}
	out := run(t, cfg)
	for _, r := range out.Results {
		require.Equal(t, workflows.StateReleased, r.State, r.DeclarationID)
		require.Equal(t, policy.LaneYellow, r.Lane, r.DeclarationID)
		require.Equal(t, 10*time.Hour, r.Elapsed.D(), r.DeclarationID)
		require.Len(t, r.Permits, 2)
		require.Equal(t, map[string]policy.Duration{agency.NMPA: policy.Duration(450 * time.Minute), agency.SAMR: policy.Duration(90 * time.Minute)}, r.AgencyTime,
			"each agency's wait from the first hour, the 3 hours both held the clearance shared")
		require.Equal(t, policy.Duration(9*time.Hour), r.OtherAgencyTime, "the time any agency held the clearance")
	}
	for _, c := range out.Clearances {
		require.Equal(t, map[string]time.Duration{agency.NMPA: 450 * time.Minute, agency.SAMR: 90 * time.Minute}, c.Agencies, c.DeclarationID)
		require.Equal(t, 9*time.Hour, c.OtherAgency, c.DeclarationID)
	}
	all := out.Report.Groups[0]
	require.Equal(t, "all", all.Dimension)
	require.InDelta(t, 0.75, share(t, all, agency.NMPA), 1e-9)
	require.InDelta(t, 0.15, share(t, all, agency.SAMR), 1e-9)
	require.InDelta(t, 0.10, share(t, all, trs.PartyCustoms), 1e-9)
	require.Equal(t, "of 10h 0m elapsed: customs 1h 0m (10%), exporter 0s (0%), NMPA 7h 30m (75%), SAMR 1h 30m (15%)", out.Headline.TimeByParty)
	require.Equal(t, []AgencyStats{{Agency: agency.NMPA, Requests: 3, MeanReview: 10 * time.Hour, granted: 3, reviewed: 30 * time.Hour},
		{Agency: agency.SAMR, Requests: 3, MeanReview: 4 * time.Hour, granted: 3, reviewed: 12 * time.Hour}}, out.Stats.Agencies)

	var b bytes.Buffer
	require.NoError(t, WriteHeadline(&b, out))
	require.Contains(t, b.String(), "Time by party, released: of 10h 0m elapsed: customs 1h 0m (10%), exporter 0s (0%), NMPA 7h 30m (75%), SAMR 1h 30m (15%)")
	require.Regexp(t, `NMPA\s+3\s+0\s+0\s+10h 0m`, b.String())
	b.Reset()
	require.NoError(t, trs.WriteTable(&b, out.Report))
	require.Contains(t, b.String(), "of 10h 0m elapsed: customs 1h 0m (10%), exporter 0s (0%), NMPA 7h 30m (75%), SAMR 1h 30m (15%)")
	require.Contains(t, b.String(), "agencies=NMPA(checks fixed:10h),SAMR(checks fixed:4h)")

	cfg.Agencies = respiratorAgencies(6*time.Hour, 4*time.Hour)
	faster := run(t, cfg)
	all = faster.Report.Groups[0]
	require.Equal(t, 6*time.Hour, faster.Results[0].Elapsed.D())
	require.InDelta(t, 3.5/6, share(t, all, agency.NMPA), 1e-9)
	require.InDelta(t, 1.5/6, share(t, all, agency.SAMR), 1e-9)
	require.InDelta(t, 1.0/6, share(t, all, trs.PartyCustoms), 1e-9)
}

// Without agencies nothing is asked, as before: the clearances' time is customs' and the
// exporter's alone.
func TestNoAgenciesNoPermits(t *testing.T) {
	out := run(t, Config{N: 2, Seed: 7, Arrivals: Fixed(day), Mix: mix(t, yellowExample), ExpeditedShare: 0,
		Officers: staff(t, ""), OfficerTime: Fixed(time.Hour)})
	for _, r := range out.Results {
		require.Empty(t, r.Permits)
		require.Nil(t, r.AgencyTime)
	}
	require.Empty(t, out.Stats.Agencies)
	var names []string
	for _, p := range out.Headline.Parties {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{trs.PartyCustoms, trs.PartyExporter}, names)
}

// The default agencies on the default mix: NMPA is asked for the test kits, reagents, ventilators,
// thermometers and protective clothing, SAMR for the respirators; each has its share of the
// released clearances' time, the shares of every group add up to 1, and a seed gives one run.
// Slower agency officers take a larger share.
func TestDefaultAgenciesOnTheDefaultMix(t *testing.T) {
	m, err := DefaultMix("../examples")
	require.NoError(t, err)
	cfg := Config{N: 80, Seed: 5, Arrivals: Exponential{Avg: time.Hour}, Mix: m, ExpeditedShare: 0.2,
		Officers: DefaultOfficers(), OfficerTime: LogNormal{Median: time.Hour, P90: 4 * time.Hour},
		ExporterTime: LogNormal{Median: day, P90: 3 * day}, RequestShare: 0.5, Agencies: DefaultAgencies()}
	out := run(t, cfg)
	asked := map[string]int{}
	for _, a := range out.Stats.Agencies {
		asked[a.Agency] = a.Requests
	}
	require.Positive(t, asked[agency.NMPA])
	require.Positive(t, asked[agency.SAMR])
	for _, r := range out.Results {
		for _, p := range r.Permits {
			require.Contains(t, []string{agency.NMPA, agency.SAMR}, p.Agency)
			if p.Result != nil {
				require.Equal(t, agency.Granted, p.Result.Disposition)
			}
		}
	}
	for _, g := range out.Report.Groups {
		if g.Total.Max > 0 { // a group whose clearances ended at once (refused as lodged) has no time to share
			share(t, g, trs.PartyCustoms)
		}
	}
	all := out.Report.Groups[0]
	nmpa, samr := share(t, all, agency.NMPA), share(t, all, agency.SAMR)
	require.Positive(t, nmpa+samr)
	require.Contains(t, out.Headline.TimeByParty, " NMPA ")
	require.Contains(t, out.Headline.TimeByParty, " SAMR ")

	again := run(t, cfg)
	for i := range out.Results {
		require.Equal(t, out.Results[i].Elapsed, again.Results[i].Elapsed)
		require.Equal(t, out.Results[i].AgencyTime, again.Results[i].AgencyTime)
	}

	slow := DefaultAgencies()
	for i := range slow {
		slow[i].OfficerShare, slow[i].OfficerTime = 0.5, LogNormal{Median: 5 * day, P90: 12 * day}
	}
	cfg.Agencies = slow
	slower := run(t, cfg)
	t.Logf("NMPA, SAMR shares: %.3f, %.3f; with slower agency officers %.3f, %.3f", nmpa, samr,
		share(t, slower.Report.Groups[0], agency.NMPA), share(t, slower.Report.Groups[0], agency.SAMR))
	require.Greater(t, share(t, slower.Report.Groups[0], agency.NMPA)+share(t, slower.Report.Groups[0], agency.SAMR), nmpa+samr)
}

func TestParseAgencies(t *testing.T) {
	as, err := ParseAgencies("NMPA,SAMR", []string{"NMPA:checks=fixed:2h;officer-share=0.3;officer=lognormal:median=3d,p90=9d", "SAMR:officer-share=0"})
	require.NoError(t, err)
	require.Len(t, as, 2)
	require.Equal(t, agency.NMPA, as[0].Rule.Agency)
	require.Equal(t, DefaultAgencies()[0].Rule, as[0].Rule)
	require.Equal(t, Fixed(2*time.Hour), as[0].CheckTime)
	require.Equal(t, 0.3, as[0].OfficerShare)
	require.Equal(t, LogNormal{Median: 3 * day, P90: 9 * day}, as[0].OfficerTime)
	require.Equal(t, DefaultAgencies()[1].CheckTime, as[1].CheckTime)
	require.Zero(t, as[1].OfficerShare)

	as, err = ParseAgencies("none", nil)
	require.NoError(t, err)
	require.Empty(t, as)
	as, err = ParseAgencies("HEALTH", nil)
	require.NoError(t, err)
	require.Equal(t, 1.0, as[0].OfficerShare, "an agency without checks of its own: its officer reviews every request")
	for _, bad := range []struct {
		names    string
		settings []string
	}{{"nmpa", nil}, {"NMPA,NMPA", nil}, {"NMPA", []string{"SAMR:officer-share=0.1"}}, {"NMPA", []string{"NMPA:officer-share=2"}},
		{"NMPA", []string{"NMPA:checks=sometimes"}}, {"NMPA", []string{"NMPA:speed=1"}}, {"NMPA", []string{"NMPA:checks"}}} {
		_, err := ParseAgencies(bad.names, bad.settings)
		require.Error(t, err, "%q %q", bad.names, bad.settings)
	}
}

func TestConfigValidateAgencies(t *testing.T) {
	cfg := Config{N: 1, Arrivals: Fixed(time.Hour), Mix: mix(t, yellowExample), Officers: staff(t, ""),
		OfficerTime: Fixed(time.Hour), ExporterTime: Fixed(time.Hour), Agencies: DefaultAgencies()}
	require.NoError(t, cfg.Validate())
	health, err := ParseAgencies("HEALTH", nil)
	require.NoError(t, err)
	cfg.Agencies = health
	require.ErrorContains(t, cfg.Validate(), "HEALTH: the policy's single window says for no category")
	cfg.Policy = policy.Default()
	cfg.Policy.SingleWindow = []policy.AgencyRule{{Agency: "HEALTH", Categories: []declaration.Category{declaration.CategoryVaccine}, Reason: "health authority"}}
	require.NoError(t, cfg.Validate())
	cfg.Agencies = nil
	require.ErrorContains(t, cfg.Validate(), "the policy's single window names HEALTH, which has no review time")
	cfg.Agencies = []Agency{{Rule: DefaultAgencies()[0].Rule, OfficerShare: math.NaN()}, DefaultAgencies()[0]}
	cfg.Policy.SingleWindow = nil
	err = cfg.Validate()
	require.ErrorContains(t, err, "NMPA: check time missing")
	require.ErrorContains(t, err, "NMPA: officer share NaN is not between 0 and 1")
	require.ErrorContains(t, err, "NMPA is named twice")
}
