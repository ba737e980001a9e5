package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	_ "modernc.org/sqlite"

	"github.com/meshgate/meshgate/store"
)

// childEnv makes the test binary act as `meshgate` with the arguments in
// MESHGATE_TEST_ARGS (separated by newlines), so a test can kill a real
// gateway process.
const childEnv = "MESHGATE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		args := strings.Split(os.Getenv("MESHGATE_TEST_ARGS"), "\n")
		os.Exit(run(context.Background(), args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestKill9UnderTraffic kills the gateway with SIGKILL while a radio floods
// it with packets: the database must open afterwards, pass SQLite's
// integrity check and hold the history written before the kill.
func TestKill9UnderTraffic(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := gossh.NewSignerFromKey(priv)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\nradios:\n  - name: base\n    address: \"sim://?seed=3&nodes=30&traffic=2ms\"\n    always_on: true\n", dir)
	cfgPath := filepath.Join(dir, "meshgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "MESHGATE_TEST_ARGS=serve\n--config\n"+cfgPath)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	dbPath := filepath.Join(dir, "meshgate.db")
	count := func() int {
		db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(2000)")
		if err != nil {
			return 0
		}
		defer db.Close()
		var n int
		_ = db.QueryRow("SELECT count(*) FROM packets").Scan(&n)
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() < 500 {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway wrote no history; its log:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // kill it mid-stream, between batches or inside one
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before := count()

	st, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatalf("database does not open after kill -9: %v", err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := st.IntegrityCheck(ctx)
	if err != nil || res != "ok" {
		t.Fatalf("integrity check: %q %v", res, err)
	}
	pk, err := st.Packets(ctx, "base", store.Page{Limit: 10})
	if err != nil || len(pk) == 0 || before < 500 {
		t.Fatalf("history after kill -9: %d packets (%d counted), %v", len(pk), before, err)
	}
	t.Logf("%d packet summaries survived the kill; integrity %s", before, res)
}
