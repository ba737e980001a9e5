package auth

import (
	"crypto/sha256"
	"fmt"
)

// A key has no name of its own when the gateway accepts any key (demo
// mode): the client never sends its key's comment. Other users then read a
// nickname made from the fingerprint, which stays the same for the same
// key, rather than a cut fingerprint ("SHA256:4kQS1HaLw0J8").
var (
	nickAdjectives = [32]string{
		"amber", "brisk", "calm", "dusky", "eager", "fern", "gentle", "hazel",
		"ivory", "jolly", "keen", "lunar", "mossy", "nimble", "olive", "plucky",
		"quiet", "rusty", "sandy", "tidal", "umber", "vivid", "windy", "young",
		"zesty", "bold", "coral", "dewy", "frosty", "golden", "misty", "sunny",
	}
	nickAnimals = [32]string{
		"otter", "heron", "badger", "lynx", "marten", "plover", "falcon", "hare",
		"ibex", "jackal", "kestrel", "lemur", "mole", "newt", "osprey", "puffin",
		"quail", "raven", "stoat", "tern", "urchin", "vole", "wren", "yak",
		"zebra", "bison", "crane", "dingo", "egret", "gecko", "koala", "moose",
	}
)

// nickname names a key by its fingerprint: two words and two hex digits,
// so that two keys share a name about once in 260,000 pairs.
func nickname(fp string) string {
	h := sha256.Sum256([]byte(fp))
	return fmt.Sprintf("%s-%s-%02x", nickAdjectives[h[0]%32], nickAnimals[h[1]%32], h[2])
}
