//go:build unix

package sqlite

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var syncRunningMessage = regexp.MustCompile(`^a sync is already running \(pid (\d+) on (\S+) since ([^)]+)\)`)

// refusedBy checks that err is the refusal naming process pid on this host.
func refusedBy(t *testing.T, ok bool, err error, pid int) {
	t.Helper()
	var sre *SyncRunningError
	if ok || !errors.As(err, &sre) {
		t.Fatalf("TryLockSyncRun while held: ok %v, err %v; want a *SyncRunningError", ok, err)
	}
	m := syncRunningMessage.FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("refusal %q does not say `a sync is already running (pid N on HOST since TIME)`", err)
	}
	if m[1] != strconv.Itoa(pid) || m[2] != hostname() || sre.PID != pid {
		t.Errorf("refusal %q names pid %s on %s, want pid %d on %s", err, m[1], m[2], pid, hostname())
	}
	if _, perr := time.Parse(time.RFC3339, m[3]); perr != nil || time.Since(sre.Since) > time.Minute {
		t.Errorf("refusal %q: since %q (%v) is not a recent RFC 3339 time", err, m[3], perr)
	}
}

func TestSyncLockAdmitsOneStoreAtATime(t *testing.T) {
	for _, form := range []string{"file", "memory"} {
		t.Run(form, func(t *testing.T) {
			ctx := t.Context()
			a := openTest(t, ":memory:")
			b := a // an in-memory database is reachable from its Store only
			if form == "file" {
				path := filepath.Join(t.TempDir(), "lb.db")
				a, b = openTest(t, path), openTest(t, path)
			}
			unlock, ok, err := a.TryLockSyncRun(ctx)
			if err != nil || !ok {
				t.Fatalf("first TryLockSyncRun: %v, %v; want taken", ok, err)
			}
			_, ok, err = b.TryLockSyncRun(ctx)
			refusedBy(t, ok, err, os.Getpid())
			// A transaction's Store shares the lock of its database.
			if err := a.inTx(ctx, func(tx *Store) error {
				_, ok, err := tx.TryLockSyncRun(ctx)
				refusedBy(t, ok, err, os.Getpid())
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			unlock()
			unlock() // twice is harmless
			unlockB, ok, err := b.TryLockSyncRun(ctx)
			if err != nil || !ok {
				t.Fatalf("TryLockSyncRun after unlock: %v, %v; want taken", ok, err)
			}
			unlockB()
		})
	}
}

func TestSyncLockFileIsPrivateAndNamesItsHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lb.db")
	s := openTest(t, path)
	unlock, ok, err := s.TryLockSyncRun(t.Context())
	if err != nil || !ok {
		t.Fatalf("TryLockSyncRun: %v, %v", ok, err)
	}
	lock := path + SyncLockSuffix
	st, err := os.Stat(lock)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("lock file %s: %v, mode %v; want 0600", lock, err, st.Mode().Perm())
	}
	var h holder
	b, _ := os.ReadFile(lock)
	if err := json.Unmarshal(b, &h); err != nil || h.PID != os.Getpid() || h.Host != hostname() {
		t.Errorf("lock file says %s (%v); want this process", b, err)
	}
	unlock()
	if b, _ := os.ReadFile(lock); len(b) != 0 {
		t.Errorf("released lock file still names a holder: %s", b)
	}
}

// holdEnv makes the test binary a process that takes the sync lock of the
// database named by its value, says so, and waits to be killed.
const holdEnv = "LDAPBRIDGE_TEST_HOLD_SYNC_LOCK"

func TestHelperHoldSyncLock(t *testing.T) {
	path := os.Getenv(holdEnv)
	if path == "" {
		t.Skip("helper process for TestSyncLockOfADeadProcessIsTakenOver")
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.TryLockSyncRun(t.Context()); !ok {
		t.Fatalf("helper: %v", err)
	}
	os.Stdout.WriteString("held\n")
	time.Sleep(time.Minute)
}

// TestSyncLockOfADeadProcessIsTakenOver: a sync killed while it holds the
// lock (SIGKILL: no unlock runs) leaves its lock file behind, naming it;
// the next sync takes the lock at once.
func TestSyncLockOfADeadProcessIsTakenOver(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "lb.db")
	s := openTest(t, path)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldSyncLock$")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "held" {
		t.Fatalf("helper did not take the lock: %q, %v", line, err)
	}

	_, ok, err := s.TryLockSyncRun(ctx)
	refusedBy(t, ok, err, cmd.Process.Pid)

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if b, _ := os.ReadFile(path + SyncLockSuffix); !strings.Contains(string(b), strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("the killed holder's lock file should still name it: %s", b)
	}
	start := time.Now()
	unlock, ok, err := s.TryLockSyncRun(ctx)
	if err != nil || !ok {
		t.Fatalf("TryLockSyncRun after the holder died: %v, %v; want taken", ok, err)
	}
	defer unlock()
	if d := time.Since(start); d > time.Second {
		t.Errorf("taking over a dead holder's lock took %v", d)
	}
	var h holder
	b, _ := os.ReadFile(path + SyncLockSuffix)
	if json.Unmarshal(b, &h) != nil || h.PID != os.Getpid() {
		t.Errorf("lock file after takeover: %s; want this process", b)
	}
}

// TestStaleLockFileContentIsNotReported: a lock file naming a dead process
// of this host, whose lock is free, neither blocks nor is reported.
func TestStaleLockFileContentIsNotReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lb.db")
	s := openTest(t, path)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	stale, _ := json.Marshal(holder{PID: dead.Process.Pid, Host: hostname(), Since: time.Now().Add(-time.Hour)})
	if err := os.WriteFile(path+SyncLockSuffix, stale, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := parseHolder(stale); ok {
		t.Errorf("parseHolder accepted a dead holder: %s", stale)
	}
	unlock, ok, err := s.TryLockSyncRun(t.Context())
	if err != nil || !ok {
		t.Fatalf("TryLockSyncRun over a stale lock file: %v, %v; want taken", ok, err)
	}
	unlock()
}
