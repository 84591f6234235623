// Package pgtest gives each test a fresh PostgreSQL database.
//
// It uses the server on 127.0.0.1:5432 (trust authentication for the user
// postgres) when one answers there. Otherwise it starts, once per test
// process, a throwaway cluster from Debian's binaries
// (/usr/lib/postgresql/*/bin) in a temp dir on a free port; the server
// stops when the test process exits. Without either, tests fail with what
// to install.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultAddr is where a running PostgreSQL server is looked for first.
const DefaultAddr = "127.0.0.1:5432"

// InstallHint is the fix named when no server can be found or started.
const InstallHint = "install postgresql (apt-get install postgresql) — ./scripts/test does this"

var (
	serverOnce sync.Once
	serverAddr string
	serverErr  error
)

// Addr returns the address (host:port) of the server tests use, starting a
// throwaway cluster when nothing answers on DefaultAddr.
func Addr(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() {
		if answers(DefaultAddr) {
			serverAddr = DefaultAddr
			return
		}
		serverAddr, serverErr = startCluster()
	})
	if serverErr != nil {
		t.Fatalf("pgtest: no PostgreSQL on %s and none could be started: %v", DefaultAddr, serverErr)
	}
	return serverAddr
}

// New creates an empty database ldapbridge_test_<random> for the test and
// returns its DSN; t.Cleanup drops it.
func New(t testing.TB) string {
	t.Helper()
	addr := Addr(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "ldapbridge_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := admin(ctx, addr, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s on %s: %v", name, addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := admin(ctx, addr, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s on %s: %v", name, addr, err)
		}
	})
	return DSN(addr, name)
}

// DSN is the connection URL of database name on addr as the user postgres.
func DSN(addr, name string) string {
	return "postgres://postgres@" + addr + "/" + name + "?sslmode=disable"
}

// admin runs one statement on the postgres database of addr.
func admin(ctx context.Context, addr, stmt string) error {
	conn, err := pgx.Connect(ctx, DSN(addr, "postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, stmt)
	return err
}

// answers reports whether something accepts TCP connections on addr.
func answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// initdbGlob is where Debian installs initdb, one directory per version.
var initdbGlob = "/usr/lib/postgresql/*/bin/initdb"

// binDir finds the newest Debian PostgreSQL binaries.
func binDir() (string, error) {
	found, _ := filepath.Glob(initdbGlob)
	if len(found) == 0 {
		return "", errors.New("no " + initdbGlob + " — " + InstallHint)
	}
	sort.Slice(found, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[j]))))
		return vi > vj
	})
	return filepath.Dir(found[0]), nil
}

// startCluster initialises a cluster in a temp dir and runs postgres on a
// free loopback port until the test process exits.
func startCluster() (string, error) {
	bin, err := binDir()
	if err != nil {
		return "", err
	}
	removeStale()
	dir, err := os.MkdirTemp("", "ldapbridge-pgtest-")
	if err != nil {
		return "", err
	}
	// The owner's pid lets a later run remove this dir once it has exited.
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	// initdb and postgres refuse to run as root: run them as postgres.
	cred, err := dropRoot(dir)
	if err != nil {
		return "", err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	srv := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-k", dir, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	// The server dies with the test process.
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return "", err
	}
	if cred != nil {
		os.Chown(logf.Name(), int(cred.Uid), int(cred.Gid))
	}
	srv.Stdout, srv.Stderr = logf, logf
	// Pdeathsig fires when the thread that started the child exits, so the
	// start happens on a locked thread that lives as long as the server.
	started, exited := make(chan error, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := srv.Start(); err != nil {
			started <- fmt.Errorf("start postgres: %w", err)
			return
		}
		started <- nil
		exited <- srv.Wait()
	}()
	if err := <-started; err != nil {
		return "", err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logf.Name())
			return "", fmt.Errorf("postgres exited: %v\n%s", err, log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := admin(ctx, addr, "SELECT 1")
		cancel()
		if err == nil {
			return addr, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.Process.Kill()
	log, _ := os.ReadFile(logf.Name())
	return "", fmt.Errorf("postgres on %s did not answer within 30s; log:\n%s", addr, log)
}

// removeStale deletes the clusters of test processes that have exited.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "ldapbridge-pgtest-*"))
	for _, d := range dirs {
		pid, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(d)
			}
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil && syscall.Kill(n, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}

// dropRoot returns the credentials of the postgres system user when running
// as root, after giving it dir; nil otherwise.
func dropRoot(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no postgres system user to run initdb as — %s", InstallHint)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Terminate disconnects every session of database name (it simulates a
// server restart for that database's clients).
func Terminate(t testing.TB, dsn string) {
	t.Helper()
	name := dsn[strings.LastIndex(dsn, "/")+1:]
	name, _, _ = strings.Cut(name, "?")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin(ctx, Addr(t), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"' AND pid <> pg_backend_pid()"); err != nil {
		t.Fatalf("pgtest: terminate sessions of %s: %v", name, err)
	}
}
