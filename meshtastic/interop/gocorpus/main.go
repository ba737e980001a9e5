// Command gocorpus is the Go half of the interop tests that compare meshgate's
// protobuf schemas (package meshtastic/pb) with the official @meshtastic/protobufs
// npm package. `make interop` drives it; see meshtastic/interop/README.md.
//
//	gocorpus -out DIR     write DIR/schemas.binpb (a FileDescriptorSet of every
//	                      file in meshtastic/pb) and DIR/go-corpus.json (messages
//	                      encoded by Go, for the JS side to decode)
//	gocorpus -check FILE  decode a corpus written by the JS side with our Go types
//	                      and compare it with the JSON the JS side meant
package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// entry is one corpus item as exchanged with the JS tests.
type entry struct {
	Name string          `json:"name"`
	Type string          `json:"type"` // full protobuf name, e.g. meshtastic.ToRadio
	Hex  string          `json:"hex"`  // the encoded message
	JSON json.RawMessage `json:"json"` // canonical proto3 JSON of the same message
}

const (
	schemaFile   = "schemas.binpb"
	goCorpusFile = "go-corpus.json"
)

func main() {
	out := flag.String("out", "", "directory to write "+schemaFile+" and "+goCorpusFile+" into")
	check := flag.String("check", "", "corpus file written by the JS side to verify")
	flag.Parse()
	if (*out == "") == (*check == "") {
		fmt.Fprintln(os.Stderr, "usage: gocorpus -out DIR | -check FILE")
		os.Exit(2)
	}
	if *out != "" {
		if err := writeAll(*out); err != nil {
			fmt.Fprintln(os.Stderr, "gocorpus:", err)
			os.Exit(1)
		}
		return
	}
	passed, failed, err := checkFile(*check)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gocorpus:", err)
		os.Exit(1)
	}
	fmt.Printf("check: %d passed, %d failed\n", passed, failed)
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}

func writeAll(dir string) error {
	set, err := descriptorSet()
	if err != nil {
		return err
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, schemaFile), raw, 0o644); err != nil {
		return err
	}
	entries, err := buildCorpus()
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(entries, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, goCorpusFile), append(js, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("gocorpus: %d schema files, %d corpus entries written to %s\n", len(set.File), len(entries), dir)
	return nil
}

// descriptorSet collects every .proto file that meshtastic/pb registered,
// ordered so that each file comes after its imports.
func descriptorSet() (*descriptorpb.FileDescriptorSet, error) {
	var files []protoreflect.FileDescriptor
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if fd.Package() == "meshtastic" {
			files = append(files, fd)
		}
		return true
	})
	if len(files) == 0 {
		return nil, errors.New("no files of package meshtastic are registered")
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path() < files[j].Path() })

	set := &descriptorpb.FileDescriptorSet{}
	done := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if done[fd.Path()] {
			return
		}
		done[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range files {
		add(fd)
	}
	return set, nil
}

// newEntry encodes m and records its canonical JSON.
func newEntry(name string, m proto.Message) (entry, error) {
	raw, err := proto.Marshal(m)
	if err != nil {
		return entry{}, fmt.Errorf("%s: %w", name, err)
	}
	js, err := protojson.Marshal(m)
	if err != nil {
		return entry{}, fmt.Errorf("%s: %w", name, err)
	}
	return entry{
		Name: name,
		Type: string(m.ProtoReflect().Descriptor().FullName()),
		Hex:  hex.EncodeToString(raw),
		JSON: js,
	}, nil
}

// checkFile verifies every entry of a JS-written corpus and prints each mismatch.
func checkFile(path string) (passed, failed int, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var entries []entry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range entries {
		if problems := checkEntry(e); len(problems) > 0 {
			failed++
			fmt.Printf("FAIL %s (%s)\n", e.Name, e.Type)
			for _, p := range problems {
				fmt.Printf("     %s\n", p)
			}
			continue
		}
		passed++
	}
	return passed, failed, nil
}

// checkEntry decodes the bytes with our Go type, parses the JS JSON into the
// same type, and reports every way in which the two disagree.
func checkEntry(e entry) []string {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(e.Type))
	if err != nil {
		return []string{"type not known to meshtastic/pb: " + e.Type}
	}
	raw, err := hex.DecodeString(e.Hex)
	if err != nil {
		return []string{"bad hex: " + err.Error()}
	}
	fromWire := mt.New().Interface()
	if err := proto.Unmarshal(raw, fromWire); err != nil {
		return []string{"binary decode: " + err.Error()}
	}
	var problems []string
	for _, p := range unknownFields(fromWire.ProtoReflect(), e.Type) {
		problems = append(problems, "unknown field in the binary: "+p)
	}
	fromJSON := mt.New().Interface()
	if err := protojson.Unmarshal(e.JSON, fromJSON); err != nil {
		return append(problems, "JSON decode: "+err.Error())
	}
	if !proto.Equal(fromWire, fromJSON) {
		problems = append(problems,
			"binary decodes to "+compactJSON(fromWire),
			"but JS meant     "+compactJSON(fromJSON))
	}
	return problems
}

func compactJSON(m proto.Message) string {
	b, err := protojson.Marshal(m)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	var v any
	if json.Unmarshal(b, &v) == nil {
		if c, err := json.Marshal(v); err == nil {
			return string(c)
		}
	}
	return string(b)
}

// unknownFields lists the paths of every message in the tree that kept bytes
// it could not map to a field.
func unknownFields(m protoreflect.Message, path string) []string {
	var out []string
	if u := m.GetUnknown(); len(u) > 0 {
		out = append(out, fmt.Sprintf("%s (%d bytes)", path, len(u)))
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					out = append(out, unknownFields(mv.Message(), p+"["+k.String()+"]")...)
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := 0; i < v.List().Len(); i++ {
					out = append(out, unknownFields(v.List().Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))...)
				}
			}
		case fd.Message() != nil:
			out = append(out, unknownFields(v.Message(), p)...)
		}
		return true
	})
	return out
}
