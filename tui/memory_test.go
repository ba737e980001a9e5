package tui

import (
	"context"
	"io"
	"runtime"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// trivialModel only prints a line: the floor any Bubble Tea program of
// this size costs, to compare ours against.
type trivialModel struct{ text string }

func (t trivialModel) Init() tea.Cmd { return nil }

func (t trivialModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if p, ok := msg.(probe); ok {
		close(p.done)
	}
	return t, nil
}

func (t trivialModel) View() tea.View {
	v := tea.NewView(t.text)
	v.AltScreen = true
	return v
}

// liveBytes is the heap and goroutine stacks in use after a collection.
func liveBytes() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}

// runPrograms starts n programs at 120×40 writing to nowhere, waits until
// each has drawn, and returns the memory they hold, per program.
func runPrograms(t *testing.T, n int, model func() tea.Model, opts ...tea.ProgramOption) int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	before := liveBytes()
	progs := make([]*tea.Program, n)
	done := make(chan struct{}, n)
	for i := range progs {
		p := tea.NewProgram(model(), append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(nil),
			tea.WithOutput(io.Discard), tea.WithWindowSize(120, 40), tea.WithoutSignals(),
			tea.WithColorProfile(colorprofile.ANSI256)}, opts...)...)
		progs[i] = p
		go func() { _, _ = p.Run(); done <- struct{}{} }()
		pr := probe{f: func(*Model) {}, done: make(chan struct{})}
		p.Send(pr)
		<-pr.done
	}
	per := (liveBytes() - before) / int64(n)
	cancel()
	for range progs {
		<-done
	}
	return per
}

// The memory a session's UI holds at 120×40, split between Bubble Tea and
// our model: a trivial program, and ours on the Nodes and Map tabs of a
// 200-node radio with every node placed. The figures are logged (they are
// the ones the docs quote); the test fails only far above them.
func TestProgramMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement")
	}
	fx := newFixture(t, fixtureOpts{nodes: 200})
	b := fx.broker(t, "base")
	sub := b.Subscribe("warm-up") // the shared View is not per session
	defer sub.Close()
	if err := b.WaitConnected(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 20
	trivial := runPrograms(t, n, func() tea.Model { return trivialModel{"trivial"} })
	bare := runPrograms(t, n, func() tea.Model { return trivialModel{"trivial"} }, tea.WithoutRenderer())
	t.Logf("trivial Bubble Tea program at 120×40: %d KiB, of which the renderer %d KiB", trivial/1024, (trivial-bare)/1024)
	for _, tab := range []string{"Nodes", "Map"} {
		before := liveBytes()
		ss := newSessions(t, fx, n, tab)
		model := (liveBytes() - before) / n
		i := 0
		prog := runPrograms(t, n, func() tea.Model { s := ss[i]; i++; return testModel{s.m} })
		t.Logf("meshgate UI on %s at 120×40 (200 nodes): %d KiB: the model and its radio feed %d KiB, the program %d KiB",
			tab, (model+prog)/1024, model/1024, prog/1024)
		if model+prog > 8<<20 {
			t.Errorf("%s: %d KiB per session", tab, (model+prog)/1024)
		}
	}
}
