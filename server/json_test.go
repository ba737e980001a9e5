package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/command"
)

// TestJSONSchema checks docs/json.md against the real exec commands: every
// example marked <!-- schema: NAME --> is matched, key for key and type for
// type, against the output of its command on a test gateway, every --json
// output follows the general rules of the page, and every command of the
// tree has a documented schema.
//
// MESHGATE_JSON_CAPTURE=DIR writes every output into DIR (to refresh the
// examples).
func TestJSONSchema(t *testing.T) {
	doc := parseJSONDoc(t, "../docs/json.md")
	admin := newUser(t, "ada", `role="admin"`)
	op := newUser(t, "otto", `role="operator"`)
	g := startGateway(t, gwOptions{users: []*user{admin, op}, radios: []string{"base", "field"}, traffic: 200 * time.Millisecond})
	j := &jsonRun{t: t, g: g, doc: doc, outputs: map[string][]jsonOutput{}, capture: os.Getenv("MESHGATE_JSON_CAPTURE")}
	start := time.Now()

	// Read-only commands.
	j.doc1(op, "nodes", "nodes -r base --json")
	j.doc1(op, "whoami", "whoami --json")
	j.doc1(admin, "whoami", "whoami --json")
	j.doc1(op, "radios", "radios --json")

	// send: a channel message and direct messages (the first nodes that
	// ack; one that fails prints the message too, and exits non-zero).
	j.send(op, `send -r base "hello mesh & friends" --json`)
	rf := rfNodes(g)
	acked := ""
	for _, id := range rf {
		if m := j.send(op, "send -r base --to "+id+" 'direct & test' --json"); m["delivery"] == "acked" {
			acked = id
			break
		}
	}
	if acked == "" {
		t.Fatal("no node acked a direct message")
	}
	j.doc1(op, "send", "send -r base --no-wait 'no wait' --json")
	// A message nobody acks: printed all the same, and exit 1.
	if m := j.send(op, "send -r base --to !00000001 'anyone?' --json"); m["delivery"] != "failed" {
		t.Errorf("a message to a node outside the mesh: %v", m)
	}
	j.eventually(op, "messages", "messages -r base --json", `"outgoing": true`)
	j.eventually(op, "history", "history -r base --json", "hello mesh & friends")

	j.doc1(op, "packets", "packets -r base --limit 5 --json")
	j.eventually(op, "packets.history", "packets -r base --history --limit 5 --json", `"port"`)
	follow := g.start(t, op, "packets -r base --follow --limit 2 --json")
	j.lines("packets.follow", "packets -r base --follow --limit 2 --json", follow.readLines(t, 4, 15*time.Second))
	follow.close()

	j.doc1(op, "mqtt", "mqtt -r base --json")
	j.doc1(op, "config", "config -r base --json")

	// traceroute: until one completes (a node that does not answer
	// prints its trace too, exit 1 or 5).
	traced := ""
	for _, id := range append([]string{acked}, rf...) {
		r := j.runAllowFail(op, "traceroute", "traceroute -r base "+id+" --json", command.ExitFailed, command.ExitTimeout)
		if strings.Contains(r.stdout, `"outcome": "complete"`) {
			traced = id
			break
		}
	}
	if traced == "" {
		t.Fatal("no traceroute completed")
	}
	j.eventually(op, "traceroute.history", "traceroute -r base --history --json", `"outcome"`)

	// sweep: the plan, then a real sweep of the test radio's mesh (a
	// traceroute every 200 ms here): one trace per line, then a summary.
	plan := j.doc1(op, "sweep.plan", "sweep -r base --plan --json")
	sw := j.runAllowFail(op, "", "sweep -r base --json")
	if sw.code != 0 {
		t.Fatalf("sweep: %+v", sw)
	}
	swLines := strings.Split(strings.TrimSuffix(sw.stdout, "\n"), "\n")
	if n := len(plan.(map[string]any)["targets"].([]any)); len(swLines) != n+1 {
		t.Errorf("sweep printed %d lines for %d nodes; want one per node and a summary", len(swLines), n)
	}
	j.lines("sweep.line", "sweep -r base --json", swLines[:len(swLines)-1])
	j.lines("sweep.summary", "sweep -r base --json", swLines[len(swLines)-1:])

	// request: each kind, of nodes that answer.
	answered := 0
	telemetryOf := ""
	for _, kind := range []string{"position", "telemetry", "nodeinfo"} {
		for _, id := range []string{traced, acked} {
			r := j.runAllowFail(op, "", "request -r base --timeout 5s "+kind+" "+id+" --json")
			if r.code == 0 {
				j.record("request", "request "+kind, r.stdout, false)
				answered++
				if kind == "telemetry" {
					telemetryOf = id
				}
				break
			}
		}
	}
	if answered == 0 {
		t.Fatal("no node answered a request")
	}
	if telemetryOf != "" {
		j.eventually(op, "telemetry", "telemetry -r base "+telemetryOf+" --json", `"battery_level": `)
	}

	// Responder rules, owned by the operator.
	rule1 := j.id(j.doc1(op, "rules.add", `rules add -r base --trigger ping --reply "pong {sender_short} & co" --json`))
	rule2 := j.id(j.doc1(op, "rules.add", "rules add -r base --trigger weather --match prefix --reply sunny --channel 1 --expires 24h --dry-run --json"))
	j.doc1(op, "rules", "rules --json")
	j.doc1(admin, "rules", "rules -r base --json")
	j.doc1(op, "rules.test", "rules test "+rule1+" ping there --json")
	j.doc1(op, "rules.test", "rules test "+rule1+" nothing --json")
	j.doc1(op, "rules.disable", "rules disable "+rule2+" --json")
	j.doc1(op, "rules.enable", "rules enable "+rule2+" --json")
	j.doc1(op, "rules.rm", "rules rm "+rule2+" --json")

	// Filters: the operator's own, and a radio-wide one of the admin's.
	j.doc1(op, "filters.add", "filters add -r base --node "+rf[len(rf)-1]+" --json")
	f2 := j.id(j.doc1(op, "filters.add", "filters add --text 'spam & eggs' --json"))
	f3 := j.id(j.doc1(admin, "filters.add", "filters add -r base --radio-wide --allow --port TEXT_MESSAGE --json"))
	j.doc1(op, "filters", "filters --json")
	j.doc1(admin, "filters.rm", "filters rm "+f3+" --json")
	j.doc1(op, "filters.disable", "filters disable "+f2+" --json")
	j.doc1(op, "filters.enable", "filters enable "+f2+" --json")
	j.doc1(op, "filters.rm", "filters rm "+f2+" --json")

	// The beacon: none, then set, started, stopped, sent once, removed.
	none := j.doc1(op, "beacon", "beacon -r base --json")
	if none.(map[string]any)["beacon"] != nil {
		t.Errorf("a beacon before any was set: %v", none)
	}
	j.doc1(op, "beacon.set", "beacon set -r base --template '{my_name} up {uptime} & {nodes} nodes' --interval 30m --json")
	j.doc1(op, "beacon", "beacon -r base --json")
	j.doc1(op, "beacon.start", "beacon start -r base --json")
	j.doc1(op, "beacon.stop", "beacon stop -r base --json")
	j.doc1(op, "beacon.test", "beacon test -r base --json")
	j.doc1(op, "beacon.rm", "beacon rm -r base --json")

	// Sessions while another one follows packets; kick ends it with 6.
	victim := g.start(t, op, "packets -r field --follow --limit 0 --json")
	var victimID string
	eventually(t, 10*time.Second, "the follower's session", func() bool {
		var list []map[string]any
		r := g.run(t, admin, "sessions --json")
		_ = json.Unmarshal([]byte(r.stdout), &list)
		for _, s := range list {
			if s["you"] == false && strings.Contains(fmt.Sprint(s["command"]), "--follow") && s["radio"] == "field" {
				victimID = s["id"].(string)
				j.record("sessions", "sessions --json", r.stdout, false)
				return true
			}
		}
		return false
	})
	j.doc1(admin, "kick", "kick "+victimID+" --reason 'maintenance & upgrade' --json")
	if code := victim.waitExit(t); code != command.ExitEnded {
		t.Errorf("kicked session: exit %d, want %d", code, command.ExitEnded)
	}

	// A connection that holds no session (ssh -N): listed, then closed.
	idle, err := g.dial(t, op)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	var connID string
	eventually(t, 10*time.Second, "the idle connection", func() bool {
		var list []map[string]any
		r := g.run(t, admin, "connections --json")
		_ = json.Unmarshal([]byte(r.stdout), &list)
		for _, c := range list {
			if c["user"] == "otto" && c["sessions"] == float64(0) {
				connID = c["id"].(string)
				j.record("connections", "connections --json", r.stdout, false)
				return true
			}
		}
		return false
	})
	j.doc1(admin, "connections.close", "connections close "+connID+" --reason 'stale tunnel' --json")
	_ = idle.Wait() // returns once the gateway has closed it

	// Admin actions, on the second radio (each reboots it, so retry
	// while it comes back).
	j.retry(admin, "config.set", "config set -r field lora.hop_limit 5 device.role CLIENT_MUTE --json")
	j.retry(admin, "mqtt.set", "mqtt set -r field enabled true address mqtt.example.org --json")
	j.retry(admin, "nodedb-reset", "nodedb-reset -r field --yes --json")
	j.retry(admin, "reboot", "reboot -r field --yes --delay 0s --json")
	j.retry(admin, "factory-reset", "factory-reset -r field --yes --json")
	j.retry(admin, "shutdown", "shutdown -r field --yes --json")
	// The radio is off now: reconnect tries it at once and prints it
	// still down (exit 5).
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := g.run(t, op, "reconnect -r field --wait 1s --json")
		if r.code == command.ExitTimeout {
			j.recordAllowFail(r, "reconnect", "reconnect -r field --wait 1s --json", command.ExitTimeout)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reconnect of a radio that is off: %+v", r)
		}
		time.Sleep(200 * time.Millisecond) // still connected: the shutdown takes a moment
	}
	j.doc1(admin, "audit", "audit --limit 100 --json")

	// Errors: nothing on stdout, one line on stderr.
	if r := g.run(t, op, "nodes -r nowhere --json"); r.code != command.ExitUsage || r.stdout != "" ||
		strings.Count(strings.TrimSuffix(r.stderr, "\n"), "\n") != 0 {
		t.Errorf("an error with --json: %+v; want exit 2, no stdout, one line on stderr", r)
	}

	// Every command of the tree has a schema; every schema was exercised.
	for _, path := range commandPaths(t, g, admin) {
		if exemptCommands[path] {
			continue
		}
		if !doc.covers(path) {
			t.Errorf("command %q has no <!-- schema --> example in docs/json.md", strings.ReplaceAll(path, ".", " "))
		}
	}
	for _, name := range doc.names() {
		if len(j.outputs[name]) == 0 {
			t.Errorf("schema %s is documented but no command in the test printed it", name)
		}
	}
	for name := range j.outputs {
		if doc.schemas[name] == nil {
			t.Errorf("the test ran %s but docs/json.md has no schema for it", name)
		}
	}
	j.reportDeviations()
	t.Logf("%d schemas, %d outputs checked in %s", len(doc.schemas), j.count, time.Since(start).Round(time.Millisecond))
}

// exemptCommands print no JSON.
var exemptCommands = map[string]bool{"help": true, "tui": true}

// lineSchemas are streamed one compact object per line.
var lineSchemas = map[string]bool{"packets.follow": true, "sweep.line": true, "sweep.summary": true}

// knownDeviations are places where the output breaks a rule of the page
// on purpose or for now, each listed on the page; logged here instead of
// failing. None today.
var knownDeviations []struct{ schema, path, rule string }

// ---- the page ----

type jsonDoc struct {
	schemas map[string]*jsonSchema
	order   []string
}

type jsonSchema struct {
	names   []string
	example any
	raw     string
	fields  map[string]*fieldRule // by path
}

// fieldRule is one row of a field table.
type fieldRule struct {
	path     string
	typ      string // string, number, boolean, object, array or "" (any)
	nullable bool
	optional bool
	mapped   bool // an object whose keys are data
	anyValue bool
	time     bool
	nodeID   bool
	unknown  bool     // a node id field that may be "unknown"
	enum     []string // the words it may take, when listed
	isEnum   bool
}

var (
	schemaMarker = regexp.MustCompile(`^<!-- schema: ([a-z0-9.\- ]+) -->$`)
	backquoted   = regexp.MustCompile("`([^`]*)`")
)

func parseJSONDoc(t *testing.T, path string) *jsonDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := &jsonDoc{schemas: map[string]*jsonSchema{}}
	lines := strings.Split(string(b), "\n")
	var cur *jsonSchema
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "## "):
			cur = nil
		case schemaMarker.MatchString(l):
			m := schemaMarker.FindStringSubmatch(l)
			cur = &jsonSchema{names: strings.Fields(m[1]), fields: map[string]*fieldRule{}}
			if i+1 >= len(lines) || lines[i+1] != "```json" {
				t.Fatalf("docs/json.md:%d: a schema marker must be followed by a ```json block", i+1)
			}
			end := i + 2
			for end < len(lines) && lines[end] != "```" {
				end++
			}
			cur.raw = strings.Join(lines[i+2:end], "\n")
			if err := json.Unmarshal([]byte(cur.raw), &cur.example); err != nil {
				t.Fatalf("docs/json.md:%d: example of %v: %v", i+1, cur.names, err)
			}
			for _, n := range cur.names {
				if d.schemas[n] != nil {
					t.Fatalf("docs/json.md: schema %s twice", n)
				}
				d.schemas[n] = cur
				d.order = append(d.order, n)
			}
			i = end
		case cur != nil && strings.HasPrefix(l, "| `"):
			cells := strings.Split(l, "|")
			if len(cells) < 4 {
				t.Fatalf("docs/json.md:%d: a field row needs | field | type | meaning |", i+1)
			}
			p := strings.Trim(strings.TrimSpace(cells[1]), "`")
			cur.fields[p] = parseFieldType(p, strings.TrimSpace(cells[2]))
		}
	}
	if len(d.schemas) == 0 {
		t.Fatal("docs/json.md has no schemas")
	}
	for _, n := range d.order {
		d.schemas[n].checkTable(t, n)
	}
	return d
}

func parseFieldType(path, cell string) *fieldRule {
	r := &fieldRule{path: path}
	for _, m := range backquoted.FindAllStringSubmatch(cell, -1) {
		r.enum = append(r.enum, m[1])
	}
	words := strings.ToLower(backquoted.ReplaceAllString(cell, ""))
	r.nullable = strings.Contains(words, "null")
	r.optional = strings.Contains(words, "optional")
	r.isEnum = strings.Contains(words, "enum")
	if !r.isEnum {
		r.unknown = slicesContains(r.enum, `"unknown"`)
		r.enum = nil
	}
	switch {
	case strings.Contains(words, "any"):
		r.anyValue = true
	case strings.Contains(words, "map"):
		r.typ, r.mapped = "object", true
	case strings.Contains(words, "time"):
		r.typ, r.time = "string", true
	case strings.Contains(words, "node id"):
		r.typ, r.nodeID = "string", true
	case r.isEnum, strings.Contains(words, "string"):
		r.typ = "string"
	case strings.Contains(words, "seconds"), strings.Contains(words, "number"):
		r.typ = "number"
	case strings.Contains(words, "boolean"):
		r.typ = "boolean"
	case strings.Contains(words, "object"):
		r.typ = "object"
	case strings.Contains(words, "array"):
		r.typ = "array"
	}
	return r
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// checkTable holds the page to its own rules: every table row names a
// field of the example with the type it has there, every null in the
// example has a row saying what it is otherwise, and no example writes a
// number or a boolean as a string.
func (s *jsonSchema) checkTable(t *testing.T, name string) {
	t.Helper()
	for p, r := range s.fields {
		v, ok := lookup(s.example, p)
		if _, empty := v.(emptyElem); empty {
			continue
		}
		switch {
		case !ok && !r.optional:
			t.Errorf("docs/json.md %s: the table lists %s, which is not in the example", name, p)
		case ok && v != nil && r.typ != "" && kind(v) != r.typ:
			t.Errorf("docs/json.md %s: the table says %s is %s, the example has %s", name, p, r.typ, kind(v))
		case ok && v == nil && !r.nullable:
			t.Errorf("docs/json.md %s: %s is null in the example but not nullable in the table", name, p)
		}
	}
	walk(s.example, "", func(p, key string, v any) {
		if v == nil && s.fields[p] == nil && !s.under(p) {
			t.Errorf("docs/json.md %s: %s is null in the example; give its type in the table", name, p)
		}
		if str, ok := v.(string); ok && !freeText[key] && numberLike(str) {
			t.Errorf("docs/json.md %s: %s is the string %q", name, p, str)
		}
	})
}

// under reports whether p is inside a map or an "any" field.
func (s *jsonSchema) under(p string) bool {
	for q, r := range s.fields {
		if (r.mapped || r.anyValue) && p != q && (strings.HasPrefix(p, q+".") || strings.HasPrefix(p, q+"[")) {
			return true
		}
	}
	return false
}

// emptyElem is what lookup finds inside an empty array.
type emptyElem struct{}

// lookup finds a path in an example, through the first element of arrays.
func lookup(v any, path string) (any, bool) {
	for path != "" {
		switch {
		case strings.HasPrefix(path, "[]"):
			a, ok := v.([]any)
			if !ok {
				return nil, false
			}
			path = strings.TrimPrefix(path[2:], ".")
			if len(a) == 0 {
				return emptyElem{}, true // an element of an empty array: nothing to compare
			}
			v = a[0]
		default:
			i := strings.IndexAny(path, ".[")
			key, rest := path, ""
			if i >= 0 {
				key, rest = path[:i], strings.TrimPrefix(path[i:], ".")
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[key]; !ok {
				return nil, false
			}
			path = rest
		}
	}
	return v, true
}

func (d *jsonDoc) names() []string { return d.order }

// covers reports whether a command path ("rules.add") has a schema: its
// own, or one under it ("sweep" is covered by sweep.plan).
func (d *jsonDoc) covers(path string) bool {
	for n := range d.schemas {
		if n == path || strings.HasPrefix(n, path+".") {
			return true
		}
	}
	return false
}

// ---- running commands ----

type jsonRun struct {
	t       *testing.T
	g       *gateway
	doc     *jsonDoc
	outputs map[string][]jsonOutput
	capture string
	count   int
	seen    map[string]bool // known deviations met
}

type jsonOutput struct {
	cmd, out string
}

// doc1 runs a command that must succeed and checks its output against a
// schema; it returns the decoded output.
func (j *jsonRun) doc1(u *user, schema, line string) any {
	j.t.Helper()
	r := j.g.run(j.t, u, line)
	if r.code != 0 {
		j.t.Fatalf("%s: exit %d, stderr %q", line, r.code, r.stderr)
	}
	return j.record(schema, line, r.stdout, false)
}

// runAllowFail runs a command that may fail with the given statuses after
// printing its result; schema "" only runs it.
func (j *jsonRun) runAllowFail(u *user, schema, line string, codes ...int) result {
	j.t.Helper()
	return j.recordAllowFail(j.g.run(j.t, u, line), schema, line, codes...)
}

func (j *jsonRun) recordAllowFail(r result, schema, line string, codes ...int) result {
	j.t.Helper()
	if r.code != 0 && !slicesContainsInt(codes, r.code) {
		return r
	}
	if r.code != 0 && r.stdout == "" {
		j.t.Errorf("%s: exit %d without printing the result (stderr %q)", line, r.code, r.stderr)
		return r
	}
	if schema != "" {
		j.record(schema, line, r.stdout, false)
	}
	return r
}

func slicesContainsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// send sends a message and checks the result, acked or not.
func (j *jsonRun) send(u *user, line string) map[string]any {
	j.t.Helper()
	r := j.g.run(j.t, u, line)
	if r.code == command.ExitFailed && r.stdout == "" {
		// A text the radio refused before taking it was never sent:
		// no message, only the error (docs/json.md, exit statuses).
		j.t.Logf("send: %s: refused before it was sent (stderr %q)", line, r.stderr)
		return map[string]any{"delivery": "failed"}
	}
	r = j.recordAllowFail(r, "send", line, command.ExitFailed, command.ExitTimeout)
	var m map[string]any
	_ = json.Unmarshal([]byte(r.stdout), &m)
	if (r.code != 0) != (m["delivery"] == "failed") {
		j.t.Errorf("%s: exit %d with delivery %v", line, r.code, m["delivery"])
	}
	if r.code != 0 && strings.Count(strings.TrimSuffix(r.stderr, "\n"), "\n") != 0 {
		j.t.Errorf("%s: more than one line on stderr: %q", line, r.stderr)
	}
	return m
}

// eventually reruns a command until its output contains want.
func (j *jsonRun) eventually(u *user, schema, line, want string) {
	j.t.Helper()
	var r result
	eventually(j.t, 10*time.Second, line+" to show "+want, func() bool {
		r = j.g.run(j.t, u, line)
		return r.code == 0 && strings.Contains(r.stdout, want)
	})
	j.record(schema, line, r.stdout, false)
}

// retry reruns an admin action while the radio reboots from the last one.
func (j *jsonRun) retry(u *user, schema, line string) {
	j.t.Helper()
	var r result
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r = j.g.run(j.t, u, line); r.code == 0 {
			break
		}
		if time.Now().After(deadline) {
			j.t.Fatalf("%s: exit %d, stderr %q", line, r.code, r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	j.record(schema, line, r.stdout, false)
}

// lines checks streamed output: one compact object per line.
func (j *jsonRun) lines(schema, line string, ls []string) {
	j.t.Helper()
	if len(ls) == 0 {
		j.t.Errorf("%s: no lines", line)
	}
	for _, l := range ls {
		j.record(schema, line, l+"\n", true)
	}
}

func (j *jsonRun) id(v any) string {
	j.t.Helper()
	m, _ := v.(map[string]any)
	n, ok := m["id"].(float64)
	if !ok || n <= 0 {
		j.t.Fatalf("no id in %v", v)
	}
	return strconv.FormatInt(int64(n), 10)
}

// record checks one output against the general rules and its schema.
func (j *jsonRun) record(schema, line, out string, asLine bool) any {
	j.t.Helper()
	j.count++
	where := schema + " (" + line + ")"
	if j.capture != "" {
		_ = os.MkdirAll(j.capture, 0o755)
		name := fmt.Sprintf("%s.%d.json", schema, len(j.outputs[schema]))
		_ = os.WriteFile(filepath.Join(j.capture, name), []byte(out), 0o644)
	}
	j.outputs[schema] = append(j.outputs[schema], jsonOutput{line, out})
	if lineSchemas[schema] != asLine {
		j.t.Errorf("%s: printed as a document=%v, the page says lines=%v", where, !asLine, lineSchemas[schema])
	}
	if !json.Valid([]byte(out)) {
		j.t.Errorf("%s: not valid JSON:\n%s", where, out)
		return nil
	}
	if asLine {
		var c bytes.Buffer
		_ = json.Compact(&c, []byte(out))
		if c.String()+"\n" != out || !strings.HasPrefix(out, "{") {
			j.t.Errorf("%s: not one compact JSON object on one line:\n%s", where, out)
		}
	} else {
		var c, ind bytes.Buffer
		_ = json.Compact(&c, []byte(out))
		_ = json.Indent(&ind, c.Bytes(), "", "  ")
		if ind.String()+"\n" != out {
			j.t.Errorf("%s: not one document indented with two spaces:\n%s", where, out)
		}
	}
	var v any
	_ = json.Unmarshal([]byte(out), &v)
	s := j.doc.schemas[schema]
	if s == nil {
		j.t.Errorf("%s: no schema in docs/json.md", where)
		return v
	}
	j.rules(schema, s, where, out, v)
	compareShape(j.t, where, s, "", s.example, v)
	return v
}

// ---- the general rules ----

var (
	snakeCase  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	nodeIDRE   = regexp.MustCompile(`^!([0-9a-f]{8})$`)
	timeLike   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:`)
	goDuration = regexp.MustCompile(`^-?(\d+h)?(\d+m)?(\d+(\.\d+)?(s|ms|µs|us|ns))$`)
	numberRE   = regexp.MustCompile(`^-?\d+(\.\d+)?([eE][-+]?\d+)?$`)
	// nodeIDKeys hold node ids, with the number beside them.
	nodeIDKeys = map[string]string{"id": "num", "from": "from_num", "to": "to_num", "target": "target_num", "node_id": "node_num", "ack_from": "ack_from_num"}
	// freeText fields hold text whatever it looks like.
	freeText = map[string]bool{"text": true, "summary": true, "detail": true, "reply": true, "template": true,
		"trigger": true, "value": true, "reason": true, "command": true, "long_name": true, "short_name": true,
		"name": true, "node_name": true, "user": true, "owner_name": true, "sent_by": true, "requested_by": true,
		"session": true, "id": true, "error": true, "sender": true}
)

func numberLike(s string) bool { return numberRE.MatchString(s) || s == "true" || s == "false" }

func (j *jsonRun) violation(schema, path, rule, msg string) {
	j.t.Helper()
	for _, k := range knownDeviations {
		if k.schema == schema && k.rule == rule && strings.HasPrefix(path, k.path) {
			if j.seen == nil {
				j.seen = map[string]bool{}
			}
			if !j.seen[schema+" "+k.path+" "+rule] {
				j.t.Logf("known deviation, %s %s: %s", schema, path, msg)
			}
			j.seen[schema+" "+k.path+" "+rule] = true
			return
		}
	}
	j.t.Errorf("%s %s: %s", schema, path, msg)
}

func (j *jsonRun) reportDeviations() {
	for _, k := range knownDeviations {
		if !j.seen[k.schema+" "+k.path+" "+k.rule] {
			j.t.Logf("known deviation not seen any more (fixed? update docs/json.md and knownDeviations): %s %s %s", k.schema, k.path, k.rule)
		}
	}
}

func (j *jsonRun) rules(schema string, s *jsonSchema, where, raw string, v any) {
	j.t.Helper()
	// & < > as themselves, checked on the raw text of every string.
	walkRaw(json.RawMessage(raw), "", func(p string, leaf json.RawMessage) {
		for _, e := range []string{`\u0026`, `\u003c`, `\u003e`} {
			if bytes.Contains(leaf, []byte(e)) {
				j.violation(schema, p, "escape", "HTML-escaped "+e+" in "+where)
			}
		}
	})
	walk(v, "", func(p, key string, x any) {
		if key != "" && !snakeCase.MatchString(key) {
			j.violation(schema, p, "snake_case", "key "+key+" is not snake_case in "+where)
		}
		r := s.fields[p]
		str, isStr := x.(string)
		if isStr && timeLike.MatchString(str) || r != nil && r.time && x != nil {
			ts, err := time.Parse(time.RFC3339Nano, str)
			if err != nil || !strings.HasSuffix(str, "Z") || ts.Location() != time.UTC {
				j.violation(schema, p, "time", fmt.Sprintf("%q is not an RFC 3339 UTC time in %s", str, where))
			}
		}
		if isStr && !freeText[key] && goDuration.MatchString(str) {
			j.violation(schema, p, "duration", fmt.Sprintf("%q is a duration as a string in %s", str, where))
		}
		if isStr && !freeText[key] && numberLike(str) && (r == nil || !r.isEnum) {
			j.violation(schema, p, "number", fmt.Sprintf("%q is a number or boolean as a string in %s", str, where))
		}
		if r != nil && r.isEnum && x != nil {
			switch {
			case !isStr || str == "":
				j.violation(schema, p, "enum", fmt.Sprintf("%v is not an enum word in %s", x, where))
			case len(r.enum) > 0 && !slicesContains(r.enum, str):
				j.violation(schema, p, "enum", fmt.Sprintf("%q is not one of %v in %s", str, r.enum, where))
			}
		}
		_, idKey := nodeIDKeys[key]
		if isStr && ((idKey && (r == nil || r.nodeID)) || (r != nil && r.nodeID)) && !(r != nil && r.unknown && str == "unknown") {
			if !nodeIDRE.MatchString(str) {
				j.violation(schema, p, "node id", fmt.Sprintf("%q is not a node id in %s", str, where))
			}
		}
		// Node ids have their number beside them, and it agrees.
		if m, ok := x.(map[string]any); ok {
			for k, numKey := range nodeIDKeys {
				id, ok := m[k].(string)
				if !ok || !nodeIDRE.MatchString(id) {
					continue
				}
				num, ok := m[numKey]
				if !ok {
					j.violation(schema, join(p, k), "num", fmt.Sprintf("node id %s has no %s beside it in %s", k, numKey, where))
					continue
				}
				want, _ := strconv.ParseUint(id[1:], 16, 32)
				if f, ok := num.(float64); !ok || uint64(f) != want {
					j.t.Errorf("%s %s: %s %v does not match %s %s", where, p, numKey, num, k, id)
				}
			}
		}
	})
}

// ---- structural comparison ----

// compareShape compares a real output with the example: the same keys
// (optional ones aside), the same JSON type per key (null where the page
// allows it), array elements against the example's first element.
func compareShape(t *testing.T, where string, s *jsonSchema, p string, ex, got any) {
	t.Helper()
	r := s.fields[p]
	if r != nil && r.anyValue {
		return
	}
	if got == nil {
		if ex != nil && (r == nil || !r.nullable) {
			t.Errorf("%s: %s is null; the page says %s", where, show(p), kind(ex))
		}
		return
	}
	if ex == nil {
		// The page says what a null example is otherwise (checkTable).
		if r != nil && r.typ != "" && kind(got) != r.typ {
			t.Errorf("%s: %s is %s; the page says %s or null", where, show(p), kind(got), r.typ)
		}
		return
	}
	if kind(ex) != kind(got) {
		t.Errorf("%s: %s is %s; the page says %s", where, show(p), kind(got), kind(ex))
		return
	}
	switch e := ex.(type) {
	case map[string]any:
		if r != nil && r.mapped {
			return
		}
		g := got.(map[string]any)
		for _, k := range sortedKeysOf(e) {
			kp := join(p, k)
			if gv, ok := g[k]; ok {
				compareShape(t, where, s, kp, e[k], gv)
			} else if f := s.fields[kp]; f == nil || !f.optional {
				t.Errorf("%s: %s is missing", where, show(kp))
			}
		}
		for _, k := range sortedKeysOf(g) {
			if _, ok := e[k]; ok {
				continue
			}
			kp := join(p, k)
			f := s.fields[kp]
			switch {
			case f == nil || !f.optional:
				t.Errorf("%s: %s is not on the page", where, show(kp))
			case !f.anyValue && f.typ != "" && kind(g[k]) != f.typ && !(g[k] == nil && f.nullable):
				t.Errorf("%s: %s is %s; the page says %s", where, show(kp), kind(g[k]), f.typ)
			}
		}
	case []any:
		g := got.([]any)
		ep := p + "[]"
		if len(e) == 0 {
			if f := s.fields[ep]; f != nil && f.typ != "" {
				for _, gv := range g {
					if kind(gv) != f.typ {
						t.Errorf("%s: an element of %s is %s; the page says %s", where, show(p), kind(gv), f.typ)
					}
				}
			}
			return
		}
		for _, gv := range g {
			compareShape(t, where, s, ep, e[0], gv)
		}
	}
}

func join(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

func show(p string) string {
	if p == "" {
		return "the document"
	}
	return p
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeysOf(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// walk visits every value with its path and key ("" for array elements
// and the root).
func walk(v any, p string, f func(p, key string, v any)) {
	var rec func(v any, p, key string)
	rec = func(v any, p, key string) {
		f(p, key, v)
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeysOf(x) {
				rec(x[k], join(p, k), k)
			}
		case []any:
			for _, e := range x {
				rec(e, p+"[]", "")
			}
		}
	}
	rec(v, p, "")
}

// walkRaw visits the raw text of every scalar.
func walkRaw(raw json.RawMessage, p string, f func(p string, leaf json.RawMessage)) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return
	}
	switch raw[0] {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			for k, v := range m {
				walkRaw(v, join(p, k), f)
			}
		}
	case '[':
		var a []json.RawMessage
		if json.Unmarshal(raw, &a) == nil {
			for _, v := range a {
				walkRaw(v, p+"[]", f)
			}
		}
	default:
		f(p, raw)
	}
}

// ---- the command tree, from help ----

// commandPaths lists every command and subcommand the gateway's help
// shows, as dotted paths ("rules.add").
func commandPaths(t *testing.T, g *gateway, u *user) []string {
	t.Helper()
	r := g.run(t, u, "help")
	if r.code != 0 {
		t.Fatalf("help: %+v", r)
	}
	top := helpList(r.stdout, "")
	if len(top) < 20 {
		t.Fatalf("help lists only %d commands:\n%s", len(top), r.stdout)
	}
	var out []string
	for _, c := range top {
		out = append(out, c)
		if exemptCommands[c] {
			continue
		}
		hr := g.run(t, u, "help "+c)
		if hr.code != 0 {
			t.Fatalf("help %s: %+v", c, hr)
		}
		for _, s := range helpList(hr.stdout, "subcommands:") {
			out = append(out, c+"."+s)
		}
	}
	return out
}

// helpList reads the indented "  name  description" lines of a help text:
// the first block (after the banner) or the block after the heading.
func helpList(text, heading string) []string {
	lines := strings.Split(text, "\n")
	i := 0
	if heading != "" {
		for i < len(lines) && strings.TrimSpace(lines[i]) != heading {
			i++
		}
		i++
	} else {
		for i < len(lines) && !strings.HasPrefix(lines[i], "  ") {
			i++
		}
	}
	var names []string
	for ; i < len(lines) && strings.HasPrefix(lines[i], "  "); i++ {
		if f := strings.Fields(lines[i]); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// rfNodes lists the ids of the base radio's named nodes heard over RF,
// nearest first.
func rfNodes(g *gateway) []string {
	r := g.sims["base"]
	var ids []string
	for hops := uint32(0); hops < 8; hops++ {
		for _, n := range r.Nodes() {
			if n.GetNum() != r.MyNodeNum() && !n.GetViaMqtt() && n.HopsAway != nil && n.GetHopsAway() == hops {
				ids = append(ids, n.GetUser().GetId())
			}
		}
	}
	return ids
}
