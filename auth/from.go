package auth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// sourcePolicy is a compiled from="pattern-list". It follows sshd's rules
// for the address half of the check: entries are tried in order, an entry
// that matches and is negated with "!" denies at once, and otherwise the
// address is allowed if at least one entry matched.
//
// sshd can also match host names, after a reverse DNS lookup. We never look
// names up: reverse DNS is controlled by whoever owns the address block, so
// it proves nothing, and sshd's own default (UseDNS no) makes name patterns
// match against the bare address too. A name pattern therefore matches
// nothing here, and the parser warns about it.
type sourcePolicy struct {
	entries []sourceEntry
}

// sourceEntry is one item of the list: a network (an address or CIDR block)
// or, failing that, a wildcard pattern matched against the address as text.
type sourceEntry struct {
	negate bool
	prefix netip.Prefix // valid for addresses and CIDR blocks
	glob   string       // lower-case wildcard pattern otherwise
}

// compileFrom parses a from= value. A malformed entry is an error, which
// makes the parser ignore the whole line: sshd treats such a list as matching
// nothing, so the key was unusable anyway, and an explicit problem report is
// more helpful than a silent refusal at login. Entries that can never match
// (host names) are only warnings, because sshd accepts them too.
func compileFrom(list string) (*sourcePolicy, []string, error) {
	var (
		pol      sourcePolicy
		warnings []string
	)
	for item := range strings.SplitSeq(list, ",") {
		// sshd does not trim, so "a, b" makes " b" a pattern that never
		// matches; trimming does what the author meant.
		item = strings.Trim(item, " \t")
		var e sourceEntry
		if rest, ok := strings.CutPrefix(item, "!"); ok {
			e.negate = true
			item = rest
		}
		if item == "" {
			return nil, nil, errors.New("from= has an empty pattern")
		}
		switch {
		case strings.Contains(item, "/"):
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, nil, fmt.Errorf("from= pattern %s is not a valid network", quote(item))
			}
			p = unmapPrefix(p.Addr().WithZone(""), p.Bits())
			if p.Masked() != p {
				// sshd rejects these too: 10.1.2.3/8 is almost
				// always a typo for something narrower.
				return nil, nil, fmt.Errorf("from= pattern %s has host bits set (the network is %s)", quote(item), p.Masked())
			}
			e.prefix = p
		case !strings.ContainsAny(item, "*?"):
			a, err := netip.ParseAddr(item)
			switch {
			case err == nil:
				a = a.WithZone("")
				e.prefix = unmapPrefix(a, a.BitLen())
			case strings.Trim(item, "0123456789.:") == "":
				// Only address characters, yet not an address:
				// a typo such as 10.0.0.256 or 10.0.1.
				return nil, nil, fmt.Errorf("from= pattern %s is not a valid IP address", quote(item))
			default:
				warnings = append(warnings, hostNameWarning(item))
				e.glob = strings.ToLower(item)
			}
		default:
			if !couldMatchAddress(item) {
				warnings = append(warnings, hostNameWarning(item))
			}
			// Addresses are printed in lower case; match patterns
			// like FE80::* too.
			e.glob = strings.ToLower(item)
		}
		pol.entries = append(pol.entries, e)
	}
	return &pol, warnings, nil
}

func hostNameWarning(item string) string {
	return fmt.Sprintf("from= pattern %s looks like a host name; names are not resolved, so it matches nothing", quote(item))
}

// couldMatchAddress reports whether a wildcard pattern can match some
// printed IPv4 or IPv6 address: only digits, dots, colons, hex letters and
// wildcards, and hex letters only alongside a colon, since only IPv6
// addresses contain letters.
func couldMatchAddress(pattern string) bool {
	hasHexLetter, hasColon := false, false
	for _, c := range []byte(pattern) {
		switch {
		case c >= '0' && c <= '9', c == '.', c == '*', c == '?':
		case c == ':':
			hasColon = true
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			hasHexLetter = true
		default:
			return false
		}
	}
	return !hasHexLetter || hasColon
}

// unmapPrefix writes networks given as IPv4-mapped IPv6 (::ffff:10.0.0.0/104)
// as plain IPv4, because client addresses are unmapped before matching.
func unmapPrefix(a netip.Addr, bits int) netip.Prefix {
	if a.Is4In6() && bits >= 96 {
		return netip.PrefixFrom(a.Unmap(), bits-96)
	}
	return netip.PrefixFrom(a, bits)
}

// allows reports whether a client at ip may use the key. An invalid address
// (the server could not tell where the client is) is never allowed.
func (p *sourcePolicy) allows(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	// A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; sshd
	// matches those as IPv4, and so do we.
	ip = ip.Unmap().WithZone("")
	text := ip.String()
	matched := false
	for _, e := range p.entries {
		var hit bool
		if e.prefix.IsValid() {
			hit = e.prefix.Contains(ip)
		} else {
			hit = wildcardMatch(e.glob, text)
		}
		if hit {
			if e.negate {
				return false
			}
			matched = true
		}
	}
	return matched
}

// wildcardMatch matches s against a pattern where * is any run of bytes and
// ? is exactly one byte. It remembers only the last star, so it runs in
// O(len(pattern)·len(s)) at worst rather than exponentially.
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, resume := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, resume = p, i
			p++
		case star >= 0:
			// Let the last star swallow one more byte and retry.
			resume++
			p, i = star+1, resume
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// remoteIP extracts the client's address from what the SSH server reports.
// The concrete types cover real listeners; the text fallback covers wrappers
// (PROXY protocol, test doubles) that only implement String.
func remoteIP(addr net.Addr) netip.Addr {
	var ip net.IP
	switch a := addr.(type) {
	case nil:
		return netip.Addr{}
	case *net.TCPAddr:
		if a == nil {
			return netip.Addr{}
		}
		ip = a.IP
	case *net.UDPAddr:
		if a == nil {
			return netip.Addr{}
		}
		ip = a.IP
	case *net.IPAddr:
		if a == nil {
			return netip.Addr{}
		}
		ip = a.IP
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return ap.Addr()
		}
		if ip, err := netip.ParseAddr(a.String()); err == nil {
			return ip
		}
		return netip.Addr{}
	}
	out, _ := netip.AddrFromSlice(ip)
	return out
}
