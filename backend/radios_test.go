package backend

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/meshgate/meshgate/auth"
	"github.com/meshgate/meshgate/meshtastic/sim/simtest"
	"github.com/meshgate/meshgate/radio"
	"github.com/meshgate/meshgate/sessions"
)

// A radio an admin dialled by address is not a configured radio: nobody
// else reaches it by its name without passing the dial check themselves,
// and a key limited to some radios cannot dial others.
func TestAdhocRadioNeedsTheDialCheck(t *testing.T) {
	_, base := simtest.Start(t, simtest.Fast(5, 4))
	_, addr := simtest.Start(t, simtest.Fast(6, 4))
	ctx, cancel := context.WithCancel(context.Background())
	reg := radio.NewRegistry(ctx, radio.Config{Grace: 100 * time.Millisecond}, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	t.Cleanup(func() { cancel(); reg.Wait() })
	if _, err := reg.Add("base", base); err != nil {
		t.Fatal(err)
	}
	b := New(Deps{Radios: reg, Sessions: sessions.NewManager(sessions.Config{})})
	admin := Caller{Identity: auth.Identity{Name: "ada", Fingerprint: "SHA256:ada", Role: auth.Admin}}
	op := Caller{Identity: auth.Identity{Name: "otto", Fingerprint: "SHA256:otto", Role: auth.Operator}}
	scoped := Caller{Identity: auth.Identity{Name: "bea", Fingerprint: "SHA256:bea", Role: auth.Admin, Radios: []string{"base"}}}

	list, err := b.Nodes(ctx, admin, NodesQuery{Radio: addr})
	if err != nil {
		t.Fatalf("the admin's dial: %v", err)
	}
	for _, name := range []string{list.Radio, addr} {
		if _, err := b.Nodes(ctx, op, NodesQuery{Radio: name}); !errors.Is(err, ErrDenied) {
			t.Errorf("an operator reached the dialled radio %q: %v", name, err)
		}
		if _, err := b.Send(ctx, op, SendRequest{Radio: name, Text: "hi"}); !errors.Is(err, ErrDenied) {
			t.Errorf("an operator sent through the dialled radio %q: %v", name, err)
		}
		if _, err := b.Nodes(ctx, scoped, NodesQuery{Radio: name}); !errors.Is(err, ErrDenied) {
			t.Errorf("an admin limited to base dialled %q: %v", name, err)
		}
	}
	if _, err := b.Nodes(ctx, scoped, NodesQuery{Radio: "base"}); err != nil {
		t.Errorf("the scoped admin's own radio: %v", err)
	}
}
