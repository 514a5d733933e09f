package policy

import (
	"strings"
	"testing"
)

// TestPriorityKeys: the built-in policy dispatches urgent first and low last, each queue priority
// with its own key; a policy that names some priorities keeps the built-in keys of the others;
// anything else than a queue priority has no key, so its tasks keep their workflow's.
func TestPriorityKeys(t *testing.T) {
	p := Default()
	for q, want := range map[string]int{PriorityUrgent: 1, PriorityHigh: 2, PriorityNormal: 3, PriorityLow: 4, "": 0, "critical": 0} {
		if got := p.PriorityKey(q); got != want {
			t.Errorf("PriorityKey(%q) = %d, want %d", q, got, want)
		}
	}
	p.PriorityKeys = map[string]int{PriorityLow: 5}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.PriorityKey(PriorityLow) != 5 || p.PriorityKey(PriorityNormal) != 3 || p.PriorityKey(PriorityUrgent) != 1 {
		t.Errorf("low 5 alone: urgent %d, normal %d, low %d; want 1, 3, 5", p.PriorityKey(PriorityUrgent),
			p.PriorityKey(PriorityNormal), p.PriorityKey(PriorityLow))
	}
}

// TestPriorityKeysRefused: a policy file whose keys name no queue priority, fall outside the
// server's levels, or would dispatch a more urgent priority after a less urgent one is refused,
// naming each field and why.
func TestPriorityKeysRefused(t *testing.T) {
	base := string(defaultPolicy)
	for _, tc := range []struct {
		keys string
		want []string
	}{
		{`{"critical": 1}`, []string{`priorityKeys: "critical" is not a queue priority (urgent, high, normal, low)`}},
		{`{"urgent": 0}`, []string{"priorityKeys.urgent: 0 is not between 1 (dispatched first) and 5"}},
		{`{"low": 6}`, []string{"priorityKeys.low: 6 is not between 1 (dispatched first) and 5"}},
		{`{"urgent": 3, "high": 2}`, []string{"priorityKeys: urgent (3) would be dispatched after high (2)"}},
		{`{"normal": 5}`, []string{"priorityKeys: normal (5) would be dispatched after low (4)"}},
		{`{"high": "2"}`, []string{"priorityKeys", "int"}},
	} {
		b := strings.Replace(base, `"priorityKeys": {"urgent": 1, "high": 2, "normal": 3, "low": 4}`, `"priorityKeys": `+tc.keys, 1)
		if b == base {
			t.Fatal("the built-in policy has no priorityKeys to replace")
		}
		_, err := ParsePolicy([]byte(b))
		if err == nil {
			t.Errorf("priorityKeys %s: accepted", tc.keys)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("priorityKeys %s: %v, want it to say %q", tc.keys, err, w)
			}
		}
	}
}
