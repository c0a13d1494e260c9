package main

import (
	"errors"
	"maps"
	"testing"
)

func TestDecodeHeaders(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"", map[string]string{"x-wasm-workshop": "hello"}, false},
		{`{"headers": {"x-team": "blue"}}`, map[string]string{"x-team": "blue"}, false},
		{`{"headers": {"x-team": "green", "x-lab": "03"}}`, map[string]string{"x-team": "green", "x-lab": "03"}, false},
		{`{"headers": {"x-team": "blue"`, nil, true},
		{`{"headers": {}}`, nil, true},
		{`{"other": 1}`, nil, true},
	} {
		got, err := decodeHeaders([]byte(tc.in))
		if (err != nil) != tc.wantErr {
			t.Errorf("decodeHeaders(%q) error = %v, want error: %v", tc.in, err, tc.wantErr)
			continue
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("decodeHeaders(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if _, err := decodeHeaders([]byte(`{"headers": {}}`)); !errors.Is(err, errNoHeaders) {
		t.Errorf("empty headers: error %v, want errNoHeaders", err)
	}
}
