package config

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// directoryNamePattern is what a directories entry's name must match.
var directoryNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// perDirectory are the blocks a directories entry holds (with name and an
// optional sync override); in the single form they are top-level keys.
var perDirectory = []string{"directory", "users", "groups", "access"}

// mappingKey returns the value node of key in mapping n, or nil.
func mappingKey(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// parseDirectories reads the directories: form: each entry is parsed as a
// single-directory configuration made of the entry's blocks and the shared
// top-level ones (store, web, events, sync overridden key by key by the
// entry's sync). Problems name the entry's keys (directories[1].users.search).
func parseDirectories(root *yaml.Node, opts ParseOptions) (*Config, error) {
	var problems issues
	var mixed []string
	for _, k := range perDirectory {
		if mappingKey(root, k) != nil {
			mixed = append(mixed, k)
		}
	}
	if len(mixed) > 0 {
		problems.add("directories", "is set together with the single-directory keys "+strings.Join(mixed, ", "),
			"move "+strings.Join(mixed, ", ")+" into an entry of directories (one directory is a list of one), or remove directories")
	}
	list := mappingKey(root, "directories")
	for i := 0; i < 100 && list.Kind == yaml.AliasNode && list.Alias != nil; i++ {
		list = list.Alias
	}
	if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		problems.add("directories", "must be a non-empty list of directories", "write one '- name: NAME' entry per directory, with its directory, users, groups and access blocks")
		return nil, problems.err()
	}
	topSync := mappingKey(root, "sync")
	var cfgs []*Config
	var names []string
	seen := map[string]int{}
	known := []string{"name", "directory", "users", "groups", "access", "sync"}
	for i, item := range list.Content {
		prefix := fmt.Sprintf("directories[%d]", i)
		if item.Kind != yaml.MappingNode {
			problems.add(prefix, "must be a mapping with name, directory, users, groups and access", "")
			continue
		}
		entryKeys := map[string]bool{}
		name := ""
		var itemSync *yaml.Node
		synth := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		bad := false
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], item.Content[j+1]
			switch k.Value {
			case "name":
				if v.Kind != yaml.ScalarNode {
					problems.add(prefix+".name", "must be a single value", "e.g. name: corp")
					bad = true
					continue
				}
				name = v.Value
			case "sync":
				itemSync = v
				entryKeys["sync"] = true
			case "directory", "users", "groups", "access":
				entryKeys[k.Value] = true
				synth.Content = append(synth.Content, k, v)
			default:
				fix := "known keys here: " + strings.Join(known, ", ")
				if s := suggest(k.Value, known); s != "" {
					fix = "did you mean " + s + "?"
				}
				problems.add(prefix+"."+k.Value, "unknown key", fix)
				bad = true
			}
		}
		switch {
		case name == "":
			problems.add(prefix+".name", "is missing", "name the directory, e.g. name: corp (stored with every account; never rename it in place)")
			bad = true
		case !directoryNamePattern.MatchString(name):
			problems.add(prefix+".name", quote(name)+" is not a valid directory name", "use lowercase letters, digits, _ and -, starting with a letter, e.g. corp")
			bad = true
		default:
			if j, dup := seen[name]; dup {
				problems.add(prefix+".name", fmt.Sprintf("%s is also the name of directories[%d]", quote(name), j), "give every directory its own name")
				bad = true
			}
			seen[name] = i
		}
		// The shared blocks, and sync merged with the entry's override.
		for j := 0; j+1 < len(root.Content); j += 2 {
			k := root.Content[j]
			switch k.Value {
			case "directories", "sync":
				continue
			}
			if mappingKey(synth, k.Value) == nil {
				synth.Content = append(synth.Content, k, root.Content[j+1])
			}
		}
		if s := mergeSync(topSync, itemSync); s != nil {
			synth.Content = append(synth.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "sync"}, s)
		}
		cfg, ps := parseRoot(synth, opts)
		var overridden map[string]bool
		if itemSync != nil && itemSync.Kind == yaml.MappingNode {
			overridden = map[string]bool{}
			for j := 0; j+1 < len(itemSync.Content); j += 2 {
				overridden["sync."+itemSync.Content[j].Value] = true
			}
		} else if itemSync != nil && !isNull(itemSync) {
			problems.add(prefix+".sync", "must be a mapping of sync keys, not "+kindName(itemSync), "e.g. sync: {removed_users: keep}")
			bad = true
		}
		for _, is := range ps {
			is.Key = entryKey(prefix, is.Key, overridden)
			if !containsIssue(problems, is) {
				problems = append(problems, is)
			}
		}
		if bad || len(ps) > 0 {
			continue
		}
		cfgs = append(cfgs, cfg)
		names = append(names, name)
	}
	if err := problems.err(); err != nil {
		return nil, err
	}
	first := cfgs[0]
	first.SetDirectories(names, cfgs)
	return first, nil
}

// mergeSync returns the top-level sync mapping with the entry's keys
// replacing the same keys; nil when neither is set.
func mergeSync(top, entry *yaml.Node) *yaml.Node {
	if entry == nil || entry.Kind != yaml.MappingNode {
		return top
	}
	if top == nil || top.Kind != yaml.MappingNode {
		return entry
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for j := 0; j+1 < len(top.Content); j += 2 {
		if mappingKey(entry, top.Content[j].Value) == nil {
			out.Content = append(out.Content, top.Content[j], top.Content[j+1])
		}
	}
	out.Content = append(out.Content, entry.Content...)
	return out
}

// entryKey names a problem's key as the file wrote it: the entry's blocks
// under directories[i], the shared ones as they are.
func entryKey(prefix, key string, overridden map[string]bool) string {
	head := key
	if i := strings.IndexAny(key, ".["); i >= 0 {
		head = key[:i]
	}
	for _, k := range perDirectory {
		if head == k {
			return prefix + "." + key
		}
	}
	for k := range overridden {
		if key == k || under(key, k) {
			return prefix + "." + key
		}
	}
	return key
}

func containsIssue(l issues, is Issue) bool {
	for _, x := range l {
		if x == is {
			return true
		}
	}
	return false
}
