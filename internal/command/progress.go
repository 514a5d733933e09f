package command

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// IsTerminal reports whether w is a terminal (a character device), not a pipe or a file.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Progress draws one line on a terminal, redrawn in place at most ten times a second:
//
//	replay  4,210/10,000  42%  [========>            ]  812/s  eta 7s
//
// On anything but a terminal it writes nothing, so piped and logged output stays clean. A nil
// *Progress does nothing. It is safe for concurrent use.
type Progress struct {
	w     io.Writer
	label string
	now   func() time.Time

	mu    sync.Mutex
	done  int
	total int
	start time.Time
	drawn time.Time
	width int
}

// NewProgress returns a progress line for total items (0: unknown) on w, or nil when w is not a
// terminal.
func NewProgress(w io.Writer, label string, total int) *Progress {
	if !IsTerminal(w) {
		return nil
	}
	return newProgress(w, label, total, time.Now)
}

func newProgress(w io.Writer, label string, total int, now func() time.Time) *Progress {
	return &Progress{w: w, label: label, total: total, now: now, start: now()}
}

// Set records done of total items (total 0 keeps the known total) and redraws when due.
func (p *Progress) Set(done, total int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	if total > 0 {
		p.total = total
	}
	if t := p.now(); t.Sub(p.drawn) >= 100*time.Millisecond || (p.total > 0 && done >= p.total) {
		p.drawn = t
		p.draw(t)
	}
}

// Add records n more items done.
func (p *Progress) Add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	done := p.done + n
	p.mu.Unlock()
	p.Set(done, 0)
}

// Finish clears the line, so what the command prints next starts on a clean line.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}

func (p *Progress) draw(t time.Time) {
	line := p.line(t)
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width = len(line)
}

// line is the text of the progress line at t.
func (p *Progress) line(t time.Time) string {
	elapsed := t.Sub(p.start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.done) / s
	}
	if p.total <= 0 {
		return fmt.Sprintf("%s  %s  %.0f/s", p.label, count(p.done), rate)
	}
	frac := min(1, float64(p.done)/float64(p.total))
	const barWidth = 20
	filled := int(frac * barWidth)
	bar := strings.Repeat("=", filled)
	if filled < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-filled-1)
	}
	eta := ""
	if rate > 0 && p.done < p.total {
		eta = "  eta " + time.Duration(float64(p.total-p.done)/rate*float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("%s  %s/%s  %3.0f%%  [%s]  %.0f/s%s", p.label, count(p.done), count(p.total), frac*100, bar, rate, eta)
}

// count writes n with thousands separators.
func count(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Above returns a writer for messages printed while the progress line shows, for example on
// stderr beside it: each write first clears the line, and the next Set draws it again below.
func (p *Progress) Above(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	return above{p, w}
}

type above struct {
	p *Progress
	w io.Writer
}

func (a above) Write(b []byte) (int, error) {
	a.p.Finish()
	return a.w.Write(b)
}
