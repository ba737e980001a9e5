package pb

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file is written by hand; generate.sh only replaces *.pb.go.

// Unmarshal decodes b into m like proto.Unmarshal, but accepts string
// fields that are not valid UTF-8. proto3 requires valid UTF-8 and
// protobuf-go rejects the whole message otherwise; the firmware (nanopb)
// does not check, and 2.6.8 to 2.7.1 cut short names at 4 bytes inside a
// character (meshtastic/python issue #808), so a strict decoder loses the
// entire NodeInfo. Such strings are repaired instead: each run of invalid
// bytes becomes U+FFFD.
//
// The schemas stay proto3 strings on purpose: the wire format and the
// generated Go types are unchanged. Declaring the names `bytes` would change
// the Go types and the schema the interop check compares, and the
// edition-2023 feature `utf8_validation = NONE` needs a protoc newer than
// the one the build installs (Debian's 3.21).
func Unmarshal(b []byte, m proto.Message) error {
	err := proto.Unmarshal(b, m)
	if err == nil {
		return nil
	}
	fixed, changed := RepairUTF8(b, m.ProtoReflect().Descriptor())
	if !changed {
		return err
	}
	proto.Reset(m)
	return proto.Unmarshal(fixed, m)
}

// RepairUTF8 rewrites the encoded message b of type md so that every
// string field, at any depth, is valid UTF-8 (invalid bytes become U+FFFD).
// It reports whether anything changed; bytes it cannot parse are left for
// the decoder to reject.
func RepairUTF8(b []byte, md protoreflect.MessageDescriptor) ([]byte, bool) {
	var out []byte
	changed := false
	rest := b
	for len(rest) > 0 {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return b, false
		}
		m := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if m < 0 {
			return b, false
		}
		field := rest[:n+m]
		rest = rest[n+m:]
		if typ == protowire.BytesType {
			if fd := md.Fields().ByNumber(num); fd != nil {
				v, _ := protowire.ConsumeBytes(field[n:])
				switch {
				case fd.Kind() == protoreflect.StringKind && !utf8.Valid(v):
					out = protowire.AppendTag(out, num, typ)
					out = protowire.AppendString(out, strings.ToValidUTF8(string(v), "\uFFFD"))
					changed = true
					continue
				case fd.Kind() == protoreflect.MessageKind:
					if inner, ok := RepairUTF8(v, fd.Message()); ok {
						out = protowire.AppendTag(out, num, typ)
						out = protowire.AppendBytes(out, inner)
						changed = true
						continue
					}
				}
			}
		}
		out = append(out, field...)
	}
	return out, changed
}
