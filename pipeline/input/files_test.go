package input_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/input"
)

type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Publish(_ context.Context, topic string, value []byte) error {
	if topic != "signins" {
		panic("topic " + topic)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, string(value))
	return nil
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func read(t *testing.T, content string) []string {
	t.Helper()
	r := &recorder{}
	st, err := input.ReadFile(context.Background(), write(t, content), "signins", false, r)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != len(r.all()) {
		t.Errorf("stats say %d messages, %d published", st.Messages, len(r.all()))
	}
	return r.all()
}

func TestEachLineOfJSONLinesIsAMessageBadOnesIncluded(t *testing.T) {
	got := read(t, "\ufeff{\"id\":\"a\"}\n\n{\"records\":[{\"id\":\"b\"},{\"id\":\"c\"}]}\r\n{not json\n{\"id\":\"d\"}")
	want := []string{`{"id":"a"}`, `{"records":[{"id":"b"},{"id":"c"}]}`, `{not json`, `{"id":"d"}`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("messages:\n got %q\nwant %q", got, want)
	}
}

func TestAPrettyPrintedDocumentIsOneMessage(t *testing.T) {
	doc := "{\n  \"@odata.context\": \"x\",\n  \"value\": [\n    {\"id\": \"a\"}\n  ]\n}\n{\"id\":\"b\"}\n"
	got := read(t, doc)
	if len(got) != 2 || !json.Valid([]byte(got[0])) || !strings.Contains(got[0], `"value"`) || got[1] != `{"id":"b"}` {
		t.Errorf("messages: %q", got)
	}
}

func TestCSVIsReadLineByLineForTheStagesToDeadLetter(t *testing.T) {
	got := read(t, "a,b,c\n1,2,3\n")
	if len(got) != 2 || got[0] != "a,b,c" {
		t.Errorf("messages: %q", got)
	}
}

func TestLargeContainersAreSplitInTheirOwnShape(t *testing.T) {
	record := `{"id":"` + strings.Repeat("x", 3000) + `"}`
	items := make([]string, 250)
	for i := range items {
		items[i] = record
	}
	list := strings.Join(items, ",\n")
	for _, c := range []struct {
		name, doc, member string
	}{
		{"Log Analytics array", "[\n" + list + "\n]", ""},
		{"Event Hubs capture", "{\n\"records\": [\n" + list + "\n]}", "records"},
		{"Graph list", "{\n\"@odata.context\": \"x\", \"value\": [\n" + list + "\n]}", "value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := read(t, c.doc)
			if len(got) != 3 {
				t.Fatalf("%d messages, want 3 (100+100+50 records)", len(got))
			}
			total := 0
			for _, m := range got {
				var n []json.RawMessage
				if c.member == "" {
					if err := json.Unmarshal([]byte(m), &n); err != nil {
						t.Fatal(err)
					}
				} else {
					var obj map[string][]json.RawMessage
					if err := json.Unmarshal([]byte(m), &obj); err != nil {
						t.Fatal(err)
					}
					n = obj[c.member]
				}
				total += len(n)
			}
			if total != 250 {
				t.Errorf("records over the messages: %d, want 250", total)
			}
		})
	}
}

func TestAMalformedDocumentIsAnErrorNamingWhere(t *testing.T) {
	_, err := input.ReadFile(context.Background(), write(t, "{\n\"value\": [1,\n"), "signins", false, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "not JSON at byte") {
		t.Errorf("err = %v", err)
	}
}

func TestFollowReadsWhatIsAppendedUntilStopped(t *testing.T) {
	path := write(t, "{\"id\":\"a\"}\n")
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := input.ReadFile(ctx, path, "signins", true, r)
		done <- err
	}()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("{\"id\":\"b\"}\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(r.all()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := r.all(); len(got) != 2 || got[1] != `{"id":"b"}` {
		t.Errorf("messages: %q", got)
	}
}
