package slapdtest

import (
	"encoding/base64"
	"strings"
	"testing"
)

// parseLine decodes one "attr: value" or "attr:: base64" LDIF line.
func parseLine(t *testing.T, line string) (string, string) {
	t.Helper()
	attr, rest, ok := strings.Cut(line, ":")
	if !ok {
		t.Fatalf("no colon in %q", line)
	}
	if b64, ok := strings.CutPrefix(rest, ": "); ok {
		v, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("bad base64 in %q: %v", line, err)
		}
		return attr, string(v)
	}
	v, ok := strings.CutPrefix(rest, " ")
	if !ok && rest != "" {
		t.Fatalf("no space after colon in %q", line)
	}
	return attr, v
}

func FuzzLDIFLineRoundTrip(f *testing.F) {
	for _, s := range []string{"", "alice", "josé", " lead", ":x", "<file", "a\nb", "trail ", "\x00", string(JCDavePhoto[:20])} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		var b ldifBuilder
		b.line("description", value)
		out := b.String()
		if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
			t.Fatalf("value %q rendered as %q: want exactly one line", value, out)
		}
		attr, got := parseLine(t, strings.TrimSuffix(out, "\n"))
		if attr != "description" || got != value {
			t.Fatalf("round trip of %q gave %s=%q", value, attr, got)
		}
	})
}

func TestFixtureLDIFEncodesUnsafeValues(t *testing.T) {
	tests := []struct {
		name, ldif, want string
	}{
		{"non-ASCII DN is base64", JumpCloudLDIF(), "dn:: " + base64.StdEncoding.EncodeToString([]byte(JCJoseDN))},
		{"photo is base64", JumpCloudLDIF(), "jpegPhoto:: " + base64.StdEncoding.EncodeToString(JCDavePhoto)},
		{"escaped comma kept", ClassicLDIF(), "dn: " + ExSalesEMEADN},
		{"cycle closed by modify", ClassicLDIF(), "dn: " + ExCycleADN + "\nchangetype: modify\nadd: member\nmember: " + ExCycleBDN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.ldif, tt.want) {
				t.Errorf("LDIF lacks %q", tt.want)
			}
		})
	}
}
