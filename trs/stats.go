// Package trs is a Time Release Study of clearances, after the WCO method: a timestamp at every
// stage, then count, mean, median, 90th percentile and maximum per stage and in total, split by
// lane, by procedure, by product category and by whether a biological review was needed, each
// set against the stage's allowance and the 20-day standard, with the time spent waiting on
// officers, on exporters and on automated checks.
package trs

import (
	"math"
	"sort"
	"time"
)

// Stats summarises a set of durations.
type Stats struct {
	Count  int           `json:"count"`
	Mean   time.Duration `json:"mean"`
	Median time.Duration `json:"median"`
	P90    time.Duration `json:"p90"`
	Max    time.Duration `json:"max"`
	// Within is the share (0-1) of durations within their allowance, where each has one.
	Within float64 `json:"within"`
}

// summarise computes the statistics of ds; within[i] says whether ds[i] kept its allowance.
// Percentiles interpolate linearly between the closest ranks (numpy's default), so the median
// of an even count is the mean of the middle two.
func summarise(ds []time.Duration, within []bool) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	sorted := append([]time.Duration(nil), ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	var sum float64
	for _, d := range sorted {
		sum += float64(d)
	}
	s := Stats{
		Count:  len(sorted),
		Mean:   time.Duration(math.Round(sum / float64(len(sorted)))),
		Median: percentile(sorted, 0.5),
		P90:    percentile(sorted, 0.9),
		Max:    sorted[len(sorted)-1],
	}
	if len(within) > 0 {
		n := 0
		for _, w := range within {
			if w {
				n++
			}
		}
		s.Within = float64(n) / float64(len(within))
	}
	return s
}

// percentile of sorted durations, p in [0,1], by linear interpolation.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 1 {
		return sorted[0]
	}
	rank := p * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	frac := rank - float64(lo)
	return time.Duration(math.Round(float64(sorted[lo]) + frac*float64(sorted[hi]-sorted[lo])))
}
