package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"

	"github.com/medsupply/customs/audit/audittest"
)

// BenchmarkReplay replays every golden history, of this release and the earlier ones, once per
// iteration and reports histories per second, the auditor's replay speed.
func BenchmarkReplay(b *testing.B) {
	hs := goldenHistories(b)
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

// BenchmarkReplayParallel replays the golden histories on every processor at once (GOMAXPROCS
// goroutines, each through its own replayer) and reports histories per second: what the replay
// adds up to when the auditor has the processors to itself.
func BenchmarkReplayParallel(b *testing.B) {
	hs := goldenHistories(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for _, h := range hs {
				if err := Replay(h, Converters{}); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	b.ReportMetric(float64(b.N*len(hs))/b.Elapsed().Seconds(), "histories/s")
}

// goldenHistories reads the golden histories of this release and the earlier ones.
func goldenHistories(b *testing.B) []*historypb.History {
	b.Helper()
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
	return hs
}

// BenchmarkReplayArchive writes the golden histories, of this release and the earlier ones, into
// a directory in the server's archive form, then replays the directory as `auditor replay
// --archive` does (ReplayFiles, DefaultParallel at once: the files read, decoded and replayed
// with no server) and reports histories per second and the processor time per history.
func BenchmarkReplayArchive(b *testing.B) {
	hs := goldenHistories(b)
	dir := b.TempDir()
	var files []string
	for i, h := range hs {
		files = append(files, audittest.WriteArchived(b, dir, fmt.Sprintf("%03d_0.history", i), h))
	}
	cpu := processorTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := ReplayFiles(context.Background(), files, QueryOptions{})
		if err != nil || s.Replayed != len(files) {
			b.Fatalf("%s, %v", s, err)
		}
	}
	n := float64(b.N * len(files))
	b.ReportMetric(n/b.Elapsed().Seconds(), "histories/s")
	b.ReportMetric(float64((processorTime()-cpu).Microseconds())/1000/n, "cpu-ms/history")
}

// processorTime is the processor time this process has used, user and system.
func processorTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
