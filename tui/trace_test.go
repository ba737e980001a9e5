package tui

import (
	"strings"
	"testing"
	"time"
)

// Cancelling a sweep marks the nodes it did not reach cancelled, not
// pending: nothing is still coming for them.
func TestSweepCancelMarksRest(t *testing.T) {
	fx := newFixture(t, fixtureOpts{pace: time.Second})
	u := startUI(t, fx, uiOpts{bind: "base", w: 100, h: 40})
	u.connected()
	u.key("4", "w", "y")
	u.waitModel("the sweep", func(m *Model) bool { return m.trace.sweepRunning() })
	u.key("c")
	s := u.waitFor("the sweep to end cancelled", func(s string) bool {
		return strings.Contains(s, "· cancelled") && !strings.Contains(s, "tracing ")
	})
	rows := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, " pending ") {
			t.Errorf("a row of a cancelled sweep still says pending: %q", l)
		}
		if strings.Contains(l, " cancelled ") {
			rows++
		}
	}
	if rows == 0 {
		t.Errorf("no row says cancelled:\n%s", s)
	}
}
