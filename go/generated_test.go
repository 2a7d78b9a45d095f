package inferencekey_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/inferencekey/inferencekey-sdk/go/internal/generrors"
)

// errors_gen.go is what `go generate` makes of the ABI's current schema.
func TestGeneratedErrorsUpToDate(t *testing.T) {
	schema, err := os.ReadFile("../include/inferencekey.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := generrors.Generate(schema)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("errors_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("errors_gen.go is stale: run `go generate` in go/")
	}
}
