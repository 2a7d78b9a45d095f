// Command generrors writes errors_gen.go from the ABI's schema (see internal/generrors).
//
//	go run ./internal/cmd/generrors ../include/inferencekey.schema.json errors_gen.go
package main

import (
	"fmt"
	"os"

	"github.com/inferencekey/inferencekey-sdk/go/internal/generrors"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: generrors SCHEMA.json OUT.go")
		os.Exit(2)
	}
	schema, err := os.ReadFile(os.Args[1])
	if err == nil {
		var src []byte
		if src, err = generrors.Generate(schema); err == nil {
			err = os.WriteFile(os.Args[2], src, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "generrors:", err)
		os.Exit(1)
	}
}
