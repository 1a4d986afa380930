package replica

import (
	"sync"
	"time"
)

// HLC is a hybrid logical clock: the physical time in unix milliseconds in
// the high 48 bits and a counter in the low 16. It never goes backwards, it
// moves past every clock it observes, and it stays close to wall time, so
// that ordering by HLC is causal where it must be and sensible elsewhere.
type HLC struct {
	mu   sync.Mutex
	now  func() time.Time
	last uint64
}

// NewHLC returns a clock reading physical time from now.
func NewHLC(now func() time.Time) *HLC { return &HLC{now: now} }

// Physical returns the millisecond part of an HLC value as a time.
func Physical(c uint64) time.Time { return time.UnixMilli(int64(c >> 16)) }

// FromTime returns the smallest HLC value at t.
func FromTime(t time.Time) uint64 { return uint64(t.UnixMilli()) << 16 }

// Now returns a new clock value, greater than any returned or observed before.
func (c *HLC) Now() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := FromTime(c.now())
	if p > c.last {
		c.last = p
	} else {
		c.last++
	}
	return c.last
}

// Observe moves the clock past v, a value seen in a received header. The
// store refuses headers too far ahead of the wall clock before they get here.
func (c *HLC) Observe(v uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v > c.last {
		c.last = v
	}
}
