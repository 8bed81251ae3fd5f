// Command buildweed builds SeaweedFS's weed into the cache directory of
// internal/s3test, unless it is there already, and prints its path. The
// S3 tests need it; .ci/run runs this before them.
package main

import (
	"fmt"
	"os"

	"github.com/aiofs/aiofs/internal/s3test"
)

func main() {
	bin, err := s3test.Binary(true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(bin)
}
