package p2p

import (
	"sync"
	"time"
)

// bucket is a token bucket holding up to perMinute tokens and refilling at
// perMinute per minute: a peer may burst a minute's allowance, then is held
// to the rate.
type bucket struct {
	perMinute float64
	tokens    float64
	last      time.Time
}

func newBucket(perMinute int64, now time.Time) bucket {
	return bucket{perMinute: float64(perMinute), tokens: float64(perMinute), last: now}
}

// take removes n tokens and reports whether the bucket had them.
func (b *bucket) take(n int64, now time.Time) bool {
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens += b.perMinute * dt.Minutes()
		if b.tokens > b.perMinute {
			b.tokens = b.perMinute
		}
		b.last = now
	}
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

// limiter holds one peer's receive limits.
type limiter struct {
	mu    sync.Mutex
	bytes bucket
	bad   bucket
}

func newLimiter(bytesPerMin int64, badPerMin int, now time.Time) *limiter {
	return &limiter{bytes: newBucket(bytesPerMin, now), bad: newBucket(int64(badPerMin), now)}
}

// allowBytes charges n received bytes; false means the peer is over its rate.
func (l *limiter) allowBytes(n int, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes.take(int64(n), now)
}

// allowBad charges one bad message; false means the peer is over its rate.
func (l *limiter) allowBad(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bad.take(1, now)
}
