package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestNewGivesAnEmptyDatabaseDroppedAfterTheTest(t *testing.T) {
	var dsn string
	t.Run("inner", func(t *testing.T) {
		dsn = New(t)
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatalf("connect to the new database: %v", err)
		}
		defer conn.Close(context.Background())
		var tables int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
			t.Errorf("new database has %d tables, %v; want an empty one", tables, err)
		}
	})
	name := dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
	conn, err := pgx.Connect(t.Context(), DSN(Addr(t), "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil || n != 0 {
		t.Errorf("database %s still exists after its test (%d, %v)", name, n, err)
	}
}

func TestThrowawayClusterStartsFromDebianBinaries(t *testing.T) {
	addr, err := startCluster()
	if err != nil {
		t.Fatalf("start a throwaway cluster: %v", err)
	}
	if addr == DefaultAddr {
		t.Fatalf("throwaway cluster on %s, want a free port", addr)
	}
	conn, err := pgx.Connect(t.Context(), DSN(addr, "postgres"))
	if err != nil {
		t.Fatalf("connect to the throwaway cluster: %v", err)
	}
	defer conn.Close(context.Background())
	var enc string
	if err := conn.QueryRow(t.Context(), `SHOW server_encoding`).Scan(&enc); err != nil || enc != "UTF8" {
		t.Errorf("server_encoding %q, %v; want UTF8", enc, err)
	}
}

func TestMissingBinariesNameThePackageToInstall(t *testing.T) {
	defer func(g string) { initdbGlob = g }(initdbGlob)
	initdbGlob = "/nonexistent/postgresql/*/bin/initdb"
	_, err := startCluster()
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") || !strings.Contains(err.Error(), "scripts/test") {
		t.Errorf("startCluster without binaries: %v, want the install hint", err)
	}
}
