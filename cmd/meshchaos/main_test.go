package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
meshgate_radio_state{radio="base",state="contended"} 1
meshgate_radio_state{radio="base",state="connected"} 0
process_resident_memory_bytes 1.2345e+07
`))
	if err != nil {
		t.Fatal(err)
	}
	if m["go_goroutines"] != 42 || m[`meshgate_radio_state{radio="base",state="contended"}`] != 1 || m["process_resident_memory_bytes"] != 12345000 {
		t.Fatalf("parsed %v", m)
	}
}

func TestFigures(t *testing.T) {
	var d durations
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if d.pct(50) != 50*time.Millisecond || d.pct(99) != 99*time.Millisecond || d.pct(100) != 100*time.Millisecond {
		t.Fatalf("percentiles: %s %s %s", d.pct(50), d.pct(99), d.pct(100))
	}
	if got := slope([]float64{0, 1, 2, 3}, []float64{10, 12, 14, 16}); got != 2 {
		t.Fatalf("slope %v, want 2", got)
	}
	if got := (durations{}).String(); got != "no samples" {
		t.Fatalf("empty: %q", got)
	}
}

func TestBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-only", "nosuch", "-meshgate", "/nonexistent"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), `no scenario "nosuch"`) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"extra"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unexpected argument "extra"`) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// The harness itself, end to end but small: a real gateway killed twice
// under load, and a radio that flaps twice under open sessions. It keeps
// the tool from rotting between published runs; the figures come from
// `make chaos`.
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway")
	}
	base := runtime.NumGoroutine()
	bin := filepath.Join(t.TempDir(), "meshgate")
	build := exec.Command("go", "build", "-o", bin, "../meshgate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-meshgate", bin, "-only", "crash,flap", "-crashes", "2", "-flaps", "2",
		"-flap-ui", "1", "-flap-follow", "1", "-flap-up", "2s"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"## crash", "integrity_check: ok after every kill", "## flap", "sessions survived: 2 of 2", "targets: all met"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left after the run (%d before):\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}
