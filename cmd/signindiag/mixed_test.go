package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/queryapi"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// TestMixedStreamEndsWithExactlyTheExpectedRows sends every shape Entra
// emits (Graph, Graph list, Event Hubs records of the four categories, Log
// Analytics rows), a duplicate message, a sign-in re-emitted with its
// final status, flags before and after their sign-ins and poison
// messages, and checks what ClickHouse holds at the end.
func TestMixedStreamEndsWithExactlyTheExpectedRows(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	chCfg := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("mixed")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })
	proc := startProcess(t, "run", processEnv(brokers, chCfg, prefix, map[string]string{"SIGNINDIAG_KAFKA_MAX_MESSAGE_BYTES": "8192"}))
	proc.waitReady(t)

	// A flag before its sign-in, and one that names no user.
	kafkatest.Produce(t, brokers, prefix+"-flags",
		[]byte(`{"signInId":"g3","userId":"mix-b","flaggedAt":"2025-03-04T09:05:00Z","flaggedBy":"user"}`),
		[]byte(`{"signInId":"g1","flaggedAt":"2025-03-04T09:05:00Z"}`))

	graph := `{"id":"g1","createdDateTime":"2025-03-04T09:00:00Z","userId":"mix-a","userPrincipalName":"a@contoso.example",` +
		`"appDisplayName":"Azure Portal","ipAddress":"203.0.113.1","isInteractive":true,"status":{"errorCode":50126}}`
	list := `{"@odata.context":"https://graph.microsoft.com/beta/$metadata#auditLogs/signIns","value":[` +
		`{"id":"g2","createdDateTime":"2025-03-04T09:01:00Z","userId":"mix-a","isInteractive":true,"status":{"errorCode":0}},` +
		`{"id":"g3","createdDateTime":"2025-03-04T09:02:00Z","userId":"mix-b","isInteractive":true,"conditionalAccessStatus":"failure",` +
		`"status":{"errorCode":53003},"appliedConditionalAccessPolicies":[{"displayName":"Block legacy","enforcedGrantControls":["Block"],"result":"failure"}]}]}`
	rec := func(category, resultType, props string) string {
		return `{"time":"2025-03-04T09:10:00.0000000Z","category":"` + category + `","operationName":"Sign-in activity",` +
			`"resultType":"` + resultType + `","properties":` + props + `}`
	}
	envelope := `{"records":[` + strings.Join([]string{
		rec("SignInLogs", "50074", `{"id":"eh1","createdDateTime":"2025-03-04T09:10:02.1234567+00:00","userId":"mix-c","correlationId":"c-eh1",`+
			`"status":{"errorCode":50074,"failureReason":"Strong Authentication is required."},"isInteractive":true}`),
		rec("NonInteractiveUserSignInLogs", "0", `{"id":"eh2","createdDateTime":"2025-03-04T04:10:05-05:00","userId":"mix-c","status":{"errorCode":0},"isInteractive":false}`),
		rec("ServicePrincipalSignInLogs", "7000222", `{"id":"eh3","createdDateTime":"2025-03-04T09:10:06Z","userId":null,"servicePrincipalId":"sp-1",`+
			`"servicePrincipalName":"nightly-export","status":{"errorCode":"7000222"}}`),
		rec("ManagedIdentitySignInLogs", "0", `{"id":"eh4","createdDateTime":"2025-03-04T09:10:07Z","servicePrincipalId":"mi-1","ipAddress":"",`+
			`"managedServiceIdentity":{"msiType":"systemAssigned"},"status":{"errorCode":0}}`),
		rec("SignInLogs", "0", `{"createdDateTime":"2025-03-04T09:10:08Z","userId":"mix-e","status":{"errorCode":0}}`), // no id: dead letter
	}, ",") + `]}`
	// Entra re-emits eh1 once the MFA step completed: same id, success.
	reemitted := `{"records":[` + rec("SignInLogs", "0", `{"id":"eh1","createdDateTime":"2025-03-04T09:10:20Z","userId":"mix-c",`+
		`"correlationId":"c-eh1","status":{"errorCode":0},"isInteractive":true}`) + `]}`
	logAnalytics := `{"TimeGenerated":"2025-03-04T09:20:00.5Z","Type":"SigninLogs","Category":"SignInLogs","ResultType":"50053",` +
		`"Id":"la1","CorrelationId":"c-la1","CreatedDateTime":"2025-03-04T09:20:00Z","UserId":"mix-d","UserPrincipalName":"d@contoso.example",` +
		`"AppDisplayName":"Office 365 Exchange Online","ClientAppUsed":"IMAP4","IPAddress":"198.51.100.20","IsInteractive":false,` +
		`"Status":"{\"errorCode\":50053,\"failureReason\":\"Account is locked.\"}","DeviceDetail":"{\"operatingSystem\":\"Windows10\"}",` +
		`"LocationDetails":"{\"city\":\"Lyon\",\"countryOrRegion\":\"FR\"}","ConditionalAccessPolicies":[],"ConditionalAccessStatus":"notApplied"}`
	kafkatest.Produce(t, brokers, prefix+"-signins",
		[]byte(graph), []byte(list), []byte(envelope), []byte(graph), // g1 twice
		[]byte(`{"records":[{"category":"SignInLogs","properties":{`), // broken JSON
		[]byte(`{"id":"big","pad":"`+strings.Repeat("x", 9000)+`"}`),  // over the size limit
		[]byte(logAnalytics))
	// eh1's final version comes later, then a flag for la1 by correlation id.
	kafkatest.Produce(t, brokers, prefix+"-signins", []byte(reemitted))
	kafkatest.Produce(t, brokers, prefix+"-flags",
		[]byte(`{"correlationId":"c-la1","userPrincipalName":"d@contoso.example","flaggedAt":"2025-03-04T10:00:00Z","flaggedBy":"helpdesk"}`))

	want := map[string]int{
		"SignInLogs/g1": 50126, "SignInLogs/g2": 0, "SignInLogs/g3": 53003,
		"SignInLogs/eh1": 0, "NonInteractiveUserSignInLogs/eh2": 0, "ServicePrincipalSignInLogs/eh3": 7000222,
		"ManagedIdentitySignInLogs/eh4": 0, "SignInLogs/la1": 50053,
	}
	conn := rawConn(t, chCfg)
	var got map[string]int
	defer func() {
		if t.Failed() {
			t.Logf("rows: got %v\nwant %v", got, want)
		}
	}()
	eventually(t, 60*time.Second, "the expected rows", func() bool {
		got = map[string]int{}
		rows, err := conn.Query(context.Background(), fmt.Sprintf(
			"SELECT category, id, argMax(error_code, (created_ms, version)) FROM %s.signins GROUP BY category, id", chCfg.Database))
		if err != nil {
			return false
		}
		defer rows.Close()
		for rows.Next() {
			var category, id string
			var code int32
			if err := rows.Scan(&category, &id, &code); err != nil {
				t.Fatal(err)
			}
			got[category+"/"+id] = int(code)
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	waitDurable(t, brokers, prefix)

	// Sign-ins as the API shows them: the duplicate once, eh1 in its final
	// version, times normalised to UTC.
	var d queryapi.Diagnosis
	if _, err := proc.getJSON("/v1/diagnose?user=mix-a&at=2025-03-04T09:00:00Z", &d); err != nil || len(d.AuthenticationSummary) != 2 {
		t.Errorf("mix-a: %d sign-ins (%v), want g1 and g2 once each", len(d.AuthenticationSummary), err)
	}
	// Tables are written one after the other, so poll rather than read once.
	eventually(t, 10*time.Second, "eh1's re-emitted version through the API", func() bool {
		_, err := proc.getJSON("/v1/diagnose?requestId=eh1", &d)
		return err == nil && len(d.AuthenticationSummary) == 1 && d.AuthenticationSummary[0].Status.ErrorCode == 0
	})
	if got := d.AuthenticationSummary[0].CreatedDateTime.Format(time.RFC3339); got != "2025-03-04T09:10:20Z" {
		t.Errorf("eh1 createdDateTime = %s, want the re-emitted 2025-03-04T09:10:20Z", got)
	}
	if _, err := proc.getJSON("/v1/diagnose?requestId=eh2", &d); err != nil || len(d.AuthenticationSummary) != 1 ||
		!d.AuthenticationSummary[0].CreatedDateTime.Equal(time.Date(2025, 3, 4, 9, 10, 5, 0, time.UTC)) {
		t.Errorf("eh2 (a -05:00 offset): %+v %v", d.AuthenticationSummary, err)
	}
	var fc queryapi.FailureCount
	if _, err := proc.getJSON("/v1/users/mix-c/failures?at=2025-03-04T12:00:00Z", &fc); err != nil || fc.Failures48h != 0 {
		t.Errorf("mix-c failures = %d (%v), want 0: an interrupt completed later is no failure", fc.Failures48h, err)
	}
	if _, err := proc.getJSON("/v1/diagnose?requestId=la1", &d); err != nil || len(d.DiagnosticResults) != 1 ||
		d.DiagnosticResults[0].Scenario != "account_locked" || d.AuthenticationSummary[0].ClientAppUsed != "IMAP4" {
		t.Errorf("la1 (Log Analytics row): %+v %v", d, err)
	}

	// Flags before and after their sign-ins.
	var flagged queryapi.FlaggedList
	eventually(t, 30*time.Second, "flagged sign-ins", func() bool {
		code, err := proc.getJSON("/v1/flagged", &flagged)
		return err == nil && code == http.StatusOK && len(flagged.Flagged) == 2
	})
	if flagged.Flagged[0].SignIn.ID != "la1" || flagged.Flagged[1].SignIn.ID != "g3" {
		t.Errorf("flagged: %s, %s; want la1 (flagged later) then g3", flagged.Flagged[0].SignIn.ID, flagged.Flagged[1].SignIn.ID)
	}

	// Every poison message is in the dead-letter topic with its reason.
	var reasons []string
	eventually(t, 30*time.Second, "dead letters", func() bool {
		reasons = reasons[:0]
		for _, m := range kafkatest.ReadAll(t, brokers, prefix+"-dlq") {
			reasons = append(reasons, deadletter.Header(m, deadletter.HeaderReason))
		}
		return len(reasons) >= 4
	})
	sort.Strings(reasons)
	if strings.Join(reasons, ",") != "invalid_json,missing_id,missing_user,too_large" {
		t.Errorf("dead-letter reasons = %v", reasons)
	}
	proc.stop()
}
