package radio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
)

// Registry holds the gateway's radios and runs their brokers.
type Registry struct {
	ctx       context.Context
	log       *slog.Logger
	base      Config // defaults for every broker
	allowDial []netip.Prefix

	mu      sync.Mutex
	brokers map[string]*Broker
	order   []string
	wg      sync.WaitGroup
}

// NewRegistry returns an empty registry whose brokers run until ctx ends.
// base supplies defaults (timeouts, logger) for every radio; allowDial
// lists the ranges admins may dial ad hoc (empty: none).
func NewRegistry(ctx context.Context, base Config, allowDial []netip.Prefix) *Registry {
	if base.Logger == nil {
		base.Logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{ctx: ctx, log: base.Logger, base: base, allowDial: allowDial, brokers: map[string]*Broker{}}
}

// Add configures a radio by name and address ("host[:port]",
// "tcp://host:port", "serial:///dev/ttyUSB0", or "sim://?seed=N&nodes=N"
// for a built-in simulated radio) and starts its broker, which connects at
// once and stays connected (Config.Stay).
func (r *Registry) Add(name, addr string) (*Broker, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	dial, err := r.dialerFor(addr)
	if err != nil {
		return nil, fmt.Errorf("radio %q: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.brokers[name]; ok {
		return nil, fmt.Errorf("%w: %q", ErrDuplicate, name)
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

// Get returns a configured radio.
func (r *Registry) Get(name string) (*Broker, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.brokers[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownRadio, name)
	}
	return b, nil
}

// Names lists the radios in the order they were added.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.order)
}

// Adhoc returns a broker for an address that is not configured, if it lies
// inside the allowed dial ranges (checked on the resolved IP, so a name
// cannot smuggle in an address outside them). The broker is kept and
// reused for the same address; it connects only while someone uses it.
func (r *Registry) Adhoc(addr string) (*Broker, error) {
	a, err := transport.Parse(addr)
	if err != nil {
		return nil, err
	}
	if a.Kind != transport.TCP {
		return nil, fmt.Errorf("%w: only TCP addresses can be dialled ad hoc", ErrDialDenied)
	}
	host, _, _ := net.SplitHostPort(a.Host)
	ips, err := net.DefaultResolver.LookupNetIP(r.ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return nil, fmt.Errorf("%w: cannot resolve %q", ErrDialDenied, host)
	}
	for _, ip := range ips {
		if !r.dialAllowed(ip.Unmap()) {
			return nil, fmt.Errorf("%w: %s", ErrDialDenied, ip)
		}
	}
	name := a.String()
	if b, err := r.Get(name); err == nil {
		return b, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.brokers[name]; ok {
		return b, nil
	}
	cfg := r.base
	cfg.Name, cfg.Address = name, name
	cfg.Dial = func(ctx context.Context) (transport.Conn, error) { return transport.Dial(ctx, a) }
	b := New(cfg)
	r.brokers[name] = b
	r.wg.Add(1)
	go func() { defer r.wg.Done(); b.Run(r.ctx) }()
	return b, nil
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
	bs := make([]*Broker, 0, len(r.brokers))
	for _, b := range r.brokers {
		bs = append(bs, b)
	}
	r.mu.Unlock()
	for _, b := range bs {
		b.Announce(text)
	}
}

// Wait blocks until every broker has stopped (after ctx ends).
func (r *Registry) Wait() { r.wg.Wait() }

// dialerFor turns an address into a Dialer. A sim:// address starts a
// simulated radio inside the gateway, serving the real TCP API on a
// loopback port, so the broker talks to it exactly as to hardware.
func (r *Registry) dialerFor(addr string) (Dialer, error) {
	if strings.HasPrefix(addr, "sim://") {
		return r.simDialer(addr)
	}
	a, err := transport.Parse(addr)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (transport.Conn, error) { return transport.Dial(ctx, a) }, nil
}

func (r *Registry) simDialer(addr string) (Dialer, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", transport.ErrBadAddress, addr, err)
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
			return nil, fmt.Errorf("%w: %q: option %s: %v", transport.ErrBadAddress, addr, k, err)
		}
	}
	radio, err := sim.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := radio.Serve(r.ctx, ln); err != nil && r.ctx.Err() == nil {
			r.log.Error("simulated radio stopped", "addr", addr, "err", err)
		}
	}()
	target := transport.Address{Kind: transport.TCP, Host: ln.Addr().String()}
	return func(ctx context.Context) (transport.Conn, error) { return transport.Dial(ctx, target) }, nil
}
