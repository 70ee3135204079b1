package entra

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// decodeEncodingJSON is the baseline: encoding/json into the same model,
// then the same validation and normalisation. It reads Graph signIn
// objects only (it has no lenient conversions).
func decodeEncodingJSON(value []byte) (*schemas.SignIn, error) {
	var si schemas.SignIn
	if err := json.Unmarshal(value, &si); err != nil {
		return nil, malformed(ReasonInvalidJSON, "%v", err)
	}
	normaliseEnums(&si)
	if si.Category == "" {
		si.Category = deriveCategory(&si)
	}
	if err := validate(&si); err != nil {
		return nil, err
	}
	normaliseTimes(&si)
	return &si, nil
}

// BenchmarkDecode decodes realistic Graph beta sign-ins of about 3 KB (3 CA
// policies, one authentication step) and 11.5 KB (Entra's average stored
// sign-in: 23 CA policies, three steps, processing details) with the
// project's decoder ("fast") and with encoding/json into the same model.
// Run with -cpu 1 for per-core figures; events/s is reported as ev/s.
func BenchmarkDecode(b *testing.B) {
	for _, size := range []string{"3k", "11k"} {
		data, err := os.ReadFile("testdata/bench/graph_beta_" + size + ".json")
		if err != nil {
			b.Fatal(err)
		}
		data = []byte(strings.TrimSpace(string(data)))
		b.Run("graph_"+size+"/fast", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				got, err := DecodeSignIns(data)
				if err != nil || len(got) != 1 || got[0].Err != nil {
					b.Fatal(err, got)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ev/s")
		})
		b.Run("graph_"+size+"/encoding_json", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeEncodingJSON(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ev/s")
		})
	}
}

// decodeEnvelopeEncodingJSON is the previous decoder of the Azure Monitor
// envelope: encoding/json for the envelope, then for each record.
func decodeEnvelopeEncodingJSON(value []byte) ([]*schemas.SignIn, error) {
	var probe struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(value, &probe); err != nil {
		return nil, err
	}
	out := make([]*schemas.SignIn, 0, len(probe.Records))
	for _, raw := range probe.Records {
		var rec struct {
			Time          time.Time      `json:"time"`
			Category      string         `json:"category"`
			CorrelationID string         `json:"correlationId"`
			Properties    schemas.SignIn `json:"properties"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, err
		}
		si := &rec.Properties
		si.Category = rec.Category
		if si.CreatedDateTime.IsZero() {
			si.CreatedDateTime = rec.Time
		}
		normaliseEnums(si)
		if err := validate(si); err != nil {
			return nil, err
		}
		normaliseTimes(si)
		out = append(out, si)
	}
	return out, nil
}

// BenchmarkDecodeEventHubsBatch decodes an Azure Monitor {"records":[…]}
// message of ten 3 KB sign-ins; ev/s counts sign-ins.
func BenchmarkDecodeEventHubsBatch(b *testing.B) {
	data, err := os.ReadFile("testdata/bench/graph_beta_3k.json")
	if err != nil {
		b.Fatal(err)
	}
	record := `{"time":"2025-03-04T09:12:31.4471234Z","resourceId":"/tenants/11111111-2222-3333-4444-555555555555/providers/Microsoft.aadiam",` +
		`"operationName":"Sign-in activity","operationVersion":"1.0","category":"SignInLogs","tenantId":"11111111-2222-3333-4444-555555555555",` +
		`"resultType":"53003","resultSignature":"None","durationMs":0,"callerIpAddress":"203.0.113.24","correlationId":"9531985d-5d9d-49f8-9818-e811892f902b",` +
		`"identity":"Ana Ruiz","Level":4,"location":"FR","properties":` + string(bytes.TrimSpace(data)) + `}`
	const n = 10
	msg := []byte(`{"records":[` + strings.TrimSuffix(strings.Repeat(record+",", n), ",") + `]}`)
	b.Run("records_10x3k/fast", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			got, err := DecodeSignIns(msg)
			if err != nil || len(got) != n || got[n-1].Err != nil {
				b.Fatal(err, got)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "ev/s")
	})
	b.Run("records_10x3k/encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			if got, err := decodeEnvelopeEncodingJSON(msg); err != nil || len(got) != n {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "ev/s")
	})
}
