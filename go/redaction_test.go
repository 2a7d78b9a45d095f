package inferencekey_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

type redactionCase struct {
	Name   string `json:"name"`
	Input  string `json:"input"`
	Output string `json:"output"`
}

func loadRedaction(t *testing.T) []redactionCase {
	raw, err := os.ReadFile("../tests/conformance/redaction.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []redactionCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 30 {
		t.Fatalf("only %d redaction cases", len(file.Cases))
	}
	return file.Cases
}

// Every redaction vector through the core's ik_text_redact as this module calls it, and
// through an error's message, %v and %+v, as a server's error message and request id.
func TestRedaction(t *testing.T) {
	for _, c := range loadRedaction(t) {
		t.Run(c.Name, func(t *testing.T) {
			if err := native.Load(); err != nil {
				t.Fatal(err)
			}
			got, info := native.RedactText(c.Input)
			if info != nil || got != c.Output {
				t.Fatalf("ik_text_redact: %q, want %q (%v)", got, c.Output, info)
			}
			if c.Input == "" {
				return
			}
			srv := fakeServer(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "bad_request", "message": c.Input}})
				_, _ = w.Write(body)
			})
			_, err := fakeMgmt(t, srv.URL).List(context.Background())
			e := wantKind(t, err, inferencekey.KindValidation, inferencekey.ErrValidation)
			if !strings.Contains(e.Message, c.Output) {
				t.Fatalf("message %q lacks %q", e.Message, c.Output)
			}
			for _, shown := range []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%s", err), err.Error()} {
				if !strings.Contains(shown, c.Output) {
					t.Fatalf("%q lacks %q", shown, c.Output)
				}
			}
		})
	}
}

// Secrets never show in a printed error or client, wherever they came from.
func TestSecretsNeverPrinted(t *testing.T) {
	secret := "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	token := "ik_sdk_1a2b3c4d_" + secret
	srv := fakeServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-"+token)
		w.WriteHeader(http.StatusForbidden)
		_, _ = fmt.Fprintf(w, `{"error":{"code":"forbidden","message":"token %s refused","detail":"%s"}}`, token, token)
	})
	mgmt, err := inferencekey.NewManagementClient(inferencekey.WithBaseURL(srv.URL), inferencekey.WithProject("acme"),
		inferencekey.WithSDKToken(token))
	if err != nil {
		t.Fatal(err)
	}
	defer mgmt.Close()
	_, err = mgmt.List(context.Background())
	e := wantKind(t, err, inferencekey.KindPermission, inferencekey.ErrPermission)
	for _, shown := range []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err),
		e.RequestID, string(e.Details), mgmt.String(), fmt.Sprint(mgmt)} {
		if strings.Contains(shown, secret) {
			t.Fatalf("a secret shows in %q", shown)
		}
	}
	if !strings.Contains(mgmt.String(), "ik_sdk_1a2b3c4d") {
		t.Fatalf("the client's description %q does not name the token's id", mgmt.String())
	}
}
