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

// Limits on the filters in force. Every view a user asks for applies their
// personal filters to each message it lists, and every packet a radio
// hears goes through its radio-wide filters, so their number multiplies
// what each costs (see MaxRegexInsts). Personal filters are for muting a
// few noisy nodes, ports or words in one's own views: 20 is plenty, and
// 20 patterns at their size limit cost a few megabytes at most. Radio-wide
// filters are the admins' list for a whole radio: 50.
//
// The core refuses a filter over these limits. Filters saved before the
// limits existed still load: NewIndex and NewSet keep the enabled filters
// with the lowest IDs up to the limit (per owner for personal filters,
// per radio for radio-wide ones) and leave out the rest, reporting each
// in their error for the caller to log, so old data neither breaks
// anything nor costs more than the limit allows.
const (
	MaxPersonal  = 20 // personal filters of one user, over all radios
	MaxRadioWide = 50 // radio-wide filters of one radio
)

// entry is a filter in force, compiled.
type entry struct {
	f Filter
	c compiled
}

// Index is a list of filters compiled once, from which the Sets of every
// audience are taken without compiling anything again: build it when the
// filters change (the store's revision says when) and keep it until they
// change again. It is immutable and safe for concurrent use.
type Index struct {
	entries []entry // enabled, valid and within the limits, by ID
}

// NewIndex compiles the enabled filters of fs, within MaxPersonal and
// MaxRadioWide. A filter that is invalid or over a limit is left out (a
// filter that cannot be understood must not hide traffic) and reported in
// the error, which joins one error per filter left out; the Index is
// usable either way.
func NewIndex(fs []Filter) (*Index, error) {
	x := &Index{}
	var errs []error
	sorted := slices.Clone(fs)
	slices.SortStableFunc(sorted, func(a, b Filter) int { return cmp.Compare(a.ID, b.ID) })
	perOwner, perRadio := map[string]int{}, map[string]int{}
	for _, f := range sorted {
		if !f.Enabled {
			continue
		}
		switch {
		case f.Scope == ScopeUser && perOwner[f.Owner] >= MaxPersonal:
			errs = append(errs, fmt.Errorf("filter #%d left out: its owner has more than %d personal filters", f.ID, MaxPersonal))
			continue
		case f.Scope == ScopeRadio && perRadio[f.Radio] >= MaxRadioWide:
			errs = append(errs, fmt.Errorf("filter #%d left out: radio %s has more than %d radio-wide filters", f.ID, f.Radio, MaxRadioWide))
			continue
		case f.Scope == ScopeUser:
			perOwner[f.Owner]++
		case f.Scope == ScopeRadio:
			perRadio[f.Radio]++
		}
		c, err := compileChecked(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("filter #%d left out: %w", f.ID, err))
			continue
		}
		x.entries = append(x.entries, entry{f: f, c: c})
	}
	return x, errors.Join(errs...)
}

// Len is the number of filters in force in the index.
func (x *Index) Len() int {
	if x == nil {
		return 0
	}
	return len(x.entries)
}

// Personal is the Set of the user filters that fingerprint owns for
// radio, including those for every radio (see the function Personal);
// keep, when set, narrows it.
func (x *Index) Personal(radio, fingerprint string, keep func(Filter) bool) *Set {
	return x.set(func(f *Filter) bool {
		return f.Scope == ScopeUser && f.Owner == fingerprint && (f.Radio == "" || f.Radio == radio) && (keep == nil || keep(*f))
	})
}

// RadioWide is the Set of radio's radio-wide filters.
func (x *Index) RadioWide(radio string) *Set {
	return x.set(func(f *Filter) bool { return f.Scope == ScopeRadio && f.Radio == radio })
}

// set gathers the entries keep picks (all when nil) into a Set.
func (x *Index) set(keep func(*Filter) bool) *Set {
	s := &Set{}
	if x == nil {
		return s
	}
	for i := range x.entries {
		e := &x.entries[i]
		if keep != nil && !keep(&e.f) {
			continue
		}
		if e.f.Mode == Block {
			s.blocks = append(s.blocks, e.c)
		} else {
			g := groupOf(e.f.Kind)
			s.allows[g] = append(s.allows[g], e.c)
		}
		s.n++
	}
	return s
}

// NewSet compiles the enabled filters of fs, once each, as NewIndex does
// (with its limits, counted over fs), and returns them all as one Set.
// The error reports each filter left out; the Set is usable either way.
// To take several audiences' Sets from one list, build an Index.
func NewSet(fs []Filter) (*Set, error) {
	x, err := NewIndex(fs)
	return x.set(nil), err
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
