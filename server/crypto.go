package server

import gossh "golang.org/x/crypto/ssh"

// The algorithms the gateway offers. x/crypto's defaults still include
// diffie-hellman-group14-sha1, hmac-sha1, hmac-sha1-96 and ssh-rsa (SHA-1)
// signatures for old clients; every client that can reach a Meshtastic
// gateway today (OpenSSH 8.5+, PuTTY 0.75+, Termius, x/crypto, paramiko
// 2.9+) speaks the set below. The README's security section lists it.
var (
	// Post-quantum hybrid first (OpenSSH 10's default), then X25519, then
	// the NIST curves for clients held to FIPS algorithms.
	keyExchanges = []string{
		gossh.KeyExchangeMLKEM768X25519,
		gossh.KeyExchangeCurve25519,
		gossh.KeyExchangeECDHP256,
		gossh.KeyExchangeECDHP384,
		gossh.KeyExchangeECDHP521,
	}
	// AEAD ciphers; CTR only together with the encrypt-then-MAC MACs.
	// x/crypto implements strict key exchange, so chacha20-poly1305 is
	// not open to Terrapin (CVE-2023-48795).
	ciphers = []string{
		gossh.CipherChaCha20Poly1305,
		gossh.CipherAES256GCM,
		gossh.CipherAES128GCM,
		gossh.CipherAES256CTR,
		gossh.CipherAES128CTR,
	}
	macs = []string{
		gossh.HMACSHA256ETM,
		gossh.HMACSHA512ETM,
	}
	// Signatures a client may log in with: no ssh-rsa (SHA-1) and no DSA.
	// Security-key (sk-) variants are allowed for hardware keys.
	publicKeyAlgorithms = []string{
		gossh.KeyAlgoED25519,
		gossh.KeyAlgoSKED25519,
		gossh.KeyAlgoECDSA256,
		gossh.KeyAlgoSKECDSA256,
		gossh.KeyAlgoECDSA384,
		gossh.KeyAlgoECDSA521,
		gossh.KeyAlgoRSASHA512,
		gossh.KeyAlgoRSASHA256,
	}
)

// serverConfig is the x/crypto configuration of every connection.
func serverConfig(maxAuthTries int) *gossh.ServerConfig {
	return &gossh.ServerConfig{
		Config: gossh.Config{
			KeyExchanges: keyExchanges,
			Ciphers:      ciphers,
			MACs:         macs,
		},
		PublicKeyAuthAlgorithms: publicKeyAlgorithms,
		MaxAuthTries:            maxAuthTries,
	}
}
