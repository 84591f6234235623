package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWebEdgeKeysAreRead(t *testing.T) {
	c := mustParse(t, base+`
web:
  idle_timeout: 45s
  read_timeout: 5s
  write_timeout: 2m
  max_connections: 64
  metrics_token: ${METRICS_TOKEN}
`, "METRICS_TOKEN", "0123456789abcdef0123456789abcdef")
	w := c.Web
	if w.IdleTimeout.D() != 45*time.Second || w.ReadTimeout.D() != 5*time.Second ||
		w.WriteTimeout.D() != 2*time.Minute || w.MaxConnections != 64 {
		t.Errorf("web = %+v", w)
	}
	if w.MetricsToken.Reveal() != "0123456789abcdef0123456789abcdef" {
		t.Errorf("metrics_token not read from the environment")
	}
	if ws := c.Warnings(); len(ws) != 0 {
		t.Errorf("a long token from ${ENV} should not warn: %q", ws)
	}
}

func TestMetricsTokenIsASecret(t *testing.T) {
	const token = "metrics-Token-0123456789"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	parseIn := func(y string) (*Config, error) {
		return Parse([]byte(base+y), ParseOptions{LookupEnv: env("TOKEN", token), BaseDir: dir})
	}

	t.Run("metrics_token_file is read relative to the config and redacted as its file", func(t *testing.T) {
		c, err := parseIn("web: {metrics_token_file: token}")
		if err != nil {
			t.Fatal(err)
		}
		if c.Web.MetricsToken.Reveal() != token {
			t.Errorf("token from file = %q, want the file's line", c.Web.MetricsToken.Reveal())
		}
		if c.Web.MetricsTokenFile != filepath.Join(dir, "token") {
			t.Errorf("metrics_token_file %q not anchored at BaseDir", c.Web.MetricsTokenFile)
		}
		out, err := c.Redacted()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), token) || !strings.Contains(string(out), "metrics_token_file: "+filepath.Join(dir, "token")) {
			t.Errorf("Redacted output:\n%s", out)
		}
	})
	t.Run("an inline token is redacted and warned about", func(t *testing.T) {
		c, err := parseIn("web: {metrics_token: " + token + "}")
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Redacted()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), token) || !strings.Contains(string(out), "metrics_token: '[redacted]'") {
			t.Errorf("Redacted output:\n%s", out)
		}
		ws := strings.Join(c.Warnings(), "\n")
		if !strings.Contains(ws, "web.metrics_token: the token is written in the file") || strings.Contains(ws, token) {
			t.Errorf("warnings = %q", ws)
		}
	})
	t.Run("a short token is warned about", func(t *testing.T) {
		c, err := Parse([]byte(base+`web: {metrics_token: "${SHORT}"}`), ParseOptions{LookupEnv: env("SHORT", "abc")})
		if err != nil {
			t.Fatal(err)
		}
		if ws := strings.Join(c.Warnings(), "\n"); !strings.Contains(ws, "web.metrics_token: is shorter than 16 characters") {
			t.Errorf("warnings = %q", ws)
		}
	})
	for _, tt := range []struct{ name, yaml, key, want string }{
		{"both set", `web: {metrics_token: "${TOKEN}", metrics_token_file: token}`, "web.metrics_token_file", "is set together with web.metrics_token"},
		{"missing file", "web: {metrics_token_file: nope}", "web.metrics_token_file", "cannot read the secret file"},
		{"empty file", "web: {metrics_token_file: empty}", "web.metrics_token_file", "is empty"},
		{"token with a quote", "web: {metrics_token: '" + token + "\"'}", "web.metrics_token", "Bearer token cannot carry"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseIn(tt.yaml)
			if err == nil {
				t.Fatal("no error")
			}
			if !hasIssue(issuesOf(t, err), tt.key, tt.want) {
				t.Errorf("want %s: …%s…, got:\n%v", tt.key, tt.want, err)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("the token leaked into the error:\n%v", err)
			}
		})
	}
}
