package bench

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress draws a bar from a counter that the run updates atomically; a
// ticker goroutine samples it, so the hot path never touches the bar.
type progress struct {
	bar  *progressbar.ProgressBar
	stop chan struct{}
	done chan struct{}
}

// startProgress returns nil when w is nil; every method of a nil progress is
// a no-op. A total of 0 draws a spinner instead of a bar.
func startProgress(w io.Writer, label string, total int64, current func() int64) *progress {
	if w == nil {
		return nil
	}
	if total <= 0 {
		total = -1
	}
	p := &progress{
		bar: progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				_ = p.bar.Set64(current())
				return
			case <-t.C:
				_ = p.bar.Set64(current())
			}
		}
	}()
	return p
}

// finish stops the sampler and clears the bar from the terminal.
func (p *progress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.done
	_ = p.bar.Finish()
	_ = p.bar.Clear()
}
