package radio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshgate/meshgate/meshtastic/sim"
	"github.com/meshgate/meshgate/meshtastic/transport"
)

// Registry errors.
var (
	ErrUnknownRadio = errors.New("radio: no such radio")
	ErrDialDenied   = errors.New("radio: address not inside the allowed dial ranges")
	ErrDuplicate    = errors.New("radio: duplicate radio name")
	// ErrConfiguredRadio: an address dialled ad hoc is the endpoint of a
	// configured radio, which must be used by its name so that the
	// name-based permissions (radios= in authorized_keys) apply.
	ErrConfiguredRadio = errors.New("radio: address of a configured radio")
	// ErrTooManyAdhoc: as many ad-hoc radios as allowed are in use.
	ErrTooManyAdhoc = errors.New("radio: too many radios dialled by address")
)

// DefaultMaxAdhoc is how many ad-hoc radios may be alive at once unless
// WithMaxAdhoc says otherwise.
const DefaultMaxAdhoc = 8

// resolveTimeout bounds the name lookups of one Adhoc call.
const resolveTimeout = 10 * time.Second

// Resolver looks up a host name's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// RegistryOption changes a registry's defaults.
type RegistryOption func(*Registry)

// WithResolver makes Adhoc look names up with res instead of
// net.DefaultResolver (tests use it to control the answers).
func WithResolver(res Resolver) RegistryOption {
	return func(r *Registry) { r.resolver = res }
}

// WithMaxAdhoc sets how many ad-hoc radios may be alive at once
// (default DefaultMaxAdhoc; n < 1 keeps the default).
func WithMaxAdhoc(n int) RegistryOption {
	return func(r *Registry) {
		if n >= 1 {
			r.maxAdhoc = n
		}
	}
}

// Registry holds the gateway's radios and runs their brokers.
type Registry struct {
	ctx       context.Context
	log       *slog.Logger
	base      Config // defaults for every broker
	allowDial []netip.Prefix
	resolver  Resolver
	maxAdhoc  int

	mu      sync.Mutex
	brokers map[string]*Broker // configured radios
	order   []string
	targets map[string]string      // configured radio name → TCP host:port it dials
	adhoc   map[string]*adhocRadio // by canonical "tcp://ip:port"
	wg      sync.WaitGroup
}

// adhocRadio is a broker for an address an admin dialled.
type adhocRadio struct {
	key    string
	b      *Broker
	cancel context.CancelFunc // ends its Run
	handed time.Time          // last returned by Adhoc
}

// NewRegistry returns an empty registry whose brokers run until ctx ends.
// base supplies defaults (timeouts, logger) for every radio; allowDial
// lists the ranges admins may dial ad hoc (empty: none).
func NewRegistry(ctx context.Context, base Config, allowDial []netip.Prefix, opts ...RegistryOption) *Registry {
	if base.Logger == nil {
		base.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{ctx: ctx, log: base.Logger, base: base, allowDial: allowDial, resolver: net.DefaultResolver,
		maxAdhoc: DefaultMaxAdhoc, brokers: map[string]*Broker{}, targets: map[string]string{}, adhoc: map[string]*adhocRadio{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Add configures a radio by name and address ("host[:port]",
// "tcp://host:port", "serial:///dev/ttyUSB0", or "sim://?seed=N&nodes=N"
// for a built-in simulated radio) and starts its broker, which connects at
// once and stays connected (Config.Stay).
func (r *Registry) Add(name, addr string) (*Broker, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	dial, target, err := r.dialerFor(addr)
	if err != nil {
		return nil, fmt.Errorf("radio %q: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.brokers[name]; ok {
		return nil, fmt.Errorf("%w: %q", ErrDuplicate, name)
	}
	if target != "" {
		r.targets[name] = target
	}
	cfg := r.base
	cfg.Name, cfg.Address, cfg.Dial = name, addr, dial
	// A configured radio stays connected with nobody logged in: a gateway
	// promises history without gaps, and dropping the link 30 s after the
	// last user left lost whatever the mesh said until the next one came.
	// But the radio serves one app, so holding it by default would also
	// lock out the phone app for good; Stay yields to another app instead
	// of fighting it, and comes back when someone uses the radio here.
	// AlwaysOn (SetAlwaysOn) holds it regardless.
	cfg.Stay = true
	b := New(cfg)
	r.brokers[name] = b
	r.order = append(r.order, name)
	r.wg.Add(1)
	go func() { defer r.wg.Done(); b.Run(r.ctx) }()
	return b, nil
}

// validName keeps radio names usable on a command line and in a table.
func validName(name string) error {
	if name == "" || len(name) > 32 {
		return fmt.Errorf("radio name %q: want 1-32 characters", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("radio name %q: use letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// Get returns a configured radio, or an ad-hoc one by its canonical name
// while it is alive.
func (r *Registry) Get(name string) (*Broker, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.brokers[name]; ok {
		return b, nil
	}
	if e, ok := r.adhoc[name]; ok {
		return e.b, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownRadio, name)
}

// Names lists the configured radios in the order they were added.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.order)
}

// Adhoc returns a broker for a TCP address that is not a configured
// radio, if it lies inside the allowed dial ranges.
//
// The address is resolved once, here: every address a name resolves to
// must be inside the ranges (a name that points partly outside is
// refused), and the broker dials the first of them as a literal IP for
// as long as it lives, so a name that resolves elsewhere later (DNS
// rebinding) cannot lead it outside. IPv4-mapped IPv6 addresses count as
// IPv4 and the port defaults to 4403, so every spelling of one endpoint
// shares one broker, named by its canonical "tcp://ip:port" (which Adhoc
// accepts too). A name whose answers change may land on another allowed
// endpoint, with its own broker.
//
// An address that is the endpoint of a configured radio (the same IP, as
// the configured address resolves now, and port), or a name with such an
// address among its answers, is refused (ErrConfiguredRadio): that radio
// is used by its name, where its permissions apply. At most
// DefaultMaxAdhoc (WithMaxAdhoc) ad-hoc radios are alive at once
// (ErrTooManyAdhoc). One connects only while someone uses it and is
// dropped once nobody has used it for the grace period (Config.Grace)
// with its link down, and not returned by Adhoc within that time either:
// its broker stops (Status Stopped) and the next Adhoc makes a new one.
// So subscribe to the broker soon after Adhoc returns it.
func (r *Registry) Adhoc(addr string) (*Broker, error) {
	ctx, cancel := context.WithTimeout(r.ctx, resolveTimeout)
	defer cancel()
	ep, all, err := r.adhocEndpoint(ctx, addr)
	if err != nil {
		return nil, err
	}
	for _, ip := range all {
		at := netip.AddrPortFrom(ip, ep.Port())
		if name, ok := r.configuredAt(ctx, at); ok {
			return nil, fmt.Errorf("%w: %s is radio %q; use -r %s", ErrConfiguredRadio, at, name, name)
		}
	}
	target := transport.Address{Kind: transport.TCP, Host: ep.String()}
	key := target.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.adhoc[key]; ok {
		e.handed = time.Now()
		return e.b, nil
	}
	if r.ctx.Err() != nil {
		return nil, ErrStopped
	}
	if len(r.adhoc) >= r.maxAdhoc {
		return nil, fmt.Errorf("%w: %d are in use (one is dropped %s after its last user leaves)",
			ErrTooManyAdhoc, len(r.adhoc), r.adhocGrace())
	}
	e := &adhocRadio{key: key, handed: time.Now()}
	cfg := r.base
	cfg.Name, cfg.Address = key, key
	cfg.Dial = func(ctx context.Context) (transport.Conn, error) { return transport.Dial(ctx, target) }
	cfg.Unused = func() { r.retire(e) }
	e.b = New(cfg)
	bctx, stop := context.WithCancel(r.ctx)
	e.cancel = stop
	r.adhoc[key] = e
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer stop()
		e.b.Run(bctx)
	}()
	r.log.Info("ad-hoc radio added", "radio", key, "address", addr)
	return e.b, nil
}

// adhocGrace is how long an unused ad-hoc radio lives.
func (r *Registry) adhocGrace() time.Duration {
	c := r.base
	c.fill()
	return c.Grace
}

// adhocEndpoint parses, resolves and checks an address dialled ad hoc. It
// returns the endpoint to dial and all the addresses the host resolved to.
func (r *Registry) adhocEndpoint(ctx context.Context, addr string) (netip.AddrPort, []netip.Addr, error) {
	a, err := transport.Parse(addr)
	if err != nil {
		return netip.AddrPort{}, nil, err
	}
	if a.Kind != transport.TCP {
		return netip.AddrPort{}, nil, fmt.Errorf("%w: only TCP addresses can be dialled ad hoc", ErrDialDenied)
	}
	host, portStr, err := net.SplitHostPort(a.Host)
	if err != nil {
		return netip.AddrPort{}, nil, fmt.Errorf("%w: %q: %v", transport.ErrBadAddress, addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, nil, fmt.Errorf("%w: %q: bad port", transport.ErrBadAddress, addr)
	}
	if len(r.allowDial) == 0 {
		return netip.AddrPort{}, nil, fmt.Errorf("%w: dialling by address is off (no --allow-dial ranges)", ErrDialDenied)
	}
	ips, err := r.lookup(ctx, host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, nil, fmt.Errorf("%w: cannot resolve %q", ErrDialDenied, host)
	}
	for _, ip := range ips {
		if !r.dialAllowed(ip) {
			if ip.String() != host {
				return netip.AddrPort{}, nil, fmt.Errorf("%w: %s (%s)", ErrDialDenied, ip, host)
			}
			return netip.AddrPort{}, nil, fmt.Errorf("%w: %s", ErrDialDenied, ip)
		}
	}
	return netip.AddrPortFrom(ips[0], uint16(port)), ips, nil
}

// lookup returns host's addresses, unmapped (an IP literal is its own
// answer).
func (r *Registry) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	ips, err := r.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.Unmap())
	}
	return out, nil
}

// configuredAt names the configured radio that dials ep, if one does. A
// configured host name is looked up now; one that does not resolve
// matches nothing.
func (r *Registry) configuredAt(ctx context.Context, ep netip.AddrPort) (string, bool) {
	r.mu.Lock()
	names := slices.Clone(r.order)
	targets := maps.Clone(r.targets)
	r.mu.Unlock()
	for _, name := range names {
		host, portStr, err := net.SplitHostPort(targets[name])
		if err != nil || portStr != strconv.Itoa(int(ep.Port())) {
			continue
		}
		ips, err := r.lookup(ctx, host)
		if err != nil {
			continue
		}
		if slices.Contains(ips, ep.Addr()) {
			return name, true
		}
	}
	return "", false
}

// retire drops an ad-hoc radio its broker reports unused, unless it has
// been used or handed out since.
func (r *Registry) retire(e *adhocRadio) {
	if e.b.needed() { // may read the store: outside r.mu
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.adhoc[e.key] != e || len(*e.b.subs.Load()) > 0 || time.Since(e.handed) < e.b.cfg.Grace {
		return
	}
	delete(r.adhoc, e.key)
	e.cancel()
	r.log.Info("ad-hoc radio dropped: unused", "radio", e.key, "grace", e.b.cfg.Grace)
}

func (r *Registry) dialAllowed(ip netip.Addr) bool {
	for _, p := range r.allowDial {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Announce tells every user of every radio something.
func (r *Registry) Announce(text string) {
	r.mu.Lock()
	bs := make([]*Broker, 0, len(r.brokers)+len(r.adhoc))
	for _, b := range r.brokers {
		bs = append(bs, b)
	}
	for _, e := range r.adhoc {
		bs = append(bs, e.b)
	}
	r.mu.Unlock()
	for _, b := range bs {
		b.Announce(text)
	}
}

// Wait blocks until every broker has stopped (after ctx ends).
func (r *Registry) Wait() { r.wg.Wait() }

// dialerFor turns an address into a Dialer, and says which TCP host:port
// it dials ("" for a serial link). A sim:// address starts a simulated
// radio inside the gateway, serving the real TCP API on a loopback port,
// so the broker talks to it exactly as to hardware. A configured host
// name is looked up on every dial: configuration is trusted, and a radio
// whose address changes is found again.
func (r *Registry) dialerFor(addr string) (Dialer, string, error) {
	if strings.HasPrefix(addr, "sim://") {
		return r.simDialer(addr)
	}
	a, err := transport.Parse(addr)
	if err != nil {
		return nil, "", err
	}
	dial := func(ctx context.Context) (transport.Conn, error) { return transport.Dial(ctx, a) }
	if a.Kind != transport.TCP {
		return dial, "", nil
	}
	return dial, a.Host, nil
}

func (r *Registry) simDialer(addr string) (Dialer, string, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q: %v", transport.ErrBadAddress, addr, err)
	}
	cfg := sim.Config{Seed: 1, Nodes: 30}
	q := u.Query()
	for k := range q {
		v := q.Get(k)
		n, err := strconv.ParseInt(v, 10, 64)
		switch k {
		case "seed":
			cfg.Seed = n
		case "nodes":
			cfg.Nodes = int(n)
			if err == nil && (n < 0 || n > 5000) {
				err = fmt.Errorf("out of range 0-5000")
			}
		case "traffic":
			cfg.TrafficInterval, err = time.ParseDuration(v)
		case "name":
			cfg.LongName, err = v, nil
		default:
			err = fmt.Errorf("unknown option")
		}
		if err != nil {
			return nil, "", fmt.Errorf("%w: %q: option %s: %v", transport.ErrBadAddress, addr, k, err)
		}
	}
	radio, err := sim.New(cfg)
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := radio.Serve(r.ctx, ln); err != nil && r.ctx.Err() == nil {
			r.log.Error("simulated radio stopped", "addr", addr, "err", err)
		}
	}()
	target := transport.Address{Kind: transport.TCP, Host: ln.Addr().String()}
	return func(ctx context.Context) (transport.Conn, error) { return transport.Dial(ctx, target) }, target.Host, nil
}
