// Command nohelper starts the local backend in a binary that does not link
// the sandbox init helper. TestBinaryWithoutTheHelperRefuses builds and
// runs it: New must refuse, saying what is missing, rather than start the
// binary as a helper it cannot be. It prints New's error and exits 3, or
// exits 0 if New succeeded.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

func main() {
	b, err := local.New(context.Background(), local.Options{Python: os.Getenv("AIRLOCK_TEST_PYTHON")})
	if err != nil {
		fmt.Println(err)
		os.Exit(3)
	}
	_ = b.Close()
	fmt.Println("the backend started")
}
