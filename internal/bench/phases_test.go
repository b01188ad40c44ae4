package bench

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// --only keeps the run order and brings in what the chosen phases need.
func TestSelectPhases(t *testing.T) {
	for _, c := range []struct {
		only, want []string
	}{
		{nil, Phases},
		{[]string{"fairness", "pacing"}, []string{"pacing", "fairness"}},
		{[]string{"life"}, []string{"baselines", "life"}},
		{[]string{" emkt", "accept"}, []string{"baselines", "accept", "emkt"}},
	} {
		got, err := selectPhases(c.only)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("selectPhases(%q) = %q, %v; want %q", c.only, got, err, c.want)
		}
	}
	if _, err := selectPhases([]string{"pacing", "pace"}); err == nil {
		t.Error("an unknown phase was taken")
	}
}

// The pacing and fairness figures are in the JSON of a run that measured
// them, under DESIGN §8's names, and absent from one that did not.
func TestPacingFiguresInJSONOnlyWhenMeasured(t *testing.T) {
	keys := []string{"pacingAchievedRatio", "pacingFailed", "pacingUnknown", "pacing130429Share", "singleDuringBulkP99Ms"}
	decode := func(f *Figures) map[string]any {
		var buf bytes.Buffer
		if err := f.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	without := decode(&Figures{Phases: []string{"emkt"}})
	for _, k := range keys {
		if _, ok := without[k]; ok {
			t.Errorf("%s is in a run without the pacing phases", k)
		}
	}
	f := &Figures{Phases: []string{"pacing", "fairness"}, PacingFigures: &PacingFigures{PaceRate: PaceRate}, FairnessFigures: &FairnessFigures{}}
	f.check()
	with := decode(f)
	for _, k := range keys {
		if _, ok := with[k].(float64); !ok {
			t.Errorf("%s is %v, want a number", k, with[k])
		}
	}
	if len(f.Checks) != 2 {
		t.Errorf("%d checks for a pacing-only run, want 2: %+v", len(f.Checks), f.Checks)
	}
	var report bytes.Buffer
	if err := f.WriteReport(&report); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(report.Bytes(), []byte("baselines")) {
		t.Errorf("the report of a pacing-only run shows the baselines:\n%s", report.String())
	}
}
