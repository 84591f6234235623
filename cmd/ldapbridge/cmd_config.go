package main

import (
	"bytes"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
)

// redacted replaces every secret in `config show`.
const redacted = "REDACTED"

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the configuration",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration: defaults and flavor defaults applied, secrets REDACTED",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			doc, err := effectiveConfig(cfg)
			if err != nil {
				return failed(err)
			}
			if f := cfg.Directory.Flavor; f == ldapbridge.FlavorAuto || f == "" {
				fmt.Fprintln(g.stderr, "note: directory.flavor is auto, so the flavor defaults (users.username_attribute, "+
					"photo_attribute, stable_id_attribute, sync_filter, groups.type) are filled once the server is detected; "+
					"`ldapbridge check` shows the detected flavor — or set directory.flavor")
			}
			if g.json {
				var v any
				if err := doc.Decode(&v); err != nil {
					return failed(fmt.Errorf("config: %w", err))
				}
				return printJSON(g.stdout, v)
			}
			var b bytes.Buffer
			fmt.Fprintf(&b, "# Effective configuration of %s: defaults applied, secrets %s.\n", g.configPath, redacted)
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2)
			if err := enc.Encode(doc); err != nil {
				return failed(fmt.Errorf("config: encode: %w", err))
			}
			if err := enc.Close(); err != nil {
				return failed(fmt.Errorf("config: encode: %w", err))
			}
			_, err = g.stdout.Write(b.Bytes())
			return err
		},
	})
	return cmd
}

// effectiveConfig returns cfg as a YAML document with every secret
// replaced: a set config.Secret (whether written inline, from ${ENV} or
// read from its *_file) shows as REDACTED, except a PostgreSQL DSN, which
// keeps everything but its passwords, and a SQLite DSN, a file path.
func effectiveConfig(cfg *config.Config) (*yaml.Node, error) {
	raw, err := cfg.Redacted()
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("config: re-read the effective configuration: %w", err)
	}
	for path, value := range secrets(reflect.ValueOf(*cfg), "") {
		shown := redacted
		if path == "store.dsn" {
			shown = showDSN(cfg.Store.Driver, value)
		}
		n := lookup(&doc, path)
		if n == nil {
			return nil, fmt.Errorf("config: %s is missing from the effective configuration", path)
		}
		n.Kind, n.Tag, n.Style, n.Value = yaml.ScalarNode, "!!str", 0, strings.ReplaceAll(shown, "${", "$${")
	}
	return &doc, nil
}

var secretType = reflect.TypeFor[config.Secret]()

// secrets maps the dotted key of every set config.Secret in v (a config
// struct) to its value.
func secrets(v reflect.Value, prefix string) map[string]string {
	out := map[string]string{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		key := prefix + name
		switch fv := v.Field(i); {
		case f.Type == secretType:
			if s := fv.Interface().(config.Secret).Reveal(); s != "" {
				out[key] = s
			}
		case f.Type.Kind() == reflect.Struct:
			for k, s := range secrets(fv, key+".") {
				out[k] = s
			}
		}
	}
	return out
}

// lookup finds the value node of a dotted key in a YAML document.
func lookup(doc *yaml.Node, path string) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for part := range strings.SplitSeq(path, ".") {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// kvPassword matches a password in a keyword/value PostgreSQL DSN
// (password=..., sslpassword='...').
var kvPassword = regexp.MustCompile(`(?i)(\b[a-z]*password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// showDSN is the store DSN as config show prints it: a SQLite DSN is a
// file path and shown as is; a PostgreSQL DSN has its passwords replaced,
// and is replaced whole when it cannot be parsed.
func showDSN(driver, dsn string) string {
	if driver == "sqlite" || driver == "" {
		return dsn
	}
	lower := strings.ToLower(dsn)
	if !strings.HasPrefix(lower, "postgres://") && !strings.HasPrefix(lower, "postgresql://") {
		return kvPassword.ReplaceAllString(dsn, "${1}"+redacted)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return redacted
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	q := u.Query()
	changed := false
	for k := range q {
		if strings.HasSuffix(strings.ToLower(k), "password") {
			q[k] = []string{redacted}
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
