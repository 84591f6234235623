// Command ldapbridge runs the ldapbridge web app, sync and operator commands
// against a company directory. Run `ldapbridge demo` to try it with nothing
// installed, and `ldapbridge --help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes: 0 success, 1 a failed operation, 2 bad usage or bad config.
const (
	exitFailed = 1
	exitUsage  = 2
)

// exitError carries an exit code with the message printed for it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// failed wraps err as a failed operation (exit 1).
func failed(err error) error { return &exitError{code: exitFailed, err: err} }

// usage wraps err as bad usage or configuration (exit 2).
func usage(err error) error { return &exitError{code: exitUsage, err: err} }

// globals are the flags every command takes.
type globals struct {
	configPath string
	json       bool
	logLevel   string
	instance   string
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
}

func main() {
	ctx, stop := notifyContext(context.Background())
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// notifyContext returns a context cancelled by the first SIGINT or SIGTERM,
// with a cause that names the signal (a sync it stops records it). After
// that first signal the default handling is restored, so a second one
// ends the process at once. stop releases the signals and waits for the
// goroutine watching them.
func notifyContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		defer signal.Stop(sigs)
		select {
		case s := <-sigs:
			cancel(fmt.Errorf("stopped by %s", signalName(s)))
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		<-exited
		cancel(nil)
	}
}

// signalName names the signals notifyContext handles as operators know them.
func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "ldapbridge:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra's own errors are about flags and arguments.
	return exitUsage
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "ldapbridge",
		Short:         "Directory login, authorization and sync for Go web apps",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defaultConfig := "ldapbridge.yaml"
	if env := os.Getenv("LDAPBRIDGE_CONFIG"); env != "" {
		defaultConfig = env
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", defaultConfig, "configuration file (env LDAPBRIDGE_CONFIG)")
	pf.BoolVar(&g.json, "json", false, "print machine-readable JSON")
	pf.StringVar(&g.instance, "instance", os.Getenv("LDAPBRIDGE_INSTANCE"), "name recorded with the syncs this process runs (env LDAPBRIDGE_INSTANCE; default hostname:pid)")
	pf.StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	root.AddCommand(
		newCheckCmd(g),
		newAuthCmd(g),
		newExplainCmd(g),
		newUsersCmd(g),
		newGroupsCmd(g),
		newMigrateCmd(g),
		newDemoCmd(g),
		newServeCmd(g),
		newSyncCmd(g),
		newEventsCmd(g),
		newInitCmd(g),
		newConfigCmd(g),
		newVersionCmd(g),
	)
	addVersionFlag(root, g)
	return root
}
