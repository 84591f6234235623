package config

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Redacted returns the effective configuration as YAML, with every secret
// shown as [redacted]. A secret read from a *_file is shown as its file.
// Literal "${" in values is written as "$${" so the output parses back to
// the same configuration.
func (c *Config) Redacted() ([]byte, error) {
	out := *c
	if out.Directory.BindPasswordFile != "" {
		out.Directory.BindPassword = ""
	}
	if out.Store.DSNFile != "" {
		out.Store.DSN = ""
	}
	if out.Web.MetricsTokenFile != "" {
		out.Web.MetricsToken = ""
	}
	var v any = &out
	if len(c.dirs) > 1 {
		v = c.redactedDirectories(&out)
	}
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	escapeRefs(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	return b.Bytes(), nil
}

// directoryOut is one entry of the directories: form as Redacted writes it.
type directoryOut struct {
	Name      string    `yaml:"name"`
	Directory Directory `yaml:"directory"`
	Users     Users     `yaml:"users"`
	Groups    Groups    `yaml:"groups"`
	Access    Access    `yaml:"access"`
	Sync      Sync      `yaml:"sync"`
}

// redactedDirectories is the directories: form of out (the first
// directory's configuration, secrets already handled for the shared keys).
func (c *Config) redactedDirectories(out *Config) any {
	var entries []directoryOut
	for _, d := range c.dirs {
		dir := d.Directory
		if dir.BindPasswordFile != "" {
			dir.BindPassword = ""
		}
		entries = append(entries, directoryOut{Name: d.Name(), Directory: dir, Users: d.Users, Groups: d.Groups, Access: d.Access, Sync: d.Sync})
	}
	return struct {
		Directories []directoryOut `yaml:"directories"`
		Store       Store          `yaml:"store"`
		Web         Web            `yaml:"web"`
		Events      Events         `yaml:"events"`
	}{entries, out.Store, out.Web, out.Events}
}

func escapeRefs(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		n.Value = strings.ReplaceAll(n.Value, "${", "$${")
	}
	for _, c := range n.Content {
		escapeRefs(c)
	}
}

// Warnings lists risky but legal settings, one "key: risk — fix" line each.
func (c *Config) Warnings() []string {
	var w []string
	d := c.Directory
	if d.TLS.InsecureSkipVerify {
		w = append(w, "directory.tls.insecure_skip_verify: WARNING — the directory's TLS certificate is NOT verified: "+
			"anyone on the network path can pose as the directory and collect every password typed at login — "+
			"set directory.tls.ca_file to the CA that signed the server certificate and remove insecure_skip_verify")
	}
	for i, raw := range d.URLs {
		scheme, host, problem := parseLDAPURL(raw)
		if problem != "" || scheme != "ldap" || d.StartTLS || isLoopback(host) {
			continue
		}
		w = append(w, fmt.Sprintf("directory.urls[%d]: ldap://%s without start_tls sends passwords in clear text — use ldaps://%s:636 or set directory.start_tls: true", i, host, host))
	}
	if c.src.inline["directory.bind_password"] {
		w = append(w, "directory.bind_password: the password is written in the file — use bind_password: ${LDAP_BIND_PASSWORD} or bind_password_file so the secret stays out of the configuration")
	}
	if c.src.inline["web.metrics_token"] {
		w = append(w, "web.metrics_token: the token is written in the file — use metrics_token: ${METRICS_TOKEN} or metrics_token_file so the secret stays out of the configuration")
	}
	if t := c.Web.MetricsToken.Reveal(); t != "" && len(t) < 16 {
		w = append(w, "web.metrics_token: is shorter than 16 characters, so it can be guessed — use a long random token, e.g. `openssl rand -hex 32`")
	}
	if v := d.TLS.MinVersion; v == "1.0" || v == "1.1" {
		w = append(w, "directory.tls.min_version: TLS "+v+" is obsolete — use 1.2 or 1.3 unless the server cannot")
	}
	if c.Web.SessionIdleTimeout > c.Web.SessionLifetime {
		w = append(w, "web.session_idle_timeout: is longer than web.session_lifetime, so it never applies — shorten it")
	}
	return w
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
