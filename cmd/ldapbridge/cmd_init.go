package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge/examples"
)

// initJSON is what `init --json` prints.
type initJSON struct {
	Flavor string `json:"flavor"`
	// Out is the file written; "" when the configuration is in Config.
	Out          string            `json:"out"`
	Config       string            `json:"config,omitempty"`
	Placeholders []placeholderJSON `json:"placeholders"`
}

type placeholderJSON struct {
	Text string `json:"text"`
	Fill string `json:"fill"`
}

func newInitCmd(g *globals) *cobra.Command {
	var flavor, out string
	cmd := &cobra.Command{
		Use:   "init [--flavor jumpcloud|openldap|active_directory] [--out FILE]",
		Short: "Write a commented starting configuration for a directory flavor",
		Long: "init writes the example configuration for a directory flavor, with a header listing\n" +
			"the placeholders to replace. Without --out it prints to standard output; with --out it\n" +
			"creates FILE and never overwrites an existing one.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := examples.Config(flavor)
			if err != nil {
				return usage(err)
			}
			ps := examples.Placeholders(flavor)
			data := append(initHeader(flavor, ps), body...)
			if out != "" {
				if err := writeNew(out, data); err != nil {
					return err
				}
			}
			if g.json {
				j := initJSON{Flavor: flavor, Out: out, Placeholders: []placeholderJSON{}}
				if out == "" {
					j.Config = string(data)
				}
				for _, p := range ps {
					j.Placeholders = append(j.Placeholders, placeholderJSON(p))
				}
				return printJSON(g.stdout, j)
			}
			// The configuration goes to stdout when there is no --out, so
			// the notes go to stderr and `init > FILE` writes only YAML.
			notes := g.stdout
			if out == "" {
				if _, err := g.stdout.Write(data); err != nil {
					return failed(err)
				}
				notes = g.stderr
			} else {
				fmt.Fprintf(notes, "wrote %s (flavor %s)\n", out, flavor)
			}
			printPlaceholders(notes, ps)
			fmt.Fprintln(notes, "Then run `ldapbridge config show` to see the effective configuration and `ldapbridge check` to test it against the directory.")
			return nil
		},
	}
	cmd.Flags().StringVar(&flavor, "flavor", "jumpcloud", "directory flavor: "+strings.Join(examples.Flavors(), ", "))
	cmd.Flags().StringVar(&out, "out", "", "file to create (refused if it exists); standard output when not given")
	return cmd
}

// initHeader is the comment put before the example: how it was made and
// what to fill in.
func initHeader(flavor string, ps []examples.Placeholder) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by `ldapbridge init --flavor %s`. Replace these placeholders:\n", flavor)
	for _, p := range ps {
		fmt.Fprintf(&b, "#   %s — %s\n", p.Text, p.Fill)
	}
	b.WriteString("# Every key is documented in the README's Configuration reference.\n#\n")
	return b.Bytes()
}

func printPlaceholders(w io.Writer, ps []examples.Placeholder) {
	fmt.Fprintln(w, "Replace these placeholders before use:")
	for _, p := range ps {
		fmt.Fprintf(w, "  %-34s %s\n", p.Text, p.Fill)
	}
}

// writeNew creates path with data, refusing to replace an existing file.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return usage(fmt.Errorf("%s already exists; init never overwrites a file — remove it first or choose another --out", path))
	}
	if err != nil {
		return failed(fmt.Errorf("create %s: %w", path, err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return failed(fmt.Errorf("write %s: %w", path, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return failed(fmt.Errorf("write %s: %w", path, err))
	}
	return nil
}
