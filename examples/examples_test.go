package examples

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestEveryFlavorHasAnExampleAndItsPlaceholders(t *testing.T) {
	want := []string{"active_directory", "jumpcloud", "openldap"}
	if got := Flavors(); !slices.Equal(got, want) {
		t.Fatalf("Flavors() = %v, want %v", got, want)
	}
	envRef := regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)
	for _, f := range Flavors() {
		data, err := Config(f)
		if err != nil {
			t.Fatalf("Config(%q): %v", f, err)
		}
		if !strings.Contains(string(data), "flavor: "+f) {
			t.Errorf("%s.yaml does not set flavor: %s", f, f)
		}
		ps := Placeholders(f)
		if len(ps) == 0 {
			t.Errorf("%s: no placeholders listed", f)
		}
		listed := map[string]bool{}
		for _, p := range ps {
			listed[p.Text] = true
			if !strings.Contains(string(data), p.Text) {
				t.Errorf("%s: placeholder %q does not occur in %s.yaml", f, p.Text, f)
			}
			if p.Fill == "" {
				t.Errorf("%s: placeholder %q does not say what to fill in", f, p.Text)
			}
		}
		for _, ref := range envRef.FindAllString(string(data), -1) {
			if !listed[ref] {
				t.Errorf("%s: %s is used but not listed as a placeholder", f, ref)
			}
		}
	}
}

func TestUnknownFlavorNamesTheKnownOnes(t *testing.T) {
	for _, f := range []string{"", "novell", "../go.mod", "jumpcloud.yaml", "examples"} {
		if _, err := Config(f); err == nil || !strings.Contains(err.Error(), "jumpcloud, openldap") {
			t.Errorf("Config(%q) error %v, want one naming the known flavors", f, err)
		}
		if Placeholders(f) != nil {
			t.Errorf("Placeholders(%q) is not nil", f)
		}
	}
}

func TestPlaceholdersReturnsACopy(t *testing.T) {
	p := Placeholders("jumpcloud")
	p[0].Text = "changed"
	if Placeholders("jumpcloud")[0].Text == "changed" {
		t.Error("a caller changed the package's list")
	}
}
