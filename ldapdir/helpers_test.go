package ldapdir

import (
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"testing"
)

// closedPort returns a loopback address nobody listens on: connecting to
// it is refused at once.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func x509UnknownAuthority() error { return x509.UnknownAuthorityError{} }
