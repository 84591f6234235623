//go:build unix

package web

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/config"
)

const edgeHelperEnv = "LDAPBRIDGE_WEB_EDGE_HELPER"

// helperOpenFiles is the open-file limit of the helper server process.
const helperOpenFiles = 64

// TestEdgeHelperProcess is the server of TestManyIdleConnectionsLeaveHealthzAnswering:
// the web app with max_connections 16 in a process that may open only 64
// files. It prints its address and serves until its standard input closes.
func TestEdgeHelperProcess(t *testing.T) {
	if os.Getenv(edgeHelperEnv) != "1" {
		t.Skip("the server process of TestManyIdleConnectionsLeaveHealthzAnswering")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = helperOpenFiles
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	cfg := edgeConfig()
	cfg.MaxConnections = 16
	cfg.IdleTimeout = config.Duration(10 * time.Minute) // the attack holds idle connections
	f := newFixture(t, cfg, nil)
	addr := serveEdge(t, cfg, f.srv.Handler(), nil)
	fmt.Printf("listening %s\n", addr)
	io.Copy(io.Discard, os.Stdin)
}

func TestManyIdleConnectionsLeaveHealthzAnswering(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 300 connections")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEdgeHelperProcess$")
	cmd.Env = append(os.Environ(), edgeHelperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	lines := bufio.NewScanner(stdout)
	var addr string
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "listening "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatalf("the helper server did not start; stderr:\n%s", stderr)
	}
	go io.Copy(io.Discard, stdout)

	// The attack of issue 9, scaled to the helper's 64 files: many
	// connections that each make one request and then sit idle.
	const attackers = 300
	for range attackers {
		c := dialRaw(t, addr)
		c.send(getHealthz)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 3 {
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("GET /healthz %d with %d idle connections open against a server that may open %d files: %v\nserver stderr:\n%s",
				i, attackers, helperOpenFiles, err, stderr)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz: status %d", resp.StatusCode)
		}
	}
	if strings.Contains(stderr.String(), "too many open files") {
		t.Errorf("the server ran out of file descriptors:\n%s", stderr)
	}
}
