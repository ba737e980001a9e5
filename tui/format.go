package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/meshtastic"
	"github.com/meshgate/meshgate/meshtastic/pb"
	"github.com/meshgate/meshgate/radio"
)

// clock shows a time of day: "15:04:05" for today, "Jan 02" before. The
// screen shows absolute times rather than ages, which would go stale on
// a screen that is (deliberately) not redrawn while nothing happens.
func clock(t, now time.Time, loc *time.Location) string {
	return dayClock(t, now, loc, "Jan 02", "2006")
}

// exactTime is like clock but always to the second.
func exactTime(t, now time.Time, loc *time.Location) string {
	return dayClock(t, now, loc, "Jan 02 15:04:05", "2006-01-02 15:04:05")
}

// dayClock shows a time of today as a time of day, else in the layout for
// this year (or the last 180 days), else in the layout for older times.
func dayClock(t, now time.Time, loc *time.Location, recent, old string) string {
	if t.IsZero() {
		return "-"
	}
	t, now = t.In(loc), now.In(loc)
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04:05")
	}
	if t.Year() == now.Year() || now.Sub(t) < 180*24*time.Hour {
		return t.Format(recent)
	}
	return t.Format(old)
}

// stamp is a full time for detail panes.
func stamp(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "never"
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

// short is a duration for countdowns: "45s", "4m30s", "1h5m".
func short(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m, s := int(d.Minutes()), int(d.Seconds())%60
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
}

// shortName is how a node appears in narrow columns: its short name, or
// the last four hex digits of its id.
func shortName(v *radio.View, num uint32) string {
	if num == meshtastic.Broadcast {
		return "all"
	}
	if v != nil {
		if n, ok := v.Nodes[num]; ok && n.ShortName != "" {
			return clean(n.ShortName)
		}
	}
	return fmt.Sprintf("!%04x", num&0xFFFF)
}

// longName is a node's best name with its short name.
func longName(v *radio.View, num uint32) string {
	if num == meshtastic.Broadcast {
		return "everyone"
	}
	if v != nil {
		if n, ok := v.Nodes[num]; ok {
			name := clean(n.Name())
			if n.ShortName != "" && n.LongName != "" {
				name = clean(n.ShortName) + " " + clean(n.LongName)
			}
			return name
		}
	}
	return meshtastic.NodeID(num)
}

// enumName turns "LONG_FAST" into "LongFast", the way the apps name a
// preset.
func enumName(s string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(strings.ToLower(s), "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// channelName names channel slot i of the radio.
func channelName(v *radio.View, i uint32) string {
	if v != nil && v.Radio != nil {
		for _, ch := range v.Radio.Channels {
			if uint32(ch.GetIndex()) != i {
				continue
			}
			if n := ch.GetSettings().GetName(); n != "" {
				return clean(n)
			}
			if ch.GetRole() == pb.Channel_PRIMARY {
				if l := v.Radio.LoRa(); l != nil && l.GetUsePreset() {
					return enumName(l.GetModemPreset().String())
				}
				return "Primary"
			}
		}
	}
	return fmt.Sprintf("ch%d", i)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func itoa(n int) string { return strconv.Itoa(n) }

// secs turns a count of seconds into a duration.
func secs(n uint32) time.Duration { return time.Duration(n) * time.Second }
