package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/config"
)

// serving is `serve` run in this process on a config file, for tests that
// look inside it (srv) while they talk to it over HTTP (base).
type serving struct {
	srv    *server
	base   string // http://127.0.0.1:PORT
	cfg    *config.Config
	logs   *lockedBuffer // stdout and stderr, at level info
	ctx    context.Context
	cancel context.CancelFunc // stops serve; done then says how it ended
	done   <-chan error
}

// serveInProcess starts serve on configPath and waits until it listens;
// the test's cleanup stops it.
func serveInProcess(t *testing.T, configPath string) *serving {
	t.Helper()
	logs := &lockedBuffer{}
	g := &globals{configPath: configPath, logLevel: "info", stdout: logs, stderr: logs}
	cfg, err := g.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := g.openServer(ctx, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.run(ctx, func(u string) { urls <- u }) }()
	select {
	case base := <-urls:
		return &serving{srv: srv, base: strings.TrimSuffix(base, "/"), cfg: cfg, logs: logs, ctx: ctx, cancel: cancel, done: done}
	case err := <-done:
		t.Fatalf("serve stopped: %v\n%s", err, logs.String())
	}
	return nil
}
