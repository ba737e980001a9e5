package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/meshgate/meshgate/filter"
	"github.com/meshgate/meshgate/responder"
)

func rule(radio string) responder.Rule {
	return responder.Rule{Radio: radio, Owner: "SHA256:op", OwnerName: "op", Trigger: "ping",
		Reply: "pong {sender_name}", Cooldown: time.Minute, Enabled: true}
}

func userFilter(owner string) filter.Filter {
	return filter.Filter{Scope: filter.ScopeUser, Owner: owner, OwnerName: "alice", Radio: "base",
		Mode: filter.Block, Kind: filter.KindNode, Value: "!a1b2c3d4", Enabled: true}
}

func beacon(radio string) responder.Beacon {
	return responder.Beacon{Radio: radio, Owner: "SHA256:op", OwnerName: "op", Template: "{my_name} {battery}%",
		Interval: time.Hour, Channel: 0, Enabled: true}
}

var (
	byOp    = Actor{"op", "SHA256:op"}
	byAdmin = Actor{"root", "SHA256:root"}
)

// lastAudit returns the newest audit entry.
func lastAudit(t *testing.T, s *Store) AuditEntry {
	t.Helper()
	got, err := s.Audit(ctx, AuditQuery{Page: Page{Limit: 1}})
	if err != nil || len(got) != 1 {
		t.Fatalf("audit: %v %v", got, err)
	}
	return got[0]
}

// Ids are never handed out twice: the newest rule or filter deleted, the
// next one still gets a new id (meshchaos crash saw rule 1 added and
// removed a thousand times).
func TestDeletedIDsNotReused(t *testing.T) {
	s := openTest(t, Options{})
	a, err := s.AddRule(ctx, byOp, rule("base"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRule(ctx, byOp, a.ID); err != nil {
		t.Fatal(err)
	}
	b, err := s.AddRule(ctx, byOp, rule("base"))
	if err != nil || b.ID == a.ID {
		t.Fatalf("rule ids: %d after %d was deleted (%v)", b.ID, a.ID, err)
	}
	f, err := s.AddFilter(ctx, byOp, userFilter("SHA256:op"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFilter(ctx, byOp, f.ID); err != nil {
		t.Fatal(err)
	}
	g, err := s.AddFilter(ctx, byOp, userFilter("SHA256:op"))
	if err != nil || g.ID == f.ID {
		t.Fatalf("filter ids: %d after %d was deleted (%v)", g.ID, f.ID, err)
	}
}

func TestRulesCRUD(t *testing.T) {
	s := openTest(t, Options{})
	full := rule("base")
	full.Match, full.Type, full.Source = responder.MatchRegex, responder.TypeDirect, responder.SourceMQTT
	full.Trigger, full.Channel, full.SenderCooldown, full.DryRun = `^ping\b`, new(uint32(2)), 5*time.Minute, true
	full.Expires = time.UnixMilli(t0.Add(24 * time.Hour).UnixMilli())

	added, err := s.AddRule(ctx, byOp, full)
	if err != nil || added.ID == 0 {
		t.Fatalf("%+v %v", added, err)
	}
	got, err := s.Rule(ctx, added.ID)
	if err != nil || !reflect.DeepEqual(got, added) {
		t.Fatalf("\n got %+v\nwant %+v (%v)", got, added, err)
	}
	if e := lastAudit(t, s); e.Action != ActionRuleAdd || e.User != "op" || e.Fingerprint != "SHA256:op" ||
		e.Radio != "base" || e.Before != nil || !jsonHas(e.After, "trigger", `^ping\b`) {
		t.Fatalf("audit %+v", e)
	}
	other, _ := s.AddRule(ctx, byOp, rule("field"))
	rev := s.Revision()

	// Invalid rules are refused with a reason.
	bad := rule("base")
	bad.Reply = "hi {nobody}"
	if _, err := s.AddRule(ctx, byOp, bad); !errors.Is(err, ErrInvalid) || !errors.Is(err, responder.ErrInvalid) {
		t.Fatalf("invalid rule: %v", err)
	}
	if s.Revision() != rev {
		t.Fatal("a refused change moved the revision")
	}

	// Update: an admin edits, the owner stays.
	edit := added
	edit.Owner, edit.OwnerName, edit.Reply, edit.Channel = "SHA256:root", "root", "pong!", nil
	if err := s.UpdateRule(ctx, byAdmin, edit); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Rule(ctx, added.ID)
	if got.Reply != "pong!" || got.Channel != nil || got.Owner != "SHA256:op" || got.OwnerName != "op" {
		t.Fatalf("after update %+v", got)
	}
	if e := lastAudit(t, s); e.Action != ActionRuleUpdate || e.User != "root" || !jsonHas(e.Before, "reply", "pong {sender_name}") ||
		!jsonHas(e.After, "reply", "pong!") {
		t.Fatalf("audit %+v", e)
	}
	edit.Reply = ""
	if err := s.UpdateRule(ctx, byAdmin, edit); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid update: %v", err)
	}

	if err := s.SetRuleEnabled(ctx, byOp, added.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Rule(ctx, added.ID); got.Enabled {
		t.Fatal("still enabled")
	}
	if e := lastAudit(t, s); e.Action != ActionRuleDisable || !jsonHas(e.Before, "enabled", true) || !jsonHas(e.After, "enabled", false) {
		t.Fatalf("audit %+v", e)
	}
	if err := s.SetRuleEnabled(ctx, byOp, added.ID, true); err != nil || lastAudit(t, s).Action != ActionRuleEnable {
		t.Fatal(err)
	}

	if list, _ := s.Rules(ctx, "base"); len(list) != 1 || list[0].ID != added.ID {
		t.Fatalf("base rules %+v", list)
	}
	if list, _ := s.Rules(ctx, ""); len(list) != 2 || list[1].ID != other.ID {
		t.Fatalf("all rules %+v", list)
	}

	if err := s.DeleteRule(ctx, byOp, added.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rule(ctx, added.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted rule: %v", err)
	}
	if e := lastAudit(t, s); e.Action != ActionRuleDelete || e.After != nil || !jsonHas(e.Before, "id", float64(added.ID)) {
		t.Fatalf("audit %+v", e)
	}
	for _, err := range []error{
		s.DeleteRule(ctx, byOp, 999), s.SetRuleEnabled(ctx, byOp, 999, true), s.UpdateRule(ctx, byOp, responder.Rule{ID: 999}),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing rule: %v", err)
		}
	}
	if s.Revision() != rev+4 { // update, disable, enable, delete
		t.Fatalf("revision %d, want %d", s.Revision(), rev+4)
	}
}

func TestFiltersCRUD(t *testing.T) {
	s := openTest(t, Options{})
	mine, err := s.AddFilter(ctx, Actor{"alice", "SHA256:alice"}, userFilter("SHA256:alice"))
	if err != nil || mine.ID == 0 {
		t.Fatal(err)
	}
	wide := filter.Filter{Scope: filter.ScopeRadio, Owner: "SHA256:root", Radio: "base", Mode: filter.Allow,
		Kind: filter.KindPort, Value: "TEXT_MESSAGE", Enabled: true}
	wide, err = s.AddFilter(ctx, byAdmin, wide)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Filter(ctx, wide.ID); err != nil || got != wide {
		t.Fatalf("%+v %v", got, err)
	}
	if e := lastAudit(t, s); e.Action != ActionFilterAdd || e.User != "root" || !jsonHas(e.After, "scope", "radio") {
		t.Fatalf("audit %+v", e)
	}
	if _, err := s.AddFilter(ctx, byAdmin, filter.Filter{Owner: "x", Kind: filter.KindRegex, Value: "("}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid filter: %v", err)
	}

	if err := s.SetFilterEnabled(ctx, byAdmin, mine.ID, false); err != nil || lastAudit(t, s).Action != ActionFilterDisable {
		t.Fatal(err)
	}
	list, err := s.Filters(ctx)
	if err != nil || len(list) != 2 || list[0].Enabled {
		t.Fatalf("%+v %v", list, err)
	}
	if set, err := filter.NewSet(filter.RadioWide(list, "base")); err != nil || set.Len() != 1 {
		t.Fatalf("stored filters do not compile: %v", err)
	}
	if err := s.DeleteFilter(ctx, byAdmin, mine.ID); err != nil || lastAudit(t, s).Action != ActionFilterDelete {
		t.Fatal(err)
	}
	if _, err := s.Filter(ctx, mine.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted filter: %v", err)
	}
	if err := s.DeleteFilter(ctx, byAdmin, mine.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestBeacons(t *testing.T) {
	clk := &clock{now: t0}
	s := openTest(t, Options{Now: clk.Now})
	b, err := s.PutBeacon(ctx, byOp, beacon("base"))
	if err != nil || b.ID == 0 {
		t.Fatal(err)
	}
	if e := lastAudit(t, s); e.Action != ActionBeaconSet || e.Before != nil {
		t.Fatalf("audit %+v", e)
	}
	// Setting it again replaces it: one beacon per radio.
	again := beacon("base")
	again.Template, again.Interval, again.Owner, again.OwnerName = "{my_id} up {uptime}", 2*time.Hour, "SHA256:op2", "op2"
	again, err = s.PutBeacon(ctx, Actor{"op2", "SHA256:op2"}, again)
	if err != nil || again.ID != b.ID {
		t.Fatalf("%+v %v", again, err)
	}
	if e := lastAudit(t, s); !jsonHas(e.Before, "interval", "1h0m0s") || !jsonHas(e.After, "interval", "2h0m0s") {
		t.Fatalf("audit %+v", e)
	}
	if got, _ := s.Beacon(ctx, "base"); got != again {
		t.Fatalf("%+v", got)
	}
	short := beacon("field")
	short.Interval = time.Minute
	if _, err := s.PutBeacon(ctx, byOp, short); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short interval: %v", err)
	}
	if _, err := s.PutBeacon(ctx, byOp, beacon("field")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBeaconEnabled(ctx, byOp, "field", false); err != nil || lastAudit(t, s).Action != ActionBeaconDisable {
		t.Fatal(err)
	}
	list, _ := s.Beacons(ctx)
	if len(list) != 2 || list[0].Radio != "base" || list[1].Enabled {
		t.Fatalf("%+v", list)
	}

	if err := s.DeleteBeacon(ctx, byOp, "base"); err != nil || lastAudit(t, s).Action != ActionBeaconDelete {
		t.Fatal(err)
	}
	if _, err := s.Beacon(ctx, "base"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted beacon: %v", err)
	}
	if err := s.SetBeaconEnabled(ctx, byOp, "base", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("enable missing beacon: %v", err)
	}
}

// jsonHas reports whether a JSON object has key with value want.
func jsonHas(raw json.RawMessage, key string, want any) bool {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	return reflect.DeepEqual(m[key], want)
}

// Rules saved before the 30 s minimum cooldown are raised to it when the
// database is upgraded, and the audit log says so.
func TestMigrationRaisesShortCooldowns(t *testing.T) {
	if responder.MinCooldown != 30*time.Second {
		t.Fatal("migration 4 writes the 30 s minimum; a new minimum needs a new migration")
	}
	path := dbPath(t)
	db, err := sql.Open("sqlite", dsn(path, true, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, _, err := migrate(ctx, db, migrations[:3], 0); err != nil {
		t.Fatal(err)
	}
	for _, cd := range [][2]int64{{0, 0}, {5000, 10000}, {60000, 0}, {60000, 300000}} {
		if _, err := db.Exec(`INSERT INTO rules (radio, owner, owner_name, trigger_text, match_kind, reply, msg_type, source,
	channel, cooldown_ms, sender_cooldown_ms, enabled, dry_run, expires_ms, created_ms, updated_ms)
	VALUES ('base', 'SHA256:op', 'op', 'ping', 'contains', 'pong', 'both', 'both', NULL, $1, $2, TRUE, FALSE, NULL, 0, 0)`,
			cd[0], cd[1]); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := openAt(t, path, Options{})
	rules, err := s.Rules(ctx, "base")
	if err != nil || len(rules) != 4 {
		t.Fatalf("%d rules, %v", len(rules), err)
	}
	want := [][2]time.Duration{{30 * time.Second, 0}, {30 * time.Second, 30 * time.Second}, {time.Minute, 0}, {time.Minute, 5 * time.Minute}}
	for i, r := range rules {
		if r.Cooldown != want[i][0] || r.SenderCooldown != want[i][1] {
			t.Errorf("rule %d: cooldowns %s/%s, want %s/%s", r.ID, r.Cooldown, r.SenderCooldown, want[i][0], want[i][1])
		}
		if err := r.Validate(); err != nil {
			t.Errorf("rule %d after the upgrade: %v", r.ID, err)
		}
	}
	audit, _ := s.Audit(ctx, AuditQuery{})
	if len(audit) != 2 || audit[0].Action != ActionRuleUpdate || audit[0].User != "meshgate" ||
		audit[0].Detail != "rule 1: cooldowns raised to the 30s minimum" || audit[1].Detail != "rule 2: cooldowns raised to the 30s minimum" ||
		time.Since(audit[0].At) > time.Minute {
		t.Fatalf("audit: %+v", audit)
	}
}
