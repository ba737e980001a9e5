package sessions

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

func TestRingWraparound(t *testing.T) {
	r := NewRing[int](3)
	if r.Len() != 0 || r.Cap() != 3 || r.Items() != nil || r.Last(2) != nil {
		t.Fatalf("empty ring: len %d cap %d items %v", r.Len(), r.Cap(), r.Items())
	}
	for i := 1; i <= 5; i++ {
		r.Push(i)
	}
	if got := r.Items(); !slices.Equal(got, []int{3, 4, 5}) {
		t.Fatalf("Items = %v, want [3 4 5]", got)
	}
	if got := r.Last(2); !slices.Equal(got, []int{4, 5}) {
		t.Fatalf("Last(2) = %v, want [4 5]", got)
	}
	if got := r.Last(10); !slices.Equal(got, []int{3, 4, 5}) {
		t.Fatalf("Last(10) = %v, want [3 4 5]", got)
	}
	if r.Last(-1) != nil || r.Len() != 3 || r.Total() != 5 {
		t.Fatalf("Last(-1) %v, Len %d, Total %d", r.Last(-1), r.Len(), r.Total())
	}
	// Items is a copy: changing it leaves the ring alone.
	r.Items()[0] = 99
	if r.Items()[0] != 3 {
		t.Fatal("Items shares memory with the ring")
	}
	r.Reset()
	if r.Len() != 0 || r.Total() != 0 || r.buf != nil {
		t.Fatal("Reset left items or the backing array behind")
	}
	if NewRing[int](0).Cap() != 1 {
		t.Fatal("capacity below 1 not raised to 1")
	}
}

// TestRingMatchesModel drives rings of many capacities with random pushes
// and resets and compares every observable against a plain slice.
func TestRingMatchesModel(t *testing.T) {
	for capacity := 1; capacity <= 40; capacity++ {
		rng := rand.New(rand.NewPCG(uint64(capacity), 7))
		r := NewRing[int](capacity)
		var model []int
		for step := range 20 * capacity {
			if rng.IntN(100) == 0 {
				r.Reset()
				model = model[:0]
			} else {
				r.Push(step)
				model = append(model, step)
			}
			held := model[max(0, len(model)-capacity):]
			if r.Len() != len(held) || r.Total() != uint64(len(model)) {
				t.Fatalf("cap %d step %d: Len %d Total %d, want %d %d", capacity, step, r.Len(), r.Total(), len(held), len(model))
			}
			if len(r.buf) > capacity {
				t.Fatalf("cap %d: backing array grew to %d", capacity, len(r.buf))
			}
			if got := r.Items(); !slices.Equal(got, held) {
				t.Fatalf("cap %d step %d: Items %v, want %v", capacity, step, got, held)
			}
			k := rng.IntN(capacity+4) - 2
			want := held[len(held)-min(max(k, 0), len(held)):]
			if got := r.Last(k); !slices.Equal(got, want) {
				t.Fatalf("cap %d step %d: Last(%d) %v, want %v", capacity, step, k, got, want)
			}
		}
	}
}

// TestRingKeepsPointers checks the ring stores the packet pointers it is
// given: sessions share packets and must never copy or touch them.
func TestRingKeepsPointers(t *testing.T) {
	r := NewRing[LoggedPacket](2)
	p := &pb.MeshPacket{From: 1}
	r.Push(LoggedPacket{Packet: p})
	if r.Items()[0].Packet != p {
		t.Fatal("ring copied the packet")
	}
}
