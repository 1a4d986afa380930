package replica_test

import (
	"testing"
	"time"

	"noroshi/replica"
	"noroshi/replica/replicatest"
)

func TestHLC(t *testing.T) {
	t0 := replicatest.Start
	ms := func(d time.Duration) uint64 { return replica.FromTime(t0.Add(d)) }
	type step struct {
		advance time.Duration // move the wall clock first
		observe uint64        // then observe this, if not 0
		want    uint64        // what Now returns next
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"wall clock moves", []step{{0, 0, ms(0)}, {time.Millisecond, 0, ms(time.Millisecond)}, {time.Second, 0, ms(time.Second + time.Millisecond)}}},
		{"same millisecond counts up", []step{{0, 0, ms(0)}, {0, 0, ms(0) + 1}, {0, 0, ms(0) + 2}}},
		{"wall clock goes back", []step{{0, 0, ms(0)}, {-time.Hour, 0, ms(0) + 1}, {time.Hour, 0, ms(0) + 2}, {time.Millisecond, 0, ms(time.Millisecond)}}},
		{"observes a later clock", []step{{0, ms(time.Minute) + 7, ms(time.Minute) + 8}, {time.Second, 0, ms(time.Minute) + 9}}},
		{"observes an earlier clock", []step{{0, 0, ms(0)}, {0, ms(-time.Minute), ms(0) + 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wall := replicatest.NewClock(t0)
			c := replica.NewHLC(wall.Now)
			for i, s := range tt.steps {
				wall.Advance(s.advance)
				if s.observe != 0 {
					c.Observe(s.observe)
				}
				if got := c.Now(); got != s.want {
					t.Errorf("step %d: got %d (%s +%d), want %d (%s +%d)", i,
						got, replica.Physical(got).UTC().Format(time.RFC3339Nano), got&0xffff,
						s.want, replica.Physical(s.want).UTC().Format(time.RFC3339Nano), s.want&0xffff)
				}
			}
		})
	}
}

func TestFromTimePhysical(t *testing.T) {
	tests := []time.Time{
		time.Unix(0, 0),
		replicatest.Start,
		time.Date(2100, 1, 1, 0, 0, 0, 999_000_000, time.UTC),
	}
	for _, tm := range tests {
		c := replica.FromTime(tm)
		if c&0xffff != 0 {
			t.Errorf("FromTime(%s): counter %d, want 0", tm, c&0xffff)
		}
		if got := replica.Physical(c + 5); !got.Equal(tm.Truncate(time.Millisecond)) {
			t.Errorf("Physical(FromTime(%s)+5): got %s, want %s", tm, got, tm.Truncate(time.Millisecond))
		}
		if replica.FromTime(tm.Add(time.Millisecond)) <= c+0xffff {
			t.Errorf("one millisecond later is not past every counter of %s", tm)
		}
	}
}
