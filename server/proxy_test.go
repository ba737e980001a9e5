package server

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// dialVia opens a TCP connection, optionally writes a PROXY v1 header
// claiming client src, and runs an SSH command over it.
func dialVia(t *testing.T, addr, header string, u *user, cmd string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if header != "" {
		if _, err := c.Write([]byte(header)); err != nil {
			return "", err
		}
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := gossh.NewClientConn(c, addr, &gossh.ClientConfig{User: "mesh",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(u.signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		return "", err
	}
	client := gossh.NewClient(sc, chans, reqs)
	defer client.Close()
	s, err := client.NewSession()
	if err != nil {
		return "", err
	}
	out, err := s.Output(cmd)
	return string(out), err
}

func TestProxyProtocolFromTrustedProxy(t *testing.T) {
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u},
		server: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	out, err := dialVia(t, g.addr, "PROXY TCP4 203.0.113.7 127.0.0.1 51000 2222\r\n", u, "whoami")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "203.0.113.7:51000") {
		t.Fatalf("the proxied client address was not used: %s", out)
	}
	if !strings.Contains(g.logs.String(), "remote=203.0.113.7:51000") {
		t.Fatal("the access log does not show the real client address")
	}
	// A trusted proxy may also connect without a header (its own health checks).
	if _, err := dialVia(t, g.addr, "", u, "whoami"); err != nil {
		t.Fatalf("trusted peer without header: %v", err)
	}
}

func TestProxyProtocolFromUntrustedPeerRefused(t *testing.T) {
	u := newUser(t, "u", "")
	g := startGateway(t, gwOptions{users: []*user{u},
		server: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}})
	if out, err := dialVia(t, g.addr, "PROXY TCP4 203.0.113.7 127.0.0.1 51000 2222\r\n", u, "whoami"); err == nil {
		t.Fatalf("a header from an untrusted peer was honoured: %s", out)
	}
	// Without a header the same peer is an ordinary client.
	out, err := dialVia(t, g.addr, "", u, "whoami")
	if err != nil || !strings.Contains(out, "127.0.0.1") {
		t.Fatalf("plain connection: %q %v", out, err)
	}
}
