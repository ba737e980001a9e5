package tui

import (
	"fmt"
	"strconv"

	"charm.land/bubbles/v2/key"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/backend"
)

// keys is the whole key map. Help is generated from it, so what help
// lists is what the model handles (the tests walk it).
type keys struct {
	// Everywhere.
	quit, help, lobby, tabs, next, prev, back key.Binding
	// Lists.
	up, down, pgUp, pgDown, home, end key.Binding
	// Lobby.
	choose, refresh key.Binding
	// Nodes.
	filter, sort, reverse, search, detail, dm, trace key.Binding
	// Chat.
	prevConv, nextConv, compose, reply, newDM, send key.Binding
	// Packets.
	pause, inspect, portFilter, nodeFilter, clearFilter key.Binding
	// Trace.
	traceNode, sweep, cancel, toggleList key.Binding
	// MQTT.
	edit, toggle, apply key.Binding
	// Device.
	reboot, shutdown, factoryReset, resetNodeDB key.Binding
	reconnect                                   key.Binding
	// Map.
	zoomIn, zoomOut, pan, nextNode, prevNode, centre, fit, units key.Binding
	// Rules.
	prevSection, nextSection, add, change, enable, del, test, field, save key.Binding
}

// newKeys makes the key map for a screen of n tabs.
func newKeys(n int) keys {
	b := func(help, desc string, ks ...string) key.Binding {
		return key.NewBinding(key.WithKeys(ks...), key.WithHelp(help, desc))
	}
	return keys{
		quit:  b("q/ctrl+c", "quit", "q", "ctrl+c"),
		help:  b("?", "help for this view", "?"),
		lobby: b("L", "lobby: switch radio", "L"),
		tabs:  b(fmt.Sprintf("1-%d", n), "go to tab", digits(n)...),
		next:  b("tab", "next tab", "tab"),
		prev:  b("shift+tab", "previous tab", "shift+tab"),
		back:  b("esc", "close pane, dialog or input", "esc"),

		up:     b("↑/k", "up", "up", "k"),
		down:   b("↓/j", "down", "down", "j"),
		pgUp:   b("pgup", "page up", "pgup"),
		pgDown: b("pgdn", "page down", "pgdown"),
		home:   b("home/g", "first", "home", "g"),
		end:    b("end/G", "last (follow)", "end", "G"),

		choose:  b("enter", "use this radio", "enter"),
		refresh: b("r", "refresh", "r"),

		filter:  b("f", "filter: all / RF / MQTT / nearby", "f"),
		sort:    b("s", "sort: then a column number (or click a heading)", "s"),
		reverse: b("S", "reverse sort", "S"),
		search:  b("/", "search", "/"),
		detail:  b("enter", "details pane", "enter"),
		dm:      b("d", "direct message", "d"),
		trace:   b("t", "traceroute", "t"),

		prevConv: b("←/h", "previous conversation", "left", "h"),
		nextConv: b("→/l", "next conversation", "right", "l"),
		compose:  b("i/enter", "write a message", "i", "enter"),
		newDM:    b("n", "direct message a node by name or id", "n"),
		reply:    b("r", "reply to the selected message", "r"),
		send:     b("enter", "send (while writing)", "enter"),

		pause:       b("space/p", "pause or resume", "space", "p"),
		inspect:     b("enter", "inspect packet", "enter"),
		portFilter:  b("o", "filter by port (cycles)", "o"),
		nodeFilter:  b("n", "filter by the packet's sender", "n"),
		clearFilter: b("x", "clear filters", "x"),

		traceNode:  b("t", "trace a node", "t"),
		sweep:      b("w", "sweep: trace every nearby node", "w"),
		cancel:     b("c", "cancel traceroute or sweep", "c"),
		toggleList: b("v", "show history or sweep results", "v"),

		edit:   b("e", "edit MQTT settings", "e"),
		toggle: b("enter/space", "edit or toggle field", "enter", "space"),
		apply:  b("ctrl+s", "apply (the radio reboots)", "ctrl+s"),

		reboot:       b("R", "reboot the radio", "R"),
		shutdown:     b("H", "shut the radio down", "H"),
		factoryReset: b("F", "factory reset (settings)", "F"),
		resetNodeDB:  b("N", "reset the NodeDB", "N"),
		reconnect:    b("C", "connect now (even if another app has the radio)", "C"),

		zoomIn:   b("+", "zoom in", "+", "="),
		zoomOut:  b("-", "zoom out", "-"),
		pan:      b("arrows/hjkl", "pan", "left", "right", "up", "down", "h", "j", "k", "l"),
		nextNode: b("n", "select the next node, nearest first", "n"),
		prevNode: b("N", "select the previous node", "N"),
		centre:   b("c", "centre on the selected node", "c"),
		fit:      b("f", "fit every node in view", "f"),
		units:    b("u", "units: km or miles", "u"),

		prevSection: b("←/h", "previous section (responders, filters, beacon)", "left", "h"),
		nextSection: b("→/l", "next section", "right", "l"),
		add:         b("a", "add a rule or filter; set the beacon", "a"),
		change:      b("e", "edit the selected rule; set the beacon", "e"),
		enable:      b("space", "enable or disable; start or stop the beacon", "space"),
		del:         b("d/del", "delete (asks first)", "d", "delete"),
		test:        b("t", "test the rule on a sample message; send the beacon now", "t"),
		field:       b("enter/space", "form: edit or switch the field", "enter", "space"),
		save:        b("ctrl+s", "form: check and save", "ctrl+s"),
	}
}

// digits are the keys "1" to n (at most 9).
func digits(n int) []string {
	var ks []string
	for i := 1; i <= min(n, 9); i++ {
		ks = append(ks, strconv.Itoa(i))
	}
	return ks
}

// helpEntry is one line of help: a binding and, when the user's role may
// not use it, why.
type helpEntry struct {
	b      key.Binding
	denied string
}

// helpFor lists the keys of a view for a user: the lobby's, or those of
// the tab p. The core says which of them the user may not use.
func (k *keys) helpFor(v screen, p pane, id auth.Identity) (title string, es []helpEntry) {
	if v == screenLobby {
		for _, b := range []key.Binding{k.up, k.down, k.pgUp, k.pgDown, k.home, k.end, k.choose, k.refresh, k.back} {
			es = append(es, helpEntry{b: b})
		}
		return "Lobby", es
	}
	for _, pk := range p.help(k) {
		e := helpEntry{b: pk.b}
		if pk.op != "" && !backend.Can(id, pk.op) {
			e.denied = "needs the " + backend.MinRole(pk.op).String() + " role"
		}
		es = append(es, e)
	}
	return p.name(), es
}

// global lists the keys that work on every tab.
func (k keys) global() []helpEntry {
	var es []helpEntry
	for _, b := range []key.Binding{k.tabs, k.next, k.prev, k.lobby, k.help, k.back, k.quit} {
		es = append(es, helpEntry{b: b})
	}
	return es
}
