package responder

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseTemplate(t *testing.T) {
	cases := []struct {
		in   string
		want []segment
	}{
		{"", nil},
		{"plain", []segment{{"plain", false}}},
		{"{a}", []segment{{"a", true}}},
		{"x{a}y{b_c}z", []segment{{"x", false}, {"a", true}, {"y", false}, {"b_c", true}, {"z", false}}},
		{"{}", []segment{{"{}", false}}},
		{"{A}", []segment{{"{A}", false}}},
		{"{a b}", []segment{{"{a b}", false}}},
		{"{a", []segment{{"{a", false}}},
		{"{{a}}", []segment{{"{", false}, {"a", true}, {"}", false}}},
		{"}{", []segment{{"}{", false}}},
	}
	for _, c := range cases {
		if got := parseTemplate(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseTemplate(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestClamp(t *testing.T) {
	cases := []struct {
		in    string
		limit int
		want  string
	}{
		{"hello", 0, "hello"},
		{"hello", 5, "hello"},
		{"hello world", 8, "hello…"},
		{"héllo", 4, "h…"},        // é would be split
		{"ééé", 5, "é…"},          // 2+3
		{"ééé", 2, "é"},           // no room for the mark
		{"ééé", 1, ""},            // not even one rune
		{"a\xffb", 0, "a\uFFFDb"}, // invalid UTF-8 repaired
		{"🙂🙂🙂", 7, "🙂…"},
	}
	for _, c := range cases {
		got := Clamp(c.in, c.limit)
		if got != c.want {
			t.Errorf("Clamp(%q, %d) = %q, want %q", c.in, c.limit, got, c.want)
		}
		if c.limit > 0 && len(got) > c.limit || !utf8.ValidString(got) {
			t.Errorf("Clamp(%q, %d) = %q breaks the contract", c.in, c.limit, got)
		}
	}
}

func TestCheckTemplateNamesKnownVariables(t *testing.T) {
	err := checkTemplate("reply", "hi {sendr_name}", ruleVariables)
	if err == nil || !strings.Contains(err.Error(), "{sender_name}") {
		t.Fatalf("the error should list the known variables: %v", err)
	}
}
