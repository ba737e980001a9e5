// Package sessions keeps one record per SSH login: who it is, which radio it
// is bound to, what it has seen since, and when the user last did something.
//
// The Manager opens records (refusing politely at the gateway's cap and at
// each key's cap), lists and kicks them, and runs the idle reaper. A
// record's idle clock is driven only by user input (Session.Touch): output
// never counts as activity, so a screen that keeps repainting because
// packets arrive still goes idle and is reaped. The SSH library's own idle
// timeout is reset by any traffic on the connection, which is why the record
// keeps its own clock.
//
// Per-session state (packet log, MQTT health, traceroute results, sweep
// status, view filters) belongs to one radio binding: binding another radio
// starts it afresh.
//
// Manager and Session methods are safe for concurrent use: a radio broker feeds Observe from
// its goroutine while the user's TUI reads the same session from another.
package sessions
