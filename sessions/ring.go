package sessions

// Ring is a first-in first-out buffer of fixed capacity: Push is O(1) and,
// once the ring is full, overwrites the oldest item.
//
// The backing array grows on demand (doubling) up to the capacity, so a
// ring that never receives anything costs only its header, and one that
// received a handful of items holds a small array. That matters because
// most sessions sit idle or watch a quiet radio.
//
// Items are stored by value; a Ring of pointers copies the pointers, never
// what they point to. A Ring is not safe for concurrent use: its owner
// guards it (Session does, with its own lock). Make one with NewRing; the
// zero Ring has no capacity.
type Ring[T any] struct {
	buf   []T
	start int // index of the oldest item; stays 0 until the ring is full
	n     int // items held
	max   int // capacity
	total uint64
}

// NewRing returns an empty ring holding at most capacity items (at least 1).
func NewRing[T any](capacity int) *Ring[T] {
	r := newRing[T](capacity)
	return &r
}

// newRing is NewRing for rings embedded by value, which saves an allocation
// per session.
func newRing[T any](capacity int) Ring[T] {
	return Ring[T]{max: max(capacity, 1)}
}

// Push appends v, dropping the oldest item if the ring is full.
func (r *Ring[T]) Push(v T) {
	r.total++
	if r.n < r.max {
		// Not full yet: items sit in buf[0:n] in order.
		if r.n == len(r.buf) {
			r.grow()
		}
		r.buf[r.n] = v
		r.n++
		return
	}
	// Full (len(buf) == max): the oldest slot becomes the newest.
	r.buf[r.start] = v
	r.start++
	if r.start == len(r.buf) {
		r.start = 0
	}
}

// grow doubles the backing array, stopping exactly at the capacity so a
// full ring never holds more than it may.
func (r *Ring[T]) grow() {
	size := min(max(2*len(r.buf), 8), r.max)
	buf := make([]T, size)
	copy(buf, r.buf[:r.n])
	r.buf = buf
}

// Len is the number of items held.
func (r *Ring[T]) Len() int { return r.n }

// Cap is the most items the ring holds.
func (r *Ring[T]) Cap() int { return r.max }

// Total is the number of items ever pushed (since the last Reset),
// including those already overwritten.
func (r *Ring[T]) Total() uint64 { return r.total }

// Items returns a copy of the items, oldest first; nil when empty.
func (r *Ring[T]) Items() []T { return r.Last(r.n) }

// Last returns a copy of the newest n items (fewer if the ring holds
// fewer), oldest first; nil when there are none.
func (r *Ring[T]) Last(n int) []T {
	n = min(max(n, 0), r.n)
	if n == 0 {
		return nil
	}
	out := make([]T, n)
	// The wanted items start n before the newest and may wrap past the end
	// of buf; copy up to the end, then the rest from the front.
	head := (r.start + r.n - n) % len(r.buf)
	k := copy(out, r.buf[head:])
	copy(out[k:], r.buf)
	return out
}

// Reset empties the ring and releases its backing array, so what it
// pointed to can be collected.
func (r *Ring[T]) Reset() {
	r.buf, r.start, r.n, r.total = nil, 0, 0, 0
}
