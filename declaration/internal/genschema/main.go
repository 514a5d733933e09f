// Command genschema writes the JSON Schema of a declaration file (declaration.JSONSchema) to the
// file it names: 'go generate ./declaration' runs it for docs/declaration.schema.json.
package main

import (
	"fmt"
	"os"

	"github.com/medsupply/customs/declaration"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genschema FILE")
		os.Exit(2)
	}
	b, err := declaration.JSONSchema()
	if err == nil {
		err = os.WriteFile(os.Args[1], b, 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "genschema: %v\n", err)
		os.Exit(1)
	}
}
