// Package config reads the ldapbridge YAML configuration into typed values:
// it expands ${VAR} references, reads *_file secrets, rejects unknown keys,
// fills defaults (some by directory flavor) and validates the whole file,
// reporting every problem with the key it concerns and how to fix it.
//
// config must not import the LDAP or store drivers, auth, dirsync or web.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ldapbridge/ldapbridge"
)

// maxSecretFile is the largest *_file secret read.
const maxSecretFile = 64 << 10

// ParseOptions are the environment a configuration is read in.
type ParseOptions struct {
	// LookupEnv resolves ${VAR}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// BaseDir anchors relative *_file paths (ca_file, bind_password_file,
	// dsn_file, metrics_token_file, ...); "" leaves them relative to the working directory.
	BaseDir string
	// ReadFile reads a *_file secret; nil reads the file from disk (at
	// most 64 KiB).
	ReadFile func(path string) ([]byte, error)
}

// Default returns the configuration an empty file would give, before
// flavor defaults (see ApplyFlavor). It does not validate: it has no
// directory URL.
func Default() *Config {
	return &Config{
		Directory: Directory{
			TLS:            TLS{MinVersion: "1.2"},
			Flavor:         ldapbridge.FlavorAuto,
			DialTimeout:    Duration(5 * time.Second),
			RequestTimeout: Duration(10 * time.Second),
			PageSize:       500,
			PoolSize:       4,
		},
		Users: Users{
			UsernameCase:        "lower",
			ExtraAttributes:     []string{},
			Attributes:          map[string]string{"first_name": "givenName", "last_name": "sn", "email": "mail"},
			Profile:             map[string]string{},
			MultiValueSeparator: "|",
		},
		Groups: Groups{NameAttribute: "cn", Mirror: Mirror{Mode: "all"}},
		Access: Access{
			Flags:         map[string]ldapbridge.GroupQuery{},
			AlwaysUpdate:  true,
			LocalAccounts: true,
			LoginSource:   "directory",
			MirrorMaxLag:  Duration(10 * time.Second),
			OfflineLogin:  OfflineLogin{MaxAge: Duration(72 * time.Hour), MaxFailures: 5},
		},
		Sync: Sync{
			FullEvery:     5,
			Groups:        true,
			Memberships:   true,
			RemovedUsers:  "deactivate",
			RemovedGroups: "delete",
			MaxRemovals:   Limit{Percent: 5, IsPct: true},
			ExemptUsers:   []string{},
			KeepHistory:   History{Age: Duration(2160 * time.Hour)},
			PendingTTL:    Duration(24 * time.Hour),
			LiveInterval:  Duration(5 * time.Second),
		},
		Store:  Store{Driver: "sqlite", DSN: "ldapbridge.db"},
		Events: Events{Webhooks: []Webhook{}, MaxAttempts: 10},
		Web: Web{
			Listen:             "127.0.0.1:8080",
			SessionIdleTimeout: Duration(30 * time.Minute),
			SessionLifetime:    Duration(12 * time.Hour),
			LoginRateLimit: RateLimits{
				PerUser: Rate{N: 5, Per: time.Minute},
				PerIP:   Rate{N: 30, Per: time.Minute},
			},
			IdleTimeout:    Duration(2 * time.Minute),
			ReadTimeout:    Duration(30 * time.Second),
			WriteTimeout:   Duration(60 * time.Second),
			MaxConnections: 1024,
		},
	}
}

// Load reads and parses the configuration file at path, with the process
// environment and relative paths anchored at the file's directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Issues: []Issue{{Key: "config file", Problem: err.Error(), Fix: "pass --config FILE or set LDAPBRIDGE_CONFIG"}}}
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		dir = filepath.Dir(path)
	}
	return Parse(data, ParseOptions{BaseDir: dir})
}

// Parse reads a configuration from YAML. It applies the configured flavor's
// defaults (unless the flavor is auto) and validates; a non-nil error is an
// *Error listing every problem.
func Parse(data []byte, opts ParseOptions) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = readSecretFile
	}
	var problems issues
	root := parseNode(data, &problems)
	if len(problems) > 0 {
		return nil, problems.err()
	}
	if root != nil && root.Kind == yaml.MappingNode && mappingKey(root, "directories") != nil {
		return parseDirectories(root, opts)
	}
	cfg, problems := parseRoot(root, opts)
	if err := problems.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseRoot decodes, completes and validates one directory's configuration
// from the document's top-level mapping.
func parseRoot(root *yaml.Node, opts ParseOptions) (*Config, issues) {
	cfg := Default()
	d := newDecoder(opts.LookupEnv)
	if root != nil {
		if root.Kind != yaml.MappingNode {
			d.fail("(top level)", "must be a mapping of sections (directory, users, ...), not "+kindName(root), "")
		} else {
			d.mapping("", root, reflect.ValueOf(cfg).Elem())
		}
	}
	cfg.src = sources{set: d.set, inline: d.inline}
	cfg.resolveFiles(opts, d)
	if f := cfg.Directory.Flavor; f != ldapbridge.FlavorAuto {
		cfg.ApplyFlavor(f)
	}
	problems := d.problems
	if err := cfg.Validate(); err != nil {
		for _, is := range err.(*Error).Issues {
			if !relatedToAny(is.Key, d.failed) {
				problems = append(problems, is)
			}
		}
	}
	return cfg, problems
}

// parseNode parses the YAML text; nil means an empty document or an error
// (recorded in problems).
func parseNode(data []byte, problems *issues) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			problems.add("(yaml)", strings.TrimPrefix(err.Error(), "yaml: "), "fix the YAML syntax: indent with spaces, quote values that contain ': ' or start with { [ * & ! % @")
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		problems.add("(yaml)", "the file holds more than one YAML document", "remove the --- separators")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil
	}
	return root
}

// relatedToAny reports whether key is one of the keys, or under or above one.
func relatedToAny(key string, keys map[string]bool) bool {
	for k := range keys {
		if key == k || under(key, k) || under(k, key) {
			return true
		}
	}
	return false
}

func under(key, parent string) bool {
	return strings.HasPrefix(key, parent+".") || strings.HasPrefix(key, parent+"[")
}

func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d KiB", path, maxSecretFile>>10)
	}
	return b, nil
}

// resolveFiles anchors relative *_file paths at BaseDir and reads the
// secret files into their values.
func (c *Config) resolveFiles(opts ParseOptions, d *decoder) {
	for _, p := range []*string{&c.Directory.TLS.CAFile, &c.Directory.TLS.ClientCertFile,
		&c.Directory.TLS.ClientKeyFile, &c.Directory.BindPasswordFile, &c.Store.DSNFile, &c.Web.MetricsTokenFile} {
		if *p != "" && opts.BaseDir != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(opts.BaseDir, *p)
		}
	}
	c.readSecret(opts, d, "directory.bind_password", c.Directory.BindPasswordFile, &c.Directory.BindPassword)
	c.readSecret(opts, d, "store.dsn", c.Store.DSNFile, &c.Store.DSN)
	c.readSecret(opts, d, "web.metrics_token", c.Web.MetricsTokenFile, &c.Web.MetricsToken)
}

func (c *Config) readSecret(opts ParseOptions, d *decoder, key, path string, dst *Secret) {
	fileKey := key + "_file"
	if path == "" || d.failed[fileKey] {
		return
	}
	if c.IsSet(key) && *dst != "" {
		d.fail(fileKey, "is set together with "+key, "keep only one of "+key+" and "+fileKey)
		return
	}
	data, err := opts.ReadFile(path)
	if err != nil {
		d.fail(fileKey, "cannot read the secret file: "+err.Error(), "check the path and that ldapbridge may read it")
		return
	}
	s := string(data)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	if s == "" {
		d.fail(fileKey, path+" is empty", "write the secret into the file")
		return
	}
	*dst = Secret(s)
	delete(c.src.inline, key)
}

// flavorDefault is what a server flavor implies for keys the file left out.
type flavorDefault struct {
	usernameAttr, photoAttr, stableID, groupType, syncFilter string
}

var flavorDefaults = map[ldapbridge.Flavor]flavorDefault{
	ldapbridge.FlavorOpenLDAP:        {"uid", "jpegPhoto", "entryUUID", "group_of_names", "(objectClass=inetOrgPerson)"},
	ldapbridge.FlavorJumpCloud:       {"uid", "jpegPhoto", "entryUUID", "group_of_names", "(objectClass=inetOrgPerson)"},
	ldapbridge.Flavor389DS:           {"uid", "jpegPhoto", "nsUniqueId", "group_of_names", "(objectClass=inetOrgPerson)"},
	ldapbridge.FlavorActiveDirectory: {"sAMAccountName", "thumbnailPhoto", "objectGUID", "active_directory", "(&(objectCategory=person)(objectClass=user))"},
}

// ApplyFlavor fills the flavor-dependent defaults (username, photo and
// stable-id attributes, group type, sync filter) for every such key the
// file did not set, and records f in directory.flavor when that was auto.
// It can be called again with a detected flavor; explicit keys never change.
func (c *Config) ApplyFlavor(f ldapbridge.Flavor) {
	fd, ok := flavorDefaults[f]
	if !ok {
		return
	}
	fill := func(key string, dst *string, v string) {
		if !c.IsSet(key) {
			*dst = v
		}
	}
	fill("users.username_attribute", &c.Users.UsernameAttribute, fd.usernameAttr)
	fill("users.photo_attribute", &c.Users.PhotoAttribute, fd.photoAttr)
	fill("users.stable_id_attribute", &c.Users.StableIDAttribute, fd.stableID)
	fill("users.sync_filter", &c.Users.SyncFilter, fd.syncFilter)
	fill("groups.type", &c.Groups.Type, fd.groupType)
	if c.Directory.Flavor == ldapbridge.FlavorAuto || c.Directory.Flavor == "" {
		c.Directory.Flavor = f
	}
}
