package auth

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// testKey returns a fixed ed25519 public key per seed, so failures name the
// same fingerprints on every run.
func testKey(t testing.TB, seed byte) gossh.PublicKey {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	pk, err := gossh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// keyText is the "type base64" form of a key, as it appears in a file.
func keyText(k gossh.PublicKey) string {
	return strings.TrimSuffix(string(gossh.MarshalAuthorizedKey(k)), "\n")
}

// parseText parses s as a file named "ak".
func parseText(s string) (*Set, []Problem) {
	return Parse(strings.NewReader(s), "ak")
}

// only returns the single identity in set, failing otherwise.
func only(t *testing.T, set *Set, problems []Problem) Identity {
	t.Helper()
	ids := set.Identities()
	if len(ids) != 1 {
		t.Fatalf("got %d identities, want 1; problems: %v", len(ids), problems)
	}
	return ids[0]
}
