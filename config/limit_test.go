package config

import "testing"

func TestLimitOfAllowsAtLeastOneForAPercentageAboveZero(t *testing.T) {
	tests := []struct {
		limit Limit
		total int
		want  int
	}{
		{Limit{Percent: 5, IsPct: true}, 8, 1},
		{Limit{Percent: 5, IsPct: true}, 100, 5},
		{Limit{Percent: 5, IsPct: true}, 0, 0},
		{Limit{Percent: 0, IsPct: true}, 100, 0},
		{Limit{Count: 0}, 100, 0},
		{Limit{Count: 3}, 1, 3},
	}
	for _, tt := range tests {
		if got := tt.limit.Of(tt.total); got != tt.want {
			t.Errorf("%+v.Of(%d) = %d, want %d", tt.limit, tt.total, got, tt.want)
		}
	}
}
