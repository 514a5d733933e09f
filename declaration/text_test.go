package declaration

import "testing"

func TestClipCutsAtACharacterBoundary(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{{"short", 10, "short"}, {"abcdef", 3, "abc"}, {"ab国", 3, "ab"}, {"ab国", 5, "ab国"}, {"国", 0, ""}} {
		if got := Clip(c.s, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
