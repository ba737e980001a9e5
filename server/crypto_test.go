package server

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Regression: the gateway offers no SHA-1 key exchange, no SHA-1 MACs and
// accepts no ssh-rsa (SHA-1) signatures; modern clients get in.
func TestOnlyModernAlgorithms(t *testing.T) {
	alice := newUser(t, "alice", "")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaSigner, err := gossh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	bob := &user{name: "bob", signer: rsaSigner, listed: true}
	g := startGateway(t, gwOptions{users: []*user{alice, bob}})

	dial := func(signer gossh.Signer, cfg gossh.Config) error {
		c, err := gossh.Dial("tcp", g.addr, &gossh.ClientConfig{
			Config: cfg, User: "mesh", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
		})
		if err == nil {
			c.Close()
		}
		return err
	}
	refused := map[string]gossh.Config{
		"diffie-hellman-group14-sha1":   {KeyExchanges: []string{gossh.InsecureKeyExchangeDH14SHA1}},
		"diffie-hellman-group14-sha256": {KeyExchanges: []string{gossh.KeyExchangeDH14SHA256}},
		"hmac-sha1":                     {Ciphers: []string{gossh.CipherAES128CTR}, MACs: []string{gossh.HMACSHA1}},
		"hmac-sha1-96":                  {Ciphers: []string{gossh.CipherAES128CTR}, MACs: []string{gossh.InsecureHMACSHA196}},
		"hmac-sha2-256 (not etm)":       {Ciphers: []string{gossh.CipherAES128CTR}, MACs: []string{gossh.HMACSHA256}},
		"aes128-cbc":                    {Ciphers: []string{gossh.InsecureCipherAES128CBC}},
	}
	for name, cfg := range refused {
		if err := dial(alice.signer, cfg); err == nil {
			t.Errorf("a client offering only %s got in", name)
		}
	}
	for name, cfg := range map[string]gossh.Config{
		"defaults":                  {},
		"mlkem768x25519-sha256":     {KeyExchanges: []string{gossh.KeyExchangeMLKEM768X25519}},
		"curve25519-sha256":         {KeyExchanges: []string{gossh.KeyExchangeCurve25519}},
		"chacha20-poly1305":         {Ciphers: []string{gossh.CipherChaCha20Poly1305}},
		"aes256-gcm":                {Ciphers: []string{gossh.CipherAES256GCM}},
		"aes256-ctr + sha2-512-etm": {Ciphers: []string{gossh.CipherAES256CTR}, MACs: []string{gossh.HMACSHA512ETM}},
	} {
		if err := dial(alice.signer, cfg); err != nil {
			t.Errorf("a client offering %s was refused: %v", name, err)
		}
	}

	as := rsaSigner.(gossh.AlgorithmSigner)
	sha1Only, err := gossh.NewSignerWithAlgorithms(as, []string{gossh.KeyAlgoRSA})
	if err != nil {
		t.Fatal(err)
	}
	if err := dial(sha1Only, gossh.Config{}); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("an ssh-rsa (SHA-1) signature: %v, want refused", err)
	}
	sha2, err := gossh.NewSignerWithAlgorithms(as, []string{gossh.KeyAlgoRSASHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := dial(sha2, gossh.Config{}); err != nil {
		t.Errorf("an rsa-sha2-256 signature: %v", err)
	}
}
