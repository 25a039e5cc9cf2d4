package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{123456.7, "msg/s", "123,457 msg/s"},
		{999, "/s", "999 /s"},
		{1000, "/s", "1,000 /s"},
		{-1234, "ms", "-1,234 ms"},
		{0.4134, "ms", "0.413 ms"},
		{3.456, "ms", "3.46 ms"},
		{51.64, "ms", "51.6 ms"},
		{3794.2, "MB/s", "3,794 MB/s"},
	} {
		if got := FormatValue(tc.v, tc.unit); got != tc.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
	for x, want := range map[float64]string{0.4123: "0.41×", 2.687: "2.69×", 12.34: "12.3×", 123.4: "123×"} {
		if got := FormatRatio(x); got != want {
			t.Errorf("FormatRatio(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestReport(t *testing.T) {
	r := New()
	disk := r.Add("machine limits", "disk.p99", "disk p99", 0.5, "ms")
	f := r.Add("Strata", "s.p99", "publish p99", 2, "ms")
	f.Limit = NewRef("fsync p99", f.Value, disk)
	f.Peer = NewRef("missing", f.Value, nil)
	r.Targets = []Target{{Name: "p99", Figure: "2.00 ms", Goal: "≤ 5 ms", Status: Pass}}
	if got, ok := r.Get("s.p99"); !ok || got != f || f.Limit.Ratio != 4 || f.Peer != nil {
		t.Fatalf("Get = %+v, %v; limit %+v, peer %+v", got, ok, f.Limit, f.Peer)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"== machine limits ==", "== Strata ==", "4.00× (fsync p99)", "p99     2.00 ms  ≤ 5 ms  PASS"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Figures []Figure `json:"figures"`
		Targets []Target `json:"targets"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Figures) != 2 || back.Figures[1].Limit.Ratio != 4 || back.Targets[0].Status != Pass {
		t.Fatalf("JSON round trip: %v, %+v", err, back)
	}
}
