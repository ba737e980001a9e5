package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestCorpusRoundTrips(t *testing.T) {
	entries, err := buildCorpus()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 40 {
		t.Fatalf("only %d corpus entries", len(entries))
	}
	names := map[string]bool{}
	for _, e := range entries {
		if names[e.Name] {
			t.Errorf("duplicate entry name %q", e.Name)
		}
		names[e.Name] = true
		// The Go side must accept its own entries, exactly as it checks the JS ones.
		if problems := checkEntry(e); len(problems) > 0 {
			t.Errorf("%s: %s", e.Name, strings.Join(problems, "; "))
		}
	}
}

func TestCorpusWireDetails(t *testing.T) {
	entries, err := buildCorpus()
	if err != nil {
		t.Fatal(err)
	}
	hexOf := map[string]string{}
	for _, e := range entries {
		hexOf[e.Name] = e.Hex
	}
	for name, want := range map[string]string{
		"ToRadio want_config_id":                             "18b960",
		"ToRadio heartbeat":                                  "3a00",
		"ToRadio disconnect":                                 "2001",
		"AdminMessage get_config_request DEVICE_CONFIG":      "2800",
		"AdminMessage get_module_config_request MQTT_CONFIG": "3800",
		"RouteDiscovery empty (traceroute request)":          "",
	} {
		if got, ok := hexOf[name]; !ok || got != want {
			t.Errorf("%s: hex %q, want %q", name, got, want)
		}
	}
	if rd := hexOf["RouteDiscovery with negative SNRs and unknown hops"]; !strings.Contains(rd, "ecffffffffffffffff01") {
		t.Errorf("RouteDiscovery %s lacks -20 as a 10-byte varint", rd)
	}
	if _, err := hex.DecodeString(hexOf["FromRadio my_info"]); err != nil {
		t.Error(err)
	}
}

func TestDescriptorSetIsComplete(t *testing.T) {
	set, err := descriptorSet()
	if err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(set) // fails if an import is missing
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"meshtastic.ToRadio", "meshtastic.FromRadio", "meshtastic.AdminMessage", "meshtastic.ServiceEnvelope"} {
		if _, err := files.FindDescriptorByName(protoreflect.FullName(name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWriteAll(t *testing.T) {
	dir := t.TempDir()
	if err := writeAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{schemaFile, goCorpusFile} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	// A corpus in the JS format passes the check mode unchanged.
	passed, failed, err := checkFile(filepath.Join(dir, goCorpusFile))
	if err != nil || failed != 0 || passed == 0 {
		t.Errorf("check of our own corpus: %d passed, %d failed, %v", passed, failed, err)
	}
}
