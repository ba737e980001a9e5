package server

import (
	"encoding/json"
	"fmt"
	"strings"
)

// jsonRaw embeds already-encoded JSON in a document.
type jsonRaw []byte

func (r jsonRaw) MarshalJSON() ([]byte, error) { return r, nil }

// jsonLine encodes v as one line of JSON (for --follow streams).
func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// flatten turns a JSON value into "a.b.c" = value pairs for human output.
func flatten(v any) map[string]string {
	out := map[string]string{}
	var generic any
	switch x := v.(type) {
	case jsonRaw:
		_ = json.Unmarshal(x, &generic)
	default:
		b, _ := json.Marshal(x)
		_ = json.Unmarshal(b, &generic)
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				walk(strings.TrimPrefix(prefix+"."+k, "."), val)
			}
		case []any:
			if len(x) == 0 {
				out[prefix] = "[]"
			}
			for i, val := range x {
				walk(fmt.Sprintf("%s[%d]", prefix, i), val)
			}
		default:
			out[prefix] = fmt.Sprint(x)
		}
	}
	walk("", generic)
	return out
}
