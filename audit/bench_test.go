package audit

import (
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
)

// BenchmarkReplay replays every golden history, of this release and the earlier ones, once per
// iteration and reports histories per second, the auditor's replay speed.
func BenchmarkReplay(b *testing.B) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no golden histories: %v", err)
	}
	released, err := filepath.Glob(filepath.Join(releasedDir, "*", "*.json"))
	if err != nil || len(released) == 0 {
		b.Fatalf("no golden histories of earlier releases: %v", err)
	}
	files = append(files, released...)
	var hs []*historypb.History
	for _, f := range files {
		h, err := ReadHistoryFile(f)
		if err != nil {
			b.Fatal(err)
		}
		hs = append(hs, h)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, h := range hs {
			if err := Replay(h, Converters{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(hs))/b.Elapsed().Seconds(), "histories/s")
}
