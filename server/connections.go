package server

import "github.com/meshgate/meshgate/backend"

// ConnectionList is the connection table as the core lists it (the
// `connections` command); with CloseConnection it makes the server the
// core's backend.ConnectionSource.
func (s *Server) ConnectionList() []backend.Connection {
	list := s.Connections()
	out := make([]backend.Connection, len(list))
	for i, c := range list {
		out[i] = backend.Connection{ID: c.ID, User: c.User, Fingerprint: c.Fingerprint, RemoteAddr: c.Remote,
			Since: c.Since, Sessions: c.Sessions}
	}
	return out
}
