package meshtastic

import "github.com/meshgate/meshgate/meshtastic/pb"

// InFlight reports whether packet id is a request of this client still
// waiting for (or holding) its answer. A multiplexer that sends packets of
// its own clients through this one uses it to keep their ids apart from
// the client's, and to tell the client's answers from theirs.
func (c *Client) InFlight(id uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pending[id]
	return ok
}

// NodeFromInfo is the Node the client makes of a NodeDB entry the radio
// sends in its handshake.
func NodeFromInfo(ni *pb.NodeInfo) Node { return *nodeFromInfo(ni) }
