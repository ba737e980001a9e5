package auth

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestFromPatterns(t *testing.T) {
	tests := []struct {
		name, list, ip string
		want           bool
	}{
		{"exact IPv4", "192.0.2.7", "192.0.2.7", true},
		{"exact IPv4 other address", "192.0.2.7", "192.0.2.8", false},
		{"IPv4 CIDR inside", "10.0.0.0/8", "10.200.3.4", true},
		{"IPv4 CIDR outside", "10.0.0.0/8", "11.0.0.1", false},
		{"IPv4 /32", "10.0.0.1/32", "10.0.0.1", true},
		{"IPv4 /0 matches all IPv4", "0.0.0.0/0", "203.0.113.9", true},
		{"IPv4 CIDR does not match IPv6", "0.0.0.0/0", "2001:db8::1", false},
		{"IPv4 wildcard", "192.168.1.*", "192.168.1.44", true},
		{"IPv4 wildcard is textual", "192.168.1.*", "192.168.10.4", false},
		{"question mark is one character", "10.0.0.?", "10.0.0.7", true},
		{"question mark is not two", "10.0.0.?", "10.0.0.17", false},
		{"star matches all", "*", "2001:db8::1", true},
		{"several stars", "1*.*.*.1", "172.16.0.1", true},
		{"wildcard must consume everything", "10.*.1", "10.0.0.12", false},

		{"exact IPv6", "2001:db8::1", "2001:db8::1", true},
		{"exact IPv6 written differently", "2001:0DB8:0:0::1", "2001:db8::1", true},
		{"IPv6 CIDR inside", "2001:db8::/32", "2001:db8:ffff::5", true},
		{"IPv6 CIDR outside", "2001:db8::/32", "2001:db9::5", false},
		{"IPv6 wildcard", "fe80::*", "fe80::1234", true},
		{"IPv6 wildcard upper case", "FE80::*", "fe80::1234", true},
		{"IPv6 CIDR does not match IPv4", "::/0", "10.0.0.1", false},

		{"IPv4-mapped client matches IPv4 CIDR", "10.0.0.0/8", "::ffff:10.1.2.3", true},
		{"IPv4-mapped client matches IPv4 wildcard", "10.1.*", "::ffff:10.1.2.3", true},
		{"IPv4-mapped pattern matches IPv4 client", "::ffff:10.0.0.0/104", "10.1.2.3", true},
		{"zone is ignored", "fe80::/10", "fe80::1%eth0", true},

		{"list: any entry matches", "10.0.0.0/8,192.168.0.0/16", "192.168.3.3", true},
		{"list: none matches", "10.0.0.0/8,192.168.0.0/16", "172.16.0.1", false},
		{"negation denies inside allowed network", "10.0.0.0/8,!10.6.6.6", "10.6.6.6", false},
		{"negation first still denies", "!10.6.6.6,10.0.0.0/8", "10.6.6.6", false},
		{"negation leaves the rest allowed", "10.0.0.0/8,!10.6.6.6", "10.6.6.7", true},
		{"negation alone allows nothing", "!10.6.6.6", "10.6.6.7", false},
		{"negated CIDR", "*,!192.168.0.0/16", "192.168.1.1", false},
		{"negated CIDR outside", "*,!192.168.0.0/16", "10.0.0.1", true},
		{"negated IPv6 CIDR", "*,!2001:db8::/32", "2001:db8::1", false},
		{"negated wildcard", "*,!10.0.*", "10.0.0.1", false},
		{"spaces around entries", " 10.0.0.1 , 10.0.0.2 ", "10.0.0.2", true},

		{"host name matches nothing", "localhost", "127.0.0.1", false},
		{"negated host name denies nothing", "*,!gw.example.com", "127.0.0.1", true},
		{"host name wildcard matches nothing", "*.example.com", "127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol, _, err := compileFrom(tt.list)
			if err != nil {
				t.Fatal(err)
			}
			if got := pol.allows(netip.MustParseAddr(tt.ip)); got != tt.want {
				t.Errorf("from=%q allows %s = %v, want %v", tt.list, tt.ip, got, tt.want)
			}
		})
	}
}

func TestFromHostNameWarnings(t *testing.T) {
	tests := []struct {
		list  string
		warns int
	}{
		{"10.0.0.1,fe80::*,192.168.*", 0},
		{"localhost", 1},
		{"cafe", 1}, // a name made only of hex letters is still a name
		{"*.cafe", 1},
		{"gw-1.example.com,!bad.example.com,10.0.0.0/8", 2},
		{"[::1]", 1},
	}
	for _, tt := range tests {
		_, warnings, err := compileFrom(tt.list)
		if err != nil {
			t.Errorf("%q: %v", tt.list, err)
			continue
		}
		if len(warnings) != tt.warns {
			t.Errorf("%q: got warnings %q, want %d", tt.list, warnings, tt.warns)
		}
		for _, w := range warnings {
			if !strings.Contains(w, "not resolved") {
				t.Errorf("%q: warning %q does not say names are not resolved", tt.list, w)
			}
		}
	}
}

func TestFromInvalidAddressNeverAllowed(t *testing.T) {
	pol, _, err := compileFrom("*")
	if err != nil {
		t.Fatal(err)
	}
	if pol.allows(netip.Addr{}) {
		t.Error("an unknown client address was allowed")
	}
}

// stringAddr is a net.Addr known only by its text, as some listener
// wrappers report.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

func TestRemoteIP(t *testing.T) {
	var nilTCP *net.TCPAddr
	tests := []struct {
		name string
		addr net.Addr
		want string // "" for invalid
	}{
		{"tcp v4", &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5000}, "::ffff:192.0.2.1"},
		{"tcp v6", &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5000}, "2001:db8::1"},
		{"udp", &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1)}, "::ffff:10.0.0.1"},
		{"ip", &net.IPAddr{IP: net.IPv4(10, 0, 0, 2)}, "::ffff:10.0.0.2"},
		{"text with port", stringAddr("[2001:db8::2]:22"), "2001:db8::2"},
		{"text without port", stringAddr("10.0.0.3"), "10.0.0.3"},
		{"unparsable text", stringAddr("pipe"), ""},
		{"nil", nil, ""},
		{"typed nil", nilTCP, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := remoteIP(tt.addr)
			if (tt.want == "" && got.IsValid()) || (tt.want != "" && got.String() != tt.want) {
				t.Errorf("got %v, want %q", got, tt.want)
			}
		})
	}
}

func TestWildcardMatchIsNotExponential(t *testing.T) {
	// A naive recursive matcher takes ages on this.
	pattern := strings.Repeat("*?", 30) + "x"
	if wildcardMatch(pattern, strings.Repeat("a", 60)) {
		t.Error("matched")
	}
}
