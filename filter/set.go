package filter

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/meshgate/meshgate/meshtastic/pb"
)

// Set is a compiled list of filters, ready to judge packets. It is
// immutable, so one Set can serve many goroutines; rebuild it when the
// filters change. A nil *Set allows everything.
//
// How filters combine:
//   - Disabled filters are ignored.
//   - Block wins: a packet matching any block filter is hidden. The reason
//     names the matching block filter with the lowest ID.
//   - Allow filters are grouped by what they look at: node, port, channel,
//     and text (text and regex filters form one group). For each group
//     that has at least one allow filter, the packet must match one of
//     them; groups combine with AND. So "allow port TEXT_MESSAGE" plus
//     "allow node !a" plus "allow node !b" shows the text messages from or
//     to !a or !b.
//   - Text filters (either mode) judge the text the caller passes. A
//     packet passed with empty text is outside their reach: it is neither
//     blocked by a text pattern nor hidden by a text allow list, so a
//     "messages about the net" allow list does not also hide every
//     position and telemetry packet.
//   - Node filters match packets from or to the node; port filters match
//     the decoded port (an encrypted packet counts as UNKNOWN_APP, port 0);
//     channel filters match the packet's channel index.
type Set struct {
	blocks []compiled
	allows [groups][]compiled
	n      int
}

// The allow groups.
const (
	groupNode = iota
	groupPort
	groupChannel
	groupText
	groups
)

var groupNames = [groups]string{"node", "port", "channel", "text"}

func groupOf(k Kind) int {
	switch k {
	case KindNode:
		return groupNode
	case KindPort:
		return groupPort
	case KindChannel:
		return groupChannel
	}
	return groupText
}

// NewSet compiles the enabled filters of fs. An invalid filter is left out
// (a filter that cannot be understood must not hide traffic) and reported
// in the error, which joins one error per bad filter; the Set is usable
// either way.
func NewSet(fs []Filter) (*Set, error) {
	s := &Set{}
	var errs []error
	sorted := slices.Clone(fs)
	slices.SortStableFunc(sorted, func(a, b Filter) int { return cmp.Compare(a.ID, b.ID) })
	for _, f := range sorted {
		if !f.Enabled {
			continue
		}
		if err := f.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("filter #%d left out: %w", f.ID, err))
			continue
		}
		c, _ := compile(f)
		if f.Mode == Block {
			s.blocks = append(s.blocks, c)
		} else {
			g := groupOf(f.Kind)
			s.allows[g] = append(s.allows[g], c)
		}
		s.n++
	}
	return s, errors.Join(errs...)
}

// Len is the number of filters in force.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Allows reports whether a packet passes the filters, and if not, why:
// the reason is short and stable ("blocked by #12: node !a1b2c3d4", "not
// on the port allow list"), suitable both to show and to count by. text is
// what text filters judge: the message for a text packet; the caller may
// pass a rendered summary for other packets, or "" to keep them out of
// text filters' reach.
func (s *Set) Allows(p *pb.MeshPacket, text string) (ok bool, reason string) {
	if s == nil || s.n == 0 {
		return true, ""
	}
	for i := range s.blocks {
		c := &s.blocks[i]
		if groupOf(c.kind) == groupText && text == "" {
			continue
		}
		if c.matches(p, text) {
			return false, c.reason
		}
	}
	for g, list := range s.allows {
		if len(list) == 0 || g == groupText && text == "" {
			continue
		}
		found := false
		for i := range list {
			if list[i].matches(p, text) {
				found = true
				break
			}
		}
		if !found {
			return false, "not on the " + groupNames[g] + " allow list"
		}
	}
	return true, ""
}

// String lists the filters in force, one per line, for a status view.
func (s *Set) String() string {
	if s.Len() == 0 {
		return "no filters"
	}
	var b strings.Builder
	for _, c := range s.blocks {
		fmt.Fprintf(&b, "#%d block %s %s\n", c.id, c.kind, c.shown)
	}
	for _, list := range s.allows {
		for _, c := range list {
			fmt.Fprintf(&b, "#%d allow %s %s\n", c.id, c.kind, c.shown)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// RadioWide returns the radio-wide filters of radio: the ones the history
// and the auto-responder apply.
func RadioWide(fs []Filter, radio string) []Filter {
	var out []Filter
	for _, f := range fs {
		if f.Scope == ScopeRadio && f.Radio == radio {
			out = append(out, f)
		}
	}
	return out
}

// Personal returns the user filters that fingerprint owns for radio,
// including those that apply on every radio (empty Radio). A user's view
// applies these, usually on top of RadioWide.
func Personal(fs []Filter, radio, fingerprint string) []Filter {
	var out []Filter
	for _, f := range fs {
		if f.Scope == ScopeUser && f.Owner == fingerprint && (f.Radio == "" || f.Radio == radio) {
			out = append(out, f)
		}
	}
	return out
}

// AllowsPacket is Allows with the packet's own text (empty for ports other
// than text messages), for views that list packets.
func (s *Set) AllowsPacket(p *pb.MeshPacket) (bool, string) { return s.Allows(p, PacketText(p)) }

// AllowsMessage is Allows for a stored or shown text message that is no
// longer a packet: only its addressing and text matter to the filters.
func (s *Set) AllowsMessage(from, to, channel uint32, text string) (bool, string) {
	return s.Allows(&pb.MeshPacket{From: from, To: to, Channel: channel,
		PayloadVariant: &pb.MeshPacket_Decoded{Decoded: &pb.Data{Portnum: pb.PortNum_TEXT_MESSAGE_APP}}}, text)
}

// PacketText is a packet's text, or "" when it is not a text message.
func PacketText(p *pb.MeshPacket) string {
	if d := p.GetDecoded(); d.GetPortnum() == pb.PortNum_TEXT_MESSAGE_APP {
		return string(d.GetPayload())
	}
	return ""
}
