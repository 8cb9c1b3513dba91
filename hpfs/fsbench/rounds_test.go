package fsbench

import "testing"

// TestMedianRoundTakesEachCellsMiddleValue checks that every cell of the combined table is the
// median of that cell across rounds, independently of the other cells, and that op counts and
// extra rows keep their first round's labels.
func TestMedianRoundTakesEachCellsMiddleValue(t *testing.T) {
	mk := func(v ...float64) [][]Result {
		out := [][]Result{make([]Result, len(v))}
		for i, x := range v {
			out[0][i] = Result{Value: x, Unit: "u", HigherBetter: true}
		}
		return out
	}
	rounds := []round{
		{nat: mk(1, 30), loop: mk(5, 5), plain: mk(9, 1), hp: mk(100, 7), extra: []extraResult{{name: "x", res: Result{Value: 3}}}},
		{nat: mk(3, 10), loop: mk(6, 4), plain: mk(8, 2), hp: mk(300, 9), extra: []extraResult{{name: "x", res: Result{Value: 1}}}},
		{nat: mk(2, 20), loop: mk(4, 6), plain: mk(7, 3), hp: mk(200, 8), extra: []extraResult{{name: "x", res: Result{Value: 2}}}},
	}
	rounds[0].hp[0][0].Ops = "LOOKUP 1"
	nat, loop, plain, hp, extra := medianRound(rounds)
	for _, tc := range []struct {
		name string
		got  [][]Result
		want []float64
	}{
		{"native", nat, []float64{2, 20}},
		{"loopback", loop, []float64{5, 5}},
		{"plain", plain, []float64{8, 2}},
		{"hpfsd", hp, []float64{200, 8}},
	} {
		for i, w := range tc.want {
			if tc.got[0][i].Value != w {
				t.Errorf("%s cell %d = %v, want %v", tc.name, i, tc.got[0][i].Value, w)
			}
		}
	}
	if hp[0][0].Ops != "LOOKUP 1" {
		t.Errorf("op counts = %q, want the first round's", hp[0][0].Ops)
	}
	if len(extra) != 1 || extra[0].name != "x" || extra[0].res.Value != 2 {
		t.Errorf("extra = %+v, want x with the median 2", extra)
	}
	// An even count takes the lower middle; one round is itself.
	if got := medianResult([]Result{{Value: 4}, {Value: 1}, {Value: 3}, {Value: 2}}); got.Value != 2 {
		t.Errorf("median of 4 = %v, want 2", got.Value)
	}
	if got := medianResult([]Result{{Value: 7}}); got.Value != 7 {
		t.Errorf("median of 1 = %v, want 7", got.Value)
	}
}
