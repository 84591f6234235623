package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildTime is when the binary was built, in RFC 3339. The Go toolchain
// does not record it, so it is empty unless stamped at build time:
//
//	go build -ldflags "-X main.buildTime=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/ldapbridge
var buildTime string

// versionInfo is what `ldapbridge version` reports.
type versionInfo struct {
	Module  string `json:"module"`
	Version string `json:"version"`
	// Revision is the VCS commit the binary was built from; "" when the
	// build recorded none (go build -buildvcs=false, or no VCS checkout).
	Revision string `json:"revision"`
	// Dirty reports uncommitted changes in the checkout at build time.
	Dirty bool `json:"dirty"`
	// CommitTime is the time of Revision's commit, RFC 3339.
	CommitTime string `json:"commit_time"`
	// BuildTime is the stamped build time (see buildTime); "" when not stamped.
	BuildTime string `json:"build_time"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// readVersion describes the running binary.
func readVersion() versionInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return versionFrom(bi, buildTime)
}

// versionFrom extracts the version information from bi (nil when the
// binary carries none) and a stamped build time.
func versionFrom(bi *debug.BuildInfo, built string) versionInfo {
	v := versionInfo{
		Module:    "github.com/ldapbridge/ldapbridge",
		Version:   "unknown",
		BuildTime: built,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi == nil {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.GoVersion = bi.GoVersion
	}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Dirty = s.Value == "true"
		case "vcs.time":
			v.CommitTime = s.Value
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" && goarch != "" {
		v.Platform = goos + "/" + goarch
	}
	return v
}

// print writes the version as aligned "label: value" lines.
func (v versionInfo) print(w io.Writer) {
	fmt.Fprintf(w, "ldapbridge %s\n", v.Version)
	field(w, "module", v.Module)
	switch {
	case v.Revision == "":
		field(w, "revision", "unknown (built without VCS information)")
	case v.Dirty:
		field(w, "revision", v.Revision+" (dirty: uncommitted changes)")
	default:
		field(w, "revision", v.Revision)
	}
	if v.CommitTime != "" {
		field(w, "commit time", v.CommitTime)
	}
	if v.BuildTime != "" {
		field(w, "build time", v.BuildTime)
	} else {
		field(w, "build time", "not recorded (stamp it with -ldflags -X main.buildTime=...)")
	}
	field(w, "go", v.GoVersion+" "+v.Platform)
}

// showVersion prints the version as text, or JSON with --json.
func showVersion(g *globals) error {
	v := readVersion()
	if g.json {
		return printJSON(g.stdout, v)
	}
	v.print(g.stdout)
	return nil
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision, build time and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return showVersion(g)
		},
	}
}

// addVersionFlag gives the root command --version, which prints what the
// version command prints; without it the root command shows its help.
func addVersionFlag(root *cobra.Command, g *globals) {
	var want bool
	root.Flags().BoolVar(&want, "version", false, "print the version (as the version command does) and exit")
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if want {
			return showVersion(g)
		}
		return cmd.Help()
	}
}
