package tui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/meshgate/meshgate/radio"
)

// styles is the one style sheet. Colors are the terminal's own 16 ANSI
// colors where possible, so they follow the user's theme, with a few
// choices made per background. Nothing depends on color alone: the
// selected row also carries a marker and reverse video, the active tab
// brackets, states and badges words, so the screen reads the same on a
// terminal with no color at all.
type styles struct {
	color bool // the profile can show colors

	bar, barDim, barWarn paint // header and status line
	barOK, barBad        paint // link state on the header
	tab, tabActive       paint
	colHead              paint // table headings
	sel                  paint // selected row
	title, bold, dim     paint
	ok, warn, bad        paint
	key                  paint          // key names in help and hints
	box                  lipgloss.Style // dialogs

	// Pre-rendered badges: rendered once per style sheet, pasted into
	// every row.
	rf, mqtt, self string
}

// paint is an inline style reduced to the escape sequences that open and
// close it. Rendering through lipgloss costs microseconds a call, measure
// and all; a frame paints dozens of cells, in every session, so the sheet
// works the sequences out once and pasting them is all a cell costs.
type paint struct{ on, off string }

func paintOf(s lipgloss.Style) paint {
	const mark = "M"
	r := s.Render(mark)
	i := strings.Index(r, mark)
	if i < 0 {
		return paint{}
	}
	return paint{on: r[:i], off: r[i+len(mark):]}
}

// Render paints one line of text.
func (p paint) Render(text string) string {
	if p.on == "" {
		return text
	}
	return p.on + text + p.off
}

// sheet holds the lipgloss styles paints are made from.
type sheet struct {
	bar, barDim, barWarn, barOK, barBad, tab, tabActive, colHead, sel, title, bold, dim, ok, warn, bad, key lipgloss.Style
}

func newStyles(p colorprofile.Profile, dark bool) *styles {
	var s sheet
	color := p > colorprofile.ASCII
	ld := lipgloss.LightDark(dark)
	c := lipgloss.Color
	var box lipgloss.Style
	if !color {
		// Attributes only: bold, underline and reverse survive an ASCII
		// profile; a NoTTY one drops even those, which is why rows carry
		// text markers too.
		s.bar = lipgloss.NewStyle().Reverse(true)
		s.barDim = s.bar
		s.barWarn = s.bar.Bold(true)
		s.barOK = s.bar
		s.barBad = s.bar.Bold(true).Underline(true)
		s.tab = lipgloss.NewStyle()
		s.tabActive = lipgloss.NewStyle().Bold(true).Underline(true)
		s.colHead = lipgloss.NewStyle().Underline(true)
		s.sel = lipgloss.NewStyle().Reverse(true)
		s.title = lipgloss.NewStyle().Bold(true)
		s.bold = lipgloss.NewStyle().Bold(true)
		s.dim = lipgloss.NewStyle()
		s.ok = lipgloss.NewStyle()
		s.warn = lipgloss.NewStyle().Bold(true)
		s.bad = lipgloss.NewStyle().Bold(true)
		s.key = lipgloss.NewStyle().Bold(true)
		box = lipgloss.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 1)
	} else {
		barBG := ld(c("#c8d3e6"), c("#24324a"))
		barFG := ld(c("#10141c"), c("#e6ebf5"))
		dim := ld(c("#6b7280"), c("#8b93a3"))
		s.bar = lipgloss.NewStyle().Background(barBG).Foreground(barFG)
		s.barDim = s.bar.Foreground(dim)
		s.barWarn = s.bar.Foreground(ld(c("#8a4b00"), c("#ffcc66"))).Bold(true)
		s.barOK = s.bar.Foreground(ld(c("#166534"), c("#86efac"))).Bold(true)
		s.barBad = s.bar.Foreground(ld(c("#b91c1c"), c("#fca5a5"))).Bold(true)
		s.tab = lipgloss.NewStyle().Foreground(dim)
		s.tabActive = lipgloss.NewStyle().Bold(true).Underline(true).Foreground(ld(c("#1d4ed8"), c("#7cb7ff")))
		s.colHead = lipgloss.NewStyle().Bold(true).Foreground(dim)
		s.sel = lipgloss.NewStyle().Reverse(true)
		s.title = lipgloss.NewStyle().Bold(true).Foreground(ld(c("#1d4ed8"), c("#7cb7ff")))
		s.bold = lipgloss.NewStyle().Bold(true)
		s.dim = lipgloss.NewStyle().Foreground(dim)
		s.ok = lipgloss.NewStyle().Foreground(ld(c("#15803d"), c("#6ee7a0")))
		s.warn = lipgloss.NewStyle().Foreground(ld(c("#a16207"), c("#fcd34d")))
		s.bad = lipgloss.NewStyle().Foreground(ld(c("#b91c1c"), c("#fca5a5"))).Bold(true)
		s.key = lipgloss.NewStyle().Bold(true).Foreground(ld(c("#7c3aed"), c("#c4b5fd")))
		box = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(ld(c("#1d4ed8"), c("#7cb7ff"))).Padding(0, 1)
	}
	st := &styles{
		color: color, box: box,
		bar: paintOf(s.bar), barDim: paintOf(s.barDim), barWarn: paintOf(s.barWarn),
		barOK: paintOf(s.barOK), barBad: paintOf(s.barBad),
		tab: paintOf(s.tab), tabActive: paintOf(s.tabActive), colHead: paintOf(s.colHead), sel: paintOf(s.sel),
		title: paintOf(s.title), bold: paintOf(s.bold), dim: paintOf(s.dim),
		ok: paintOf(s.ok), warn: paintOf(s.warn), bad: paintOf(s.bad), key: paintOf(s.key),
	}
	st.rf = st.ok.Render("RF")
	st.mqtt = st.warn.Render("MQTT")
	st.self = st.title.Render("self")
	return st
}

// stateStyle colours a radio's link state by what it means to users.
func (m *Model) stateStyle(s radio.State) paint {
	switch s {
	case radio.Connected:
		return m.st.ok
	case radio.Connecting, radio.Backoff, radio.Idle:
		return m.st.warn
	}
	return m.st.bad // contended, stopped: nobody here gets the radio until that changes
}

// Grades: what a number means, as a paint. Each graded cell also shows the
// number itself, so the screen reads the same without colour.

// snrGrade grades a signal-to-noise ratio in dB. LoRa decodes below the
// noise floor: about -7.5 dB at SF7 to -20 dB at SF12 (Semtech SX1276
// datasheet, table 13), so 0 dB and up is a clean link, down to -10 dB a
// usable one at the long-range presets, and below that marginal.
func (st *styles) snrGrade(snr float32) paint {
	switch {
	case snr >= 0:
		return st.ok
	case snr >= -10:
		return st.warn
	}
	return st.bad
}

// batteryGrade grades a battery level in percent; 101 means powered
// (Meshtastic's convention), which is good.
func (st *styles) batteryGrade(level uint32) paint {
	switch {
	case level > 100 || level >= 50:
		return st.ok
	case level >= 20:
		return st.warn
	}
	return st.bad
}
