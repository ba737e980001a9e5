package backend

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/responder"
)

// Filter is a message filter: a user's own (scope user: changes only
// their views) or radio-wide (scope radio: what history and responders
// ignore).
type Filter struct {
	ID        int64  `json:"id"`
	Scope     string `json:"scope"` // user or radio
	Owner     string `json:"owner"`
	OwnerName string `json:"owner_name"`
	// Radio is "" for a user's filter on every radio.
	Radio   string `json:"radio"`
	Mode    string `json:"mode"` // block or allow
	Kind    string `json:"kind"` // node, port, channel, text or regex
	Value   string `json:"value"`
	Enabled bool   `json:"enabled"`
}

func filterOf(f filter.Filter) Filter {
	return Filter{ID: f.ID, Scope: f.Scope.String(), Owner: f.Owner, OwnerName: f.OwnerName, Radio: f.Radio,
		Mode: f.Mode.String(), Kind: f.Kind.String(), Value: f.Value, Enabled: f.Enabled}
}

// Filters lists the caller's own filters and the radio-wide filters of
// the radios they may use.
func (b *Backend) Filters(ctx context.Context, c Caller) ([]Filter, error) {
	if err := Allowed(c.Identity, OpFilters, "", ""); err != nil {
		return nil, err
	}
	db, err := b.db()
	if err != nil {
		return nil, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	all, err := db.Filters(dctx)
	if err != nil {
		return nil, failed(err)
	}
	out := []Filter{}
	for _, f := range all {
		if (f.Scope == filter.ScopeUser && f.Owner == c.Fingerprint) || (f.Scope == filter.ScopeRadio && c.MayUse(f.Radio)) {
			out = append(out, filterOf(f))
		}
	}
	return out, nil
}

// FilterSpec is a filter to add.
type FilterSpec struct {
	// Radio limits a user's filter to one radio ("" for all); a
	// radio-wide filter must name it (or the caller's only radio).
	Radio     string
	Allow     bool
	RadioWide bool
	// Kind is node, port, channel, text or regex. A node may be given by
	// !id or a unique start of its name when Radio is set.
	Kind  string
	Value string
}

// AddFilter adds a filter owned by the caller.
func (b *Backend) AddFilter(ctx context.Context, c Caller, s FilterSpec) (Filter, error) {
	op := OpFilterAdd
	if s.RadioWide {
		op = OpRadioFilter
	}
	if err := Allowed(c.Identity, op, "", ""); err != nil {
		return Filter{}, err
	}
	db, err := b.db()
	if err != nil {
		return Filter{}, err
	}
	kind, err := filter.ParseKind(s.Kind)
	if err != nil {
		return Filter{}, invalid("%s", trimPkg(err))
	}
	f := filter.Filter{Owner: c.Fingerprint, OwnerName: c.Name, Mode: filter.Block, Kind: kind, Value: s.Value, Enabled: true}
	if s.Allow {
		f.Mode = filter.Allow
	}
	if s.RadioWide || s.Radio != "" {
		br, err := b.radio(c, s.Radio)
		if err != nil {
			return Filter{}, err
		}
		f.Radio = br.Name()
		if kind == filter.KindNode && !strings.HasPrefix(s.Value, "!") {
			num, err := ResolveNode(br.View(), s.Value)
			if err != nil {
				return Filter{}, err
			}
			f.Value = meshtastic.NodeID(num)
		}
	}
	if s.RadioWide {
		f.Scope = filter.ScopeRadio
	}
	if kind == filter.KindNode && strings.HasPrefix(f.Value, "!") {
		if _, err := ResolveNode(emptyView(), f.Value); err != nil {
			return Filter{}, err
		}
	}
	if err := f.Validate(); err != nil {
		return Filter{}, invalid("%s", trimPkg(err))
	}
	b.addMu.Lock() // the count and the insert as one, so concurrent adds cannot pass a limit together
	defer b.addMu.Unlock()
	dctx, cancel := dbctx(ctx)
	defer cancel()
	all, err := db.Filters(dctx)
	if err != nil {
		return Filter{}, failed(err)
	}
	if err := filterRoom(all, f); err != nil {
		return Filter{}, err
	}
	saved, err := db.AddFilter(dctx, actor(c), f)
	if err != nil {
		return Filter{}, failed(err)
	}
	return filterOf(saved), nil
}

// Limits on filters, checked when one is added: what a user's views and a
// radio's traffic are filtered through is bounded (see filter.MaxPersonal
// for how they were chosen). Disabled filters count too: enabling one
// must not go past a limit.
const (
	// MaxPersonalFilters is how many personal filters one user may have,
	// over all radios.
	MaxPersonalFilters = filter.MaxPersonal
	// MaxRadioFilters is how many radio-wide filters one radio may have.
	MaxRadioFilters = filter.MaxRadioWide
)

// filterRoom refuses f when its owner (personal) or its radio (radio-wide)
// already has as many filters as allowed.
func filterRoom(all []filter.Filter, f filter.Filter) error {
	n := 0
	for _, g := range all {
		if g.Scope == f.Scope && (f.Scope == filter.ScopeUser && g.Owner == f.Owner || f.Scope == filter.ScopeRadio && g.Radio == f.Radio) {
			n++
		}
	}
	if f.Kind == filter.KindRegex {
		if err := regexRoom(all, f); err != nil {
			return err
		}
	}
	switch {
	case f.Scope == filter.ScopeUser && n >= MaxPersonalFilters:
		return invalid("at most %d personal filters; remove one first (filters rm ID)", MaxPersonalFilters)
	case f.Scope == filter.ScopeRadio && n >= MaxRadioFilters:
		return invalid("at most %d radio-wide filters on %s; remove one first (filters rm ID)", MaxRadioFilters, f.Radio)
	}
	return nil
}

// Matching a regular expression costs in proportion to its instructions
// and the text's length (measured: ~250 µs for a 461-instruction pattern
// over a 230-byte message), and a view runs every message it reads through
// the caller's filters. So besides their number, the instructions of one
// owner's regex filters (or one radio's radio-wide ones) are bounded in
// all: a view of N messages then costs at most about N × 0.5 ms.
const (
	MaxPersonalRegexInsts = 1000
	MaxRadioRegexInsts    = 2000
)

// regexRoom refuses a regex filter that would take its owner's (or its
// radio's) regex filters over their instruction budget.
func regexRoom(all []filter.Filter, f filter.Filter) error {
	limit, whose := MaxPersonalRegexInsts, "your regex filters"
	if f.Scope == filter.ScopeRadio {
		limit, whose = MaxRadioRegexInsts, "the regex filters of "+f.Radio
	}
	total := filter.RegexInsts(f.Value)
	for _, g := range all {
		if g.Kind == filter.KindRegex && g.Scope == f.Scope &&
			(f.Scope == filter.ScopeUser && g.Owner == f.Owner || f.Scope == filter.ScopeRadio && g.Radio == f.Radio) {
			total += filter.RegexInsts(g.Value)
		}
	}
	if total > limit {
		return invalid("%s would compile to %d instructions in all, more than %d; remove one (filters rm ID) or use a simpler pattern",
			whose, total, limit)
	}
	return nil
}

// A store's filters are compiled once per change and every view takes its
// Set from there: a view compiles nothing, and concurrent views after a
// change wait for one compilation rather than each doing its own. The
// store's Revision says when the filters changed.
type filterCache struct {
	mu    sync.Mutex
	rev   uint64
	ready bool
	index *filter.Index
	sets  map[setKey]*filter.Set // cheap to rebuild from index; cleared when full
	// builds counts compilations of the index, for tests.
	builds int
}

type setKey struct {
	radio, fingerprint string
	nodesOnly          bool
}

// maxCachedSets bounds a filterCache's sets (one per user and radio
// viewed); past it they are dropped and taken from the index again.
const maxCachedSets = 4096

// filters is b's cache of its store's filters; b.store is not nil.
func (b *Backend) filters() *filterCache { return &b.fcache }

// personalSet is the caller's own filter set for a radio, node filters
// alone when nodesOnly, from the store's compiled filters (empty without a
// database or when it cannot be read).
func (b *Backend) personalSet(ctx context.Context, c Caller, radioName string, nodesOnly bool) *filter.Set {
	if b.store == nil {
		return &filter.Set{}
	}
	fc := b.filters()
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if rev := b.store.Revision(); !fc.ready || fc.rev != rev {
		dctx, cancel := dbctx(ctx)
		defer cancel()
		all, err := b.store.Filters(dctx)
		if err != nil {
			return &filter.Set{}
		}
		idx, err := filter.NewIndex(all)
		if err != nil {
			// Invalid filters, or filters over a limit saved before it
			// existed: left out of every view, reported once per change.
			b.log.Warn("filters left out", "err", err)
		}
		fc.index, fc.rev, fc.ready, fc.sets = idx, rev, true, map[setKey]*filter.Set{}
		fc.builds++
	}
	k := setKey{radio: radioName, fingerprint: c.Fingerprint, nodesOnly: nodesOnly}
	if s, ok := fc.sets[k]; ok {
		return s
	}
	var keep func(filter.Filter) bool
	if nodesOnly {
		keep = func(f filter.Filter) bool { return f.Kind == filter.KindNode }
	}
	s := fc.index.Personal(radioName, c.Fingerprint, keep)
	if len(fc.sets) >= maxCachedSets {
		clear(fc.sets)
	}
	fc.sets[k] = s
	return s
}

// filterFor loads a filter the caller may change: their own, or (admins)
// anyone's; radio-wide filters are the admins'.
func (b *Backend) filterFor(ctx context.Context, c Caller, id int64) (filter.Filter, error) {
	if err := Allowed(c.Identity, OpFilterEdit, "", ""); err != nil {
		return filter.Filter{}, err
	}
	db, err := b.db()
	if err != nil {
		return filter.Filter{}, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	f, err := db.Filter(dctx, id)
	if err != nil || (f.Scope == filter.ScopeUser && f.Owner != c.Fingerprint && !CanOthers(c.Identity, OpFilterEdit)) ||
		(f.Scope == filter.ScopeRadio && !c.MayUse(f.Radio)) {
		return f, notFound("no filter %d (see: filters)", id)
	}
	if f.Scope == filter.ScopeRadio {
		if err := Allowed(c.Identity, OpRadioFilter, "", ""); err != nil {
			return f, err
		}
	}
	return f, nil
}

// SetFilterEnabled turns a filter on or off.
func (b *Backend) SetFilterEnabled(ctx context.Context, c Caller, id int64, on bool) (Filter, error) {
	f, err := b.filterFor(ctx, c, id)
	if err != nil {
		return Filter{}, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	if err := b.store.SetFilterEnabled(dctx, actor(c), id, on); err != nil {
		return Filter{}, failed(err)
	}
	f.Enabled = on
	return filterOf(f), nil
}

// DeleteFilter removes a filter.
func (b *Backend) DeleteFilter(ctx context.Context, c Caller, id int64) (Filter, error) {
	f, err := b.filterFor(ctx, c, id)
	if err != nil {
		return Filter{}, err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	if err := b.store.DeleteFilter(dctx, actor(c), id); err != nil {
		return Filter{}, failed(err)
	}
	return filterOf(f), nil
}

// Beacon is a radio's periodic broadcast.
type Beacon struct {
	Radio     string  `json:"radio"`
	Owner     string  `json:"owner"`
	OwnerName string  `json:"owner_name"`
	Template  string  `json:"template"`
	Interval  float64 `json:"interval_seconds"`
	Channel   uint32  `json:"channel"`
	Enabled   bool    `json:"enabled"`
}

func beaconOf(bc responder.Beacon) Beacon {
	return Beacon{Radio: bc.Radio, Owner: bc.Owner, OwnerName: bc.OwnerName, Template: bc.Template,
		Interval: bc.Interval.Seconds(), Channel: bc.Channel, Enabled: bc.Enabled}
}

// BeaconStatus is a radio's beacon, if it has one.
type BeaconStatus struct {
	Radio  string  `json:"radio"`
	Beacon *Beacon `json:"beacon"` // null when none is set
}

// Beacon reads a radio's beacon.
func (b *Backend) Beacon(ctx context.Context, c Caller, radioName string) (BeaconStatus, error) {
	if err := Allowed(c.Identity, OpBeacon, "", ""); err != nil {
		return BeaconStatus{}, err
	}
	bc, name, err := b.beacon(ctx, c, radioName)
	if err != nil {
		return BeaconStatus{}, err
	}
	st := BeaconStatus{Radio: name}
	if bc != nil {
		v := beaconOf(*bc)
		st.Beacon = &v
	}
	return st, nil
}

func (b *Backend) beacon(ctx context.Context, c Caller, radioName string) (*responder.Beacon, string, error) {
	db, err := b.db()
	if err != nil {
		return nil, "", err
	}
	br, err := b.radio(c, radioName)
	if err != nil {
		return nil, "", err
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	bc, err := db.Beacon(dctx, br.Name())
	if err != nil {
		return nil, br.Name(), nil
	}
	return &bc, br.Name(), nil
}

// BeaconSpec is a beacon to set.
type BeaconSpec struct {
	Radio    string
	Template string
	// Interval is at least 15 minutes (default 1 h): a shared channel has
	// little airtime.
	Interval time.Duration
	Channel  uint32
}

// SetBeacon sets (or replaces) a radio's beacon; a running beacon keeps
// running with the new settings.
func (b *Backend) SetBeacon(ctx context.Context, c Caller, s BeaconSpec) (Beacon, error) {
	if err := Allowed(c.Identity, OpBeaconSet, "", ""); err != nil {
		return Beacon{}, err
	}
	cur, name, err := b.beacon(ctx, c, s.Radio)
	if err != nil {
		return Beacon{}, err
	}
	if cur != nil {
		if err := Allowed(c.Identity, OpBeaconSet, cur.Owner, cur.OwnerName); err != nil {
			return Beacon{}, denied("the beacon on %s belongs to %s", name, cur.OwnerName)
		}
	}
	if s.Interval == 0 {
		s.Interval = time.Hour
	}
	bc := responder.Beacon{Radio: name, Owner: c.Fingerprint, OwnerName: c.Name, Template: s.Template,
		Interval: s.Interval, Channel: s.Channel, Enabled: cur != nil && cur.Enabled}
	if err := bc.Validate(); err != nil {
		return Beacon{}, invalid("%s", trimPkg(err))
	}
	if br, err := b.radios.Get(name); err == nil {
		if err := checkChannel(br.View(), s.Channel); err != nil {
			return Beacon{}, err
		}
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	saved, err := b.store.PutBeacon(dctx, actor(c), bc)
	if err != nil {
		return Beacon{}, failed(err)
	}
	return beaconOf(saved), nil
}

// SetBeaconEnabled starts or stops a radio's beacon.
func (b *Backend) SetBeaconEnabled(ctx context.Context, c Caller, radioName string, on bool) (Beacon, error) {
	if err := Allowed(c.Identity, OpBeaconStart, "", ""); err != nil {
		return Beacon{}, err
	}
	cur, name, err := b.beacon(ctx, c, radioName)
	if err != nil {
		return Beacon{}, err
	}
	if cur == nil {
		return Beacon{}, notFound("no beacon set on %s (set one: beacon -r %s set --template TEXT)", name, name)
	}
	if err := Allowed(c.Identity, OpBeaconStart, cur.Owner, cur.OwnerName); err != nil {
		return Beacon{}, denied("the beacon on %s belongs to %s", name, cur.OwnerName)
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	if err := b.store.SetBeaconEnabled(dctx, actor(c), name, on); err != nil {
		return Beacon{}, failed(err)
	}
	cur.Enabled = on
	return beaconOf(*cur), nil
}

// DeleteBeacon removes a radio's beacon.
func (b *Backend) DeleteBeacon(ctx context.Context, c Caller, radioName string) (Beacon, error) {
	if err := Allowed(c.Identity, OpBeaconRm, "", ""); err != nil {
		return Beacon{}, err
	}
	cur, name, err := b.beacon(ctx, c, radioName)
	if err != nil {
		return Beacon{}, err
	}
	if cur == nil {
		return Beacon{}, notFound("no beacon set on %s", name)
	}
	if err := Allowed(c.Identity, OpBeaconRm, cur.Owner, cur.OwnerName); err != nil {
		return Beacon{}, denied("the beacon on %s belongs to %s", name, cur.OwnerName)
	}
	dctx, cancel := dbctx(ctx)
	defer cancel()
	if err := b.store.DeleteBeacon(dctx, actor(c), name); err != nil {
		return Beacon{}, failed(err)
	}
	return beaconOf(*cur), nil
}

// TestBeacon sends a radio's beacon once, now.
func (b *Backend) TestBeacon(ctx context.Context, c Caller, radioName string) (Message, error) {
	if err := Allowed(c.Identity, OpBeaconTest, "", ""); err != nil {
		return Message{}, err
	}
	cur, name, err := b.beacon(ctx, c, radioName)
	if err != nil {
		return Message{}, err
	}
	if cur == nil {
		return Message{}, notFound("no beacon set on %s", name)
	}
	if err := Allowed(c.Identity, OpBeaconTest, cur.Owner, cur.OwnerName); err != nil {
		return Message{}, denied("the beacon on %s belongs to %s", name, cur.OwnerName)
	}
	br, _ := b.radio(c, name)
	release, err := b.connected(ctx, c, br, 0)
	if err != nil {
		return Message{}, err
	}
	defer release()
	m, err := br.SendBeacon(ctx, *cur)
	if err != nil {
		return Message{}, failed(err)
	}
	return MessageOf(name, &m), nil
}
