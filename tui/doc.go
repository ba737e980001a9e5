// Package tui is the full-screen terminal UI every interactive login gets:
// a lobby to pick a radio, then tabs for the radio's nodes, chat, this
// session's packet log, traceroutes and sweeps, MQTT health and config, the
// device itself, and the radio's rules: auto-responders, message filters
// and the beacon, kept in the gateway's database. The user's own filters
// apply to the session's Nodes, Chat and Packets views, which count what
// they hide.
//
// Everything the user does goes through the core (package backend), as
// the exec commands do: sends, traceroutes and sweeps, admin actions, the
// MQTT editor, rules, filters and the beacon. The core decides who may,
// validates and fills defaults, and writes the audit record; the UI asks it
// too before it offers a form or a dialog, and shows its refusals in its
// own words. The UI streams only what it shows live: the bound radio's
// view, messages and events, through the radio's broker.
//
// The UI is a Bubble Tea model that reads shared, immutable broker data
// (the radio's View, its message history, the events it fans out) and
// keeps only per-session state of its own: selections, filters, scroll
// positions and small caches of rendered rows. It never ticks while idle:
// radio events mark parts of the screen dirty and one short timer
// coalesces them into a frame; timers exist only while something is in
// progress (a queued traceroute, the last minutes before the idle timeout).
package tui
