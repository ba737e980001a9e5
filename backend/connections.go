package backend

import (
	"strings"
	"time"
)

// Connection is one authenticated SSH connection. A connection carries
// the sessions of one login (ssh's ControlMaster can share it); one with
// no session left — `ssh -N`, or a client that keeps it open — is closed
// by the server after its grace period.
type Connection struct {
	ID          string    `json:"id"`
	User        string    `json:"user"`
	Fingerprint string    `json:"fingerprint"`
	RemoteAddr  string    `json:"remote_addr"`
	Since       time.Time `json:"since"`
	// Sessions is how many sessions run on it now.
	Sessions int `json:"sessions"`
}

// ConnectionSource is what lists and closes connections: the SSH server.
type ConnectionSource interface {
	ConnectionList() []Connection
	CloseConnection(id string) bool
}

// SetConnections tells the core where connections are listed; the server
// calls it once it is built.
func (b *Backend) SetConnections(src ConnectionSource) { b.conns.Store(&src) }

func (b *Backend) connections() (ConnectionSource, error) {
	src := b.conns.Load()
	if src == nil {
		return nil, errorf(ErrUnavailable, "connections are not listed here")
	}
	return *src, nil
}

// Connections lists the gateway's authenticated SSH connections. A key
// limited by radios= sees only its own: connections belong to no radio.
func (b *Backend) Connections(c Caller) ([]Connection, error) {
	if err := Allowed(c.Identity, OpSessions, "", ""); err != nil {
		return nil, err
	}
	src, err := b.connections()
	if err != nil {
		return nil, err
	}
	out := []Connection{}
	for _, conn := range src.ConnectionList() {
		if conn.Fingerprint == c.Fingerprint || covers(c.Identity, "") {
			conn.Since = utc(conn.Since)
			out = append(out, conn)
		}
	}
	return out, nil
}

// ConnectionClosed says which connection was closed.
type ConnectionClosed struct {
	Connection string `json:"connection"`
	User       string `json:"user"`
	Sessions   int    `json:"sessions"`
	Reason     string `json:"reason"`
}

// CloseConnection closes an SSH connection and every session on it.
func (b *Backend) CloseConnection(c Caller, id, reason string) (ConnectionClosed, error) {
	if err := Allowed(c.Identity, OpKick, "", ""); err != nil {
		return ConnectionClosed{}, err
	}
	id = strings.TrimSpace(id)
	if id == "" {
		return ConnectionClosed{}, invalid("want a connection id (see: connections)")
	}
	src, err := b.connections()
	if err != nil {
		return ConnectionClosed{}, err
	}
	var found *Connection
	for _, conn := range src.ConnectionList() {
		if conn.ID == id && (conn.Fingerprint == c.Fingerprint || covers(c.Identity, "")) {
			found = &conn
			break
		}
	}
	if found == nil || !src.CloseConnection(id) {
		return ConnectionClosed{}, notFound("no connection %q (see: connections)", id)
	}
	why := "closed by " + c.Name
	if reason != "" {
		why += ": " + reason
	}
	b.audit(c, "", string(OpKick), "connection "+id+" of "+found.User+" from "+found.RemoteAddr+": "+why)
	return ConnectionClosed{Connection: id, User: found.User, Sessions: found.Sessions, Reason: why}, nil
}
