package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite"
)

// runCrash kills the gateway with SIGKILL again and again while the radio
// delivers hundreds of packets a second and a user adds and removes
// rules. After every kill the database must open, pass SQLite's integrity
// check, hold the packets as an unbroken prefix of what arrived (gaps only
// where the gateway was down), hold every rule change the user was told
// had happened, and have lost at most a second of history.
func runCrash(ctx context.Context, e *env) (*report, error) {
	s := e.set
	st, err := setup(ctx, e, stageOpts{name: "crash", role: "operator", seed: 12, nodes: 30, markers: s.crashRate, notStarted: true})
	if err != nil {
		return nil, err
	}
	defer st.teardown()
	u, g, mk := st.u, st.g, st.mk

	rw := &ruleWriter{added: map[string]bool{}, removed: map[string]bool{}}
	wctx, stopWriter := context.WithCancel(ctx)
	defer stopWriter()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rw.run(wctx, g.sshAddr, u) }()
	defer wg.Wait()
	defer stopWriter()

	dbPath := filepath.Join(g.dir, "meshgate.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var kills []time.Time
	var lost durations
	var rowsAtEnd, holes, disorder, ruleErrs, radioDropped int
	integrity := "ok"
	for i := range s.crashes {
		if ctx.Err() != nil {
			break
		}
		startAt := time.Now()
		if err := g.start(ctx); err != nil {
			return nil, fmt.Errorf("start %d: %w", i+1, err)
		}
		// Run until packets from this life reach the database, then a
		// random while longer, so kills land inside and between batches.
		if !waitFor(ctx, 30*time.Second, func() bool { return newestStored(dbPath).After(startAt) }) {
			return nil, fmt.Errorf("start %d: no packets stored within 30 s; log: %s", i+1, g.logTail())
		}
		sleep(ctx, time.Second+time.Duration(rng.Int64N(int64(3*time.Second))))
		k := time.Now()
		g.kill9()
		kills = append(kills, k)

		v, err := verifyDB(dbPath, mk, kills)
		if err != nil {
			return nil, fmt.Errorf("after kill %d: %w", i+1, err)
		}
		if v.integrity != "ok" {
			integrity = v.integrity
		}
		holes, disorder, rowsAtEnd, radioDropped = v.holes, v.disorder, v.rows, v.radioDropped
		lost = append(lost, v.lost)
		ruleErrs += rw.verify(v.rules)
		e.logf("crash %d/%d: %d rows, lost %s, integrity %s, rules acknowledged %d", i+1, s.crashes, v.rows, ms(v.lost), v.integrity, rw.acked())
	}
	r := &report{}
	r.add("kills", "%d at %d packets/s", len(kills), s.crashRate)
	r.add("integrity_check", "%s after every kill", integrity)
	r.add("packets stored", "%d", rowsAtEnd)
	r.add("holes (packets the gateway was sent, missing between stored ones)", "%d", holes)
	r.add("packets the radio itself dropped (its queue to the gateway full)", "%d", radioDropped)
	r.add("out of order rows", "%d", disorder)
	r.add("history lost per kill", "%s", lost)
	r.add("acknowledged rule changes", "%d, %d missing or undone after a kill", rw.acked(), ruleErrs)
	r.check(integrity == "ok", "integrity_check ok after every kill")
	r.check(holes == 0 && disorder == 0, "rows are an unbroken prefix")
	r.check(lost.pct(100) <= time.Second, "at most 1 s of history lost per kill")
	r.check(ruleErrs == 0, "every acknowledged rule change survives")
	r.check(rw.acked() > 0, "rules were written during the run")
	return r, nil
}

// dbVerdict is what one look at the database after a kill found.
type dbVerdict struct {
	integrity       string
	rows            int
	holes, disorder int
	radioDropped    int           // missing because the radio never sent them
	lost            time.Duration // from the last stored packet to the kill
	rules           map[string]bool
}

// verifyDB opens the database as the next start would and checks it.
func verifyDB(path string, mk *markers, kills []time.Time) (*dbVerdict, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	v := &dbVerdict{rules: map[string]bool{}}
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&v.integrity); err != nil {
		return nil, fmt.Errorf("integrity_check: %w", err)
	}
	rows, err := db.Query("SELECT packet_id FROM packets WHERE radio = 'base' AND packet_id >= ? ORDER BY id", markerBase)
	if err != nil {
		return nil, err
	}
	var prev uint32
	var prevAt time.Time
	last := kills[len(kills)-1]
	var newest time.Time // the last stored marker injected before the last kill
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		cur := uint32(id)
		at, ok := mk.injected(cur)
		if !ok {
			continue
		}
		v.rows++
		if prev != 0 {
			switch {
			case cur <= prev:
				v.disorder++
			case cur > prev+1 && !killBetween(kills, prevAt, at):
				// Missing between two stored packets of one run: lost
				// by the gateway if it was sent them, else by the radio.
				for id := prev + 1; id < cur; id++ {
					if mk.cr.wasDelivered(id) {
						v.holes++
					} else {
						v.radioDropped++
					}
				}
			}
		}
		if at.Before(last) && at.After(newest) {
			newest = at
		}
		prev, prevAt = cur, at
	}
	rows.Close()
	if newest.IsZero() {
		v.lost = last.Sub(time.Time{}) // nothing at all: report it as huge
	} else {
		v.lost = last.Sub(newest)
	}
	rr, err := db.Query("SELECT trigger_text FROM rules WHERE radio = 'base'")
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	for rr.Next() {
		var trigger string
		if err := rr.Scan(&trigger); err != nil {
			return nil, err
		}
		v.rules[trigger] = true
	}
	return v, rr.Err()
}

// killBetween reports whether a kill happened between two injections: a
// gap there is the gateway being down, not a lost packet.
func killBetween(kills []time.Time, a, b time.Time) bool {
	for _, k := range kills {
		if k.After(a) && k.Before(b) {
			return true
		}
	}
	return false
}

// newestStored is the time of the newest packet row (zero if none).
func newestStored(path string) time.Time {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(2000)")
	if err != nil {
		return time.Time{}
	}
	defer db.Close()
	var t sql.NullInt64
	if db.QueryRow("SELECT max(time_ms) FROM packets").Scan(&t) != nil || !t.Valid {
		return time.Time{}
	}
	return time.UnixMilli(t.Int64)
}

// ruleWriter adds a rule, removes it, and repeats, remembering which
// changes the gateway acknowledged. Rules are told apart by trigger, not
// id: SQLite hands a deleted rule's id to the next one. A change cut off
// by a kill may or may not have happened; the writer finds out from the
// rule list once the gateway is back, and the check skips it meanwhile.
type ruleWriter struct {
	mu             sync.Mutex
	added, removed map[string]bool
	pending        string // a rule whose removal is unacknowledged
}

func (rw *ruleWriter) run(ctx context.Context, addr string, u *user) {
	for n := 1; ctx.Err() == nil; n++ {
		// Rules from adds cut off by a kill are removed first, so the
		// owner never reaches the per-owner limit.
		rules, err := listRules(addr, u)
		if err != nil {
			sleep(ctx, 100*time.Millisecond) // the gateway is down
			continue
		}
		for trigger, id := range rules {
			if !rw.known(trigger) {
				_, _ = u.run(addr, "", fmt.Sprintf("rules rm %d --json", id))
			}
		}
		trigger := fmt.Sprintf("chaos-%d", n)
		out, err := u.run(addr, "", fmt.Sprintf("rules add -r base --trigger %s --reply ok --dry-run --json", trigger))
		if err != nil {
			continue
		}
		var rule struct {
			ID int `json:"id"`
		}
		if json.Unmarshal([]byte(out), &rule) != nil || rule.ID == 0 {
			continue
		}
		rw.mu.Lock()
		rw.added[trigger] = true
		rw.pending = trigger
		rw.mu.Unlock()
		for ctx.Err() == nil {
			_, err := u.run(addr, "", fmt.Sprintf("rules rm %d --json", rule.ID))
			if err != nil {
				// Did the removal happen before a kill cut the answer off?
				rules, lerr := listRules(addr, u)
				if _, still := rules[trigger]; lerr != nil || still {
					sleep(ctx, 100*time.Millisecond)
					continue
				}
			}
			rw.mu.Lock()
			rw.removed[trigger] = true
			rw.pending = ""
			rw.mu.Unlock()
			break
		}
	}
}

// listRules returns the user's rules on base by trigger.
func listRules(addr string, u *user) (map[string]int, error) {
	out, err := u.run(addr, "", "rules -r base --json")
	if err != nil {
		return nil, err
	}
	var rules []struct {
		ID      int    `json:"id"`
		Trigger string `json:"trigger"`
	}
	if err := json.Unmarshal([]byte(out), &rules); err != nil {
		return nil, err
	}
	m := make(map[string]int, len(rules))
	for _, r := range rules {
		m[r.Trigger] = r.ID
	}
	return m, nil
}

func (rw *ruleWriter) known(trigger string) bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.added[trigger]
}

// verify counts acknowledged changes the database does not show.
func (rw *ruleWriter) verify(present map[string]bool) (bad int) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	for t := range rw.added {
		if t != rw.pending && present[t] == rw.removed[t] { // added and gone, or removed and back
			bad++
		}
	}
	return bad
}

func (rw *ruleWriter) acked() int {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return len(rw.added) + len(rw.removed)
}
