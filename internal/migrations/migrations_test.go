package migrations

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadSortsStepsAndRefusesGapsAndBadNames(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string // the error's distinctive part, or "" with the versions joined
	}{
		{"sorted", []string{"m/0002_b.sql", "m/0001_a.sql"}, "0001_a,0002_b"},
		{"gap", []string{"m/0001_a.sql", "m/0003_c.sql"}, "expected version 2"},
		{"duplicate", []string{"m/0001_a.sql", "m/0001_b.sql"}, "expected version 2"},
		{"bad name", []string{"m/first.sql"}, "NNNN_description.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys[f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			ms, err := Load(fsys, "m/*.sql", "test")
			if err != nil {
				if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "test: ") {
					t.Errorf("error %q, want it to contain %q", err, tt.want)
				}
				return
			}
			var names []string
			for _, m := range ms {
				names = append(names, m.Name)
			}
			if got := strings.Join(names, ","); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
