package sandbox

import (
	"encoding/json"
	"testing"
)

func TestMetaJSONEscapesAsMetaSigns(t *testing.T) {
	in := map[string]string{"name": "José Ñandú 😀", "url": "https://example.com/a?b=1&c=<2>", "line": "a\nb\"c\\"}
	got, err := metaJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"line":"a\nb\"c\\","name":"Jos\u00e9 \u00d1and\u00fa \ud83d\ude00","url":"https:\/\/example.com\/a?b=1&c=<2>"}`
	if string(got) != want {
		t.Errorf("metaJSON = %s\nwant        %s", got, want)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["name"] != in["name"] || back["url"] != in["url"] || back["line"] != in["line"] {
		t.Errorf("decoded back %q (%v), want %q", back, err, in)
	}
}

func TestMetaJSONReplacesInvalidUTF8(t *testing.T) {
	got, err := metaJSON("a\xffb")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `"a\ufffdb"` {
		t.Errorf("metaJSON = %s, want the replacement character escaped", got)
	}
}
