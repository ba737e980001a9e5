package auth

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func TestParseAcceptedLines(t *testing.T) {
	k := testKey(t, 1)
	key := keyText(k)
	fp := Fingerprint(k)

	tests := []struct {
		name string
		line string
		want Identity // Fingerprint and Source are filled in below
	}{
		{"plain key with comment", key + " alice@laptop",
			Identity{Name: "alice@laptop", Role: Operator}},
		{"comment with spaces", key + "   Alice Smith (laptop)  ",
			Identity{Name: "Alice Smith (laptop)", Role: Operator}},
		{"no comment names the key by fingerprint", key,
			Identity{Name: shortFingerprint(fp), Role: Operator}},
		{"indented line", "  \t" + key + " a",
			Identity{Name: "a", Role: Operator}},
		{"tabs between fields", "no-pty\t" + strings.Replace(key, " ", "\t", 1) + "\ta",
			Identity{Name: "a", Role: Operator, NoPTY: true}},
		{"control characters in comment are replaced", key + " evil\x1b[2J\u202ename",
			Identity{Name: "evil\uFFFD[2J\uFFFDname", Role: Operator}},
		{"long comment is shortened", key + " " + strings.Repeat("x", 100),
			Identity{Name: strings.Repeat("x", maxNameRunes) + "…", Role: Operator}},

		{"role viewer", `role="viewer" ` + key + " v",
			Identity{Name: "v", Role: Viewer}},
		{"role admin", `role="admin" ` + key + " a",
			Identity{Name: "a", Role: Admin}},
		{"role is case-insensitive", `role="Operator" ` + key + " o",
			Identity{Name: "o", Role: Operator}},
		{"option names are case-insensitive", `ROLE="admin",No-PTY ` + key + " a",
			Identity{Name: "a", Role: Admin, NoPTY: true}},

		{"radios", `radios="base,roof" ` + key + " r",
			Identity{Name: "r", Role: Operator, Radios: []string{"base", "roof"}}},
		{"radios trimmed and deduplicated", `radios=" base , roof,base" ` + key + " r",
			Identity{Name: "r", Role: Operator, Radios: []string{"base", "roof"}}},
		{"escaped quote and comma inside quotes", `radios="say \"hi\",b" ` + key + " q",
			Identity{Name: "q", Role: Operator, Radios: []string{`say "hi"`, "b"}}},
		{"backslash not before a quote is literal", `radios="a\b" ` + key + " q",
			Identity{Name: "q", Role: Operator, Radios: []string{`a\b`}}},

		{"no-pty", "no-pty " + key + " n",
			Identity{Name: "n", Role: Operator, NoPTY: true}},
		{"restrict disables the pty", "restrict " + key + " n",
			Identity{Name: "n", Role: Operator, NoPTY: true}},
		{"restrict then pty allows the pty", "restrict,pty " + key + " n",
			Identity{Name: "n", Role: Operator}},
		{"pty then restrict does not", "pty,restrict " + key + " n",
			Identity{Name: "n", Role: Operator, NoPTY: true}},
		{"forwarding and rc flags are accepted",
			"no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc," +
				"port-forwarding,agent-forwarding,X11-forwarding,user-rc,no-touch-required " + key + " f",
			Identity{Name: "f", Role: Operator}},

		{"expiry date in UTC", `expiry-time="20300102Z" ` + key + " e",
			Identity{Name: "e", Role: Operator, Expires: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)}},
		{"expiry minutes in local time", `expiry-time="203001021530" ` + key + " e",
			Identity{Name: "e", Role: Operator, Expires: time.Date(2030, 1, 2, 15, 30, 0, 0, time.Local)}},
		{"expiry seconds in UTC", `expiry-time="20300102153045Z" ` + key + " e",
			Identity{Name: "e", Role: Operator, Expires: time.Date(2030, 1, 2, 15, 30, 45, 0, time.UTC)}},

		{"from with commas inside quotes", `from="10.0.0.0/8,192.168.1.*,!10.9.9.9",role="viewer" ` + key + " w",
			Identity{Name: "w", Role: Viewer, From: "10.0.0.0/8,192.168.1.*,!10.9.9.9"}},
		{"space inside a quoted value", `from="10.0.0.1, 10.0.0.2" ` + key + " w",
			Identity{Name: "w", Role: Operator, From: "10.0.0.1, 10.0.0.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, problems := parseText(tt.line + "\n")
			if len(problems) != 0 {
				t.Fatalf("problems: %v", problems)
			}
			got := only(t, set, problems)
			want := tt.want
			want.Fingerprint, want.Source = fp, "ak:1"
			if !identityEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func identityEqual(a, b Identity) bool {
	return a.Fingerprint == b.Fingerprint && a.Name == b.Name && a.Role == b.Role &&
		slices.Equal(a.Radios, b.Radios) && (a.Radios == nil) == (b.Radios == nil) &&
		a.NoPTY == b.NoPTY && a.Expires.Equal(b.Expires) && a.From == b.From && a.Source == b.Source
}

// TestParseSkippedLines names every reason a line is ignored. Each line
// must yield no identity and exactly one problem, on line 1, that says why.
func TestParseSkippedLines(t *testing.T) {
	key := keyText(testKey(t, 1))
	_, blob, _ := strings.Cut(key, " ")

	tests := []struct {
		name, line, msg string
	}{
		{"prose", "this is not a key", `unknown option "this"`},
		{"missing key type", blob + " c", "key type is missing"},
		{"unknown key type", "ssh-foo " + blob + " c", `unknown key type "ssh-foo"`},
		{"unknown key type after options", "no-pty ssh-foo " + blob, `unknown key type "ssh-foo"`},
		{"bad base64", "ssh-ed25519 AAAA!!!! c", "not valid base64"},
		{"truncated key data", "ssh-ed25519 " + blob[:21] + " c", "not valid base64"},
		{"key data too short", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 c", "cannot parse ssh-ed25519 key"},
		{"declared type differs from key data", "ssh-rsa " + blob + " c", "line says ssh-rsa but the key data is ssh-ed25519"},
		{"key type only", "ssh-ed25519", "no key data"},
		{"DSA key", "ssh-dss " + dsaBlob(t) + " old", "cannot parse ssh-dss key"},
		{"certificate", "ssh-ed25519-cert-v01@openssh.com " + certBlob(t) + " c", "certificates are not supported"},
		{"misspelt option where the type goes", "restrikt " + key, `unknown option "restrikt"`},

		{"options without key", "no-pty", "no key after the options"},
		{"options and trailing comma without key", "no-pty,", "empty option name"},
		{"valued option without key", `role="admin"`, "no key after the options"},
		{"options then blanks", "no-pty   ", "no key after the options"},
		{"unterminated quote", `from="10.0.0.1 ` + key, "no closing quote"},
		{"unquoted value", "role=admin " + key, "must be in double quotes"},
		{"empty option between commas", "no-pty,,pty " + key, "empty option name"},
		{"leading comma", ",no-pty " + key, "empty option name"},
		{"junk after quoted value", `role="admin"x ` + key, `unexpected "x" after option "role"`},
		{"flag given a value", `no-pty="yes" ` + key, `option "no-pty" takes no value`},
		{"valued option without value", "role " + key, `option "role" needs a value`},
		{"option given twice", `role="viewer",role="admin" ` + key, `option "role" given twice`},
		{"unknown flag option", "frobnicate " + key, `unknown option "frobnicate"`},
		{"unknown valued option", `frob="1" ` + key, `unknown option "frob"`},

		{"refused command", `command="/bin/date" ` + key, `option "command" is not supported`},
		{"refused cert-authority", "cert-authority " + key, `option "cert-authority" is not supported`},
		{"refused principals", `principals="alice" ` + key, `option "principals" is not supported`},
		{"refused environment", `environment="A=b" ` + key, `option "environment" is not supported`},
		{"refused permitopen", `permitopen="localhost:80" ` + key, `option "permitopen" is not supported`},
		{"refused permitlisten", `permitlisten="8080" ` + key, `option "permitlisten" is not supported`},
		{"refused tunnel", `tunnel="0" ` + key, `option "tunnel" is not supported`},
		{"refused verify-required", "verify-required " + key, `option "verify-required" is not supported`},
		{"refused option after good ones", `role="viewer",no-pty,command="x" ` + key, `option "command" is not supported`},

		{"unknown role", `role="root" ` + key, `unknown role "root"`},
		{"empty role", `role="" ` + key, `unknown role ""`},
		{"empty radios", `radios="" ` + key, "empty radio name"},
		{"empty radio in list", `radios="a,,b" ` + key, "empty radio name"},

		{"expiry year only", `expiry-time="2030" ` + key, "not YYYYMMDD"},
		{"expiry ten digits", `expiry-time="2030010112" ` + key, "not YYYYMMDD"},
		{"expiry month 13", `expiry-time="20301301" ` + key, "not a valid date"},
		{"expiry lower-case z", `expiry-time="20300101z" ` + key, "not YYYYMMDD"},
		{"expiry with separators", `expiry-time="2030-01-01" ` + key, "not YYYYMMDD"},

		{"from empty", `from="" ` + key, "empty pattern"},
		{"from trailing comma", `from="10.0.0.0/8," ` + key, "empty pattern"},
		{"from bare negation", `from="!" ` + key, "empty pattern"},
		{"from mask too long", `from="10.0.0.0/33" ` + key, "not a valid network"},
		{"from IPv6 mask too long", `from="2001:db8::/129" ` + key, "not a valid network"},
		{"from host bits set", `from="10.1.2.3/8" ` + key, "host bits set (the network is 10.0.0.0/8)"},
		{"from bad address", `from="10.0.0.256" ` + key, "not a valid IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, problems := parseText(tt.line + "\n")
			if set.Len() != 0 {
				t.Errorf("line was accepted: %+v", set.Identities())
			}
			if len(problems) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(problems), problems)
			}
			p := problems[0]
			if p.File != "ak" || p.Line != 1 || !strings.Contains(p.Msg, tt.msg) || !strings.HasSuffix(p.Msg, "line ignored") {
				t.Errorf("problem %q; want ak:1 containing %q and ending in \"line ignored\"", p, tt.msg)
			}
		})
	}
}

// dsaBlob builds an ssh-dss public key, which x/crypto no longer parses.
func dsaBlob(t *testing.T) string {
	t.Helper()
	one := big.NewInt(1)
	return base64.StdEncoding.EncodeToString(gossh.Marshal(struct {
		Name       string
		P, Q, G, Y *big.Int
	}{"ssh-dss", one, one, one, one}))
}

// certBlob builds a user certificate signed by a throwaway CA.
func certBlob(t *testing.T) string {
	t.Helper()
	_, caPriv, _ := ed25519.GenerateKey(rand.Reader)
	ca, err := gossh.NewSignerFromKey(caPriv)
	if err != nil {
		t.Fatal(err)
	}
	cert := &gossh.Certificate{Key: testKey(t, 2), CertType: gossh.UserCert, ValidPrincipals: []string{"mesh"}, ValidBefore: gossh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(cert.Marshal())
}

// TestParseKeyTypes checks every key format x/crypto parses, including
// security keys, by fingerprint.
func TestParseKeyTypes(t *testing.T) {
	var keys []gossh.PublicKey
	add := func(pub any) {
		t.Helper()
		k, err := gossh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	add(&rsaKey.PublicKey)
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		ek, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		add(&ek.PublicKey)
	}
	keys = append(keys, testKey(t, 3))

	// Security-key formats have no constructor; build their wire form.
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdh.P256().GenerateKey(rand.Reader)
	for _, blob := range [][]byte{
		gossh.Marshal(struct {
			Name, Curve string
			Point       []byte
			App         string
		}{gossh.KeyAlgoSKECDSA256, "nistp256", ecPriv.PublicKey().Bytes(), "ssh:"}),
		gossh.Marshal(struct {
			Name  string
			Point []byte
			App   string
		}{gossh.KeyAlgoSKED25519, edPub, "ssh:"}),
	} {
		k, err := gossh.ParsePublicKey(blob)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}

	var file strings.Builder
	for i, k := range keys {
		fmt.Fprintf(&file, "%s key-%d\n", keyText(k), i)
	}
	set, problems := parseText(file.String())
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	for i, k := range keys {
		id, ok := set.Lookup(Fingerprint(k))
		if !ok || id.Name != fmt.Sprintf("key-%d", i) {
			t.Errorf("%s: got %+v, %v", k.Type(), id, ok)
		}
	}
}

// TestParseBadLinesDoNotPoisonLaterLines is the regression test for the
// loader that stopped at the first line it could not read, locking out
// every user listed after it.
func TestParseBadLinesDoNotPoisonLaterLines(t *testing.T) {
	k1, k2, k3, k4 := testKey(t, 1), testKey(t, 2), testKey(t, 3), testKey(t, 4)
	file := strings.Join([]string{
		"garbage that is not a key",                   // 1
		"   # an indented comment",                    // 2
		"\t#tab-indented comment",                     // 3
		keyText(k1) + " one",                          // 4
		`from="10.0.0.1 ` + keyText(k4) + " unclosed", // 5
		"", // 6
		`command="/bin/sh" ` + keyText(k4) + " forced", // 7
		"   ",                                    // 8
		keyText(k2) + " two",                     // 9
		"ssh-ed25519 AAAAtruncated",              // 10
		strings.Repeat("z", maxLineLen+10),       // 11
		`role="admin" ` + keyText(k3) + " three", // 12
		"no-pty",                                 // 13, last line without newline
	}, "\n")
	set, problems := parseText(file)

	want := map[string]string{Fingerprint(k1): "ak:4", Fingerprint(k2): "ak:9", Fingerprint(k3): "ak:12"}
	if set.Len() != len(want) {
		t.Errorf("got %d keys, want %d: %+v", set.Len(), len(want), set.Identities())
	}
	for fp, src := range want {
		if id, ok := set.Lookup(fp); !ok || id.Source != src {
			t.Errorf("%s: got %+v, %v; want from %s", fp, id, ok, src)
		}
	}
	if _, ok := set.Lookup(Fingerprint(k4)); ok {
		t.Error("key from an ignored line was accepted")
	}
	var lines []int
	for _, p := range problems {
		lines = append(lines, p.Line)
	}
	if wantLines := []int{1, 5, 7, 10, 11, 13}; !slices.Equal(lines, wantLines) {
		t.Errorf("problems on lines %v, want %v: %v", lines, wantLines, problems)
	}
}

func TestParseLineEndingsAndByteOrderMark(t *testing.T) {
	k1, k2 := testKey(t, 1), testKey(t, 2)
	file := "\ufeff" + keyText(k1) + " one\r\n" + keyText(k2) + " two\r\n"
	set, problems := parseText(file)
	if len(problems) != 0 || set.Len() != 2 {
		t.Fatalf("got %d keys, problems %v", set.Len(), problems)
	}
	if id, _ := set.Lookup(Fingerprint(k2)); id.Name != "two" {
		t.Errorf("CR kept in the comment: %q", id.Name)
	}
}

func TestParseDuplicateKeyFirstWins(t *testing.T) {
	k := testKey(t, 1)
	file := `role="viewer" ` + keyText(k) + " first\n" +
		`role="admin" ` + keyText(k) + " second\n" +
		// The same key with a different comment and spacing is still
		// the same key: identity is the key, not the text.
		keyText(k) + "    third   \n"
	set, problems := parseText(file)
	id := only(t, set, problems)
	if id.Name != "first" || id.Role != Viewer || id.Source != "ak:1" {
		t.Errorf("got %+v, want the first line", id)
	}
	if len(problems) != 2 || problems[0].Line != 2 || problems[1].Line != 3 ||
		!strings.Contains(problems[0].Msg, "duplicate key") || !strings.Contains(problems[0].Msg, "line 1") {
		t.Errorf("problems: %v", problems)
	}
}

func TestParseHostNamePatternWarnsButKeepsLine(t *testing.T) {
	k := testKey(t, 1)
	set, problems := parseText(`from="gw.example.com,*.example.org,10.0.0.0/8" ` + keyText(k) + " h\n")
	id := only(t, set, problems)
	if id.From != "gw.example.com,*.example.org,10.0.0.0/8" {
		t.Errorf("From = %q", id.From)
	}
	if len(problems) != 2 {
		t.Fatalf("want one warning per name pattern, got %v", problems)
	}
	for _, p := range problems {
		if p.Line != 1 || !strings.Contains(p.Msg, "host name") || strings.Contains(p.Msg, "line ignored") {
			t.Errorf("problem %q", p)
		}
	}
}

func TestParseWarningsOfSkippedLineAreNotReported(t *testing.T) {
	k := testKey(t, 1)
	_, problems := parseText(`from="gw.example.com",command="x" ` + keyText(k) + "\n")
	if len(problems) != 1 || !strings.Contains(problems[0].Msg, "command") {
		t.Errorf("problems: %v", problems)
	}
}

func TestParseEmptyInput(t *testing.T) {
	for _, in := range []string{"", "\n", "# only a comment\n", "\n\n   \n"} {
		set, problems := parseText(in)
		if set.Len() != 0 || len(problems) != 0 {
			t.Errorf("%q: %d keys, problems %v", in, set.Len(), problems)
		}
	}
}

func TestParseReadErrorKeepsEarlierLines(t *testing.T) {
	k := testKey(t, 1)
	r := iotest.DataErrReader(iotest.TimeoutReader(strings.NewReader(keyText(k) + " a\n" + strings.Repeat("#", 10000))))
	set, problems := Parse(r, "ak")
	if set.Len() != 1 {
		t.Errorf("lost the key read before the error")
	}
	if len(problems) != 1 || !strings.Contains(problems[0].Msg, "read error") {
		t.Errorf("problems: %v", problems)
	}
}

func TestProblemString(t *testing.T) {
	p := Problem{File: "/etc/meshgate/authorized_keys", Line: 7, Msg: "unknown option"}
	if got, want := p.String(), "/etc/meshgate/authorized_keys:7: unknown option"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSetReturnsCopies(t *testing.T) {
	k := testKey(t, 1)
	set, _ := parseText(`radios="a,b" ` + keyText(k) + "\n")
	id, _ := set.Lookup(Fingerprint(k))
	id.Radios[0] = "changed"
	if again, _ := set.Lookup(Fingerprint(k)); again.Radios[0] != "a" {
		t.Error("changing a returned identity changed the set")
	}
	var nilSet *Set
	if _, ok := nilSet.Lookup("x"); ok || nilSet.Len() != 0 || nilSet.Identities() != nil {
		t.Error("nil set is not empty")
	}
}

// TestExampleFile keeps the shipped example honest: every active line in it
// parses without a problem and means what its comments say.
func TestExampleFile(t *testing.T) {
	f, err := os.Open("../authorized_keys.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set, problems := Parse(f, "authorized_keys.example")
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	byName := make(map[string]Identity)
	for _, id := range set.Identities() {
		byName[id.Name] = id
	}
	if set.Len() != 10 || len(byName) != 10 {
		t.Fatalf("got %d keys: %v", set.Len(), byName)
	}
	check := func(name string, ok func(Identity) bool) {
		t.Helper()
		if id, found := byName[name]; !found || !ok(id) {
			t.Errorf("%s: %+v", name, id)
		}
	}
	check("Ana Lima (owner)", func(id Identity) bool { return id.Role == Admin && id.Radios == nil })
	check("ben@field-laptop", func(id Identity) bool { return id.Role == Operator && id.Radios == nil })
	check("lobby display", func(id Identity) bool { return id.Role == Viewer })
	check("Chen (site crew)", func(id Identity) bool { return id.MayUse("roof") && !id.MayUse("car") })
	check("grafana exporter", func(id Identity) bool { return id.NoPTY && id.Role == Viewer })
	check("dana", func(id Identity) bool { return !id.NoPTY && id.MayUse("base") && !id.MayUse("roof") })
	check("erin (office and home LAN)", func(id Identity) bool { return id.From != "" })
	check("noc workstation", func(id Identity) bool { return id.Role == Admin && id.From != "" })
	check("visiting researcher", func(id Identity) bool { return id.Expires.Equal(time.Date(2027, 12, 31, 0, 0, 0, 0, time.Local)) })
	check(shortFingerprint("SHA256:4kQS1HaLw0J8n5nriUzIDM5amQ6ZCogxOIQO2K4ScYY"), func(id Identity) bool {
		return id.Role == Viewer && id.Expires.Equal(time.Date(2027, 6, 30, 18, 0, 0, 0, time.UTC))
	})
}

// Keys accepted in demo mode are named by a nickname that stays the same
// for the same key and reads as words, not as a cut fingerprint.
func TestNickname(t *testing.T) {
	a := nickname("SHA256:4kQS1HaLw0J8n5nriUzIDM5amQ6ZCogxOIQO2K4ScYY")
	if a != nickname("SHA256:4kQS1HaLw0J8n5nriUzIDM5amQ6ZCogxOIQO2K4ScYY") {
		t.Fatal("the same key got two nicknames")
	}
	if strings.HasPrefix(a, "SHA256") || strings.Count(a, "-") != 2 {
		t.Errorf("nickname %q", a)
	}
	seen := map[string]bool{}
	for i := range 200 {
		seen[nickname(fmt.Sprintf("SHA256:key%d", i))] = true
	}
	if len(seen) < 199 {
		t.Errorf("200 keys share names: %d distinct", len(seen))
	}
}
