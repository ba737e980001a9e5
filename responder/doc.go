// Package responder decides automatic replies to text messages heard on a
// radio, and renders the radio's periodic beacon. It is pure logic: it
// never sends anything, reads no clock and touches no storage. The radio
// broker feeds it each received text (Incoming) with the radio's current
// rules and the time, and acts on the Decision it gets back.
//
// A radio is shared by a team, so the engine is deliberately conservative.
// Whatever rules exist, and whichever operators own them, a received packet
// gets at most one reply; our own node, senders we have no NodeInfo for and
// empty texts are never answered; each rule has a cooldown overall (at
// least MinCooldown) and optionally per sender; a sender that keeps
// triggering replies (usually another bot, answering our answers) is muted
// for a while by the loop guard; and each radio has a reply budget (by
// default DefaultBudget replies per DefaultBudgetWindow, across all rules)
// that no number of rules can outgrow.
//
// What the engine does not do is pace the radio: the firmware accepts one
// text per 2 s from its client, and the broker's send queue enforces that
// for every sender on the radio, replies included.
package responder
