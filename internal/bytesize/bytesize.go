// Package bytesize parses byte counts as the benchmarks' environment and
// the examples' flags take them: 64MiB, 1GiB, 512KiB, 4K, 1G.
package bytesize

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse parses a byte count: plain bytes, or a number with one of the
// suffixes KiB, MiB, GiB (K, M, G, KB, MB, GB mean the same; B is bytes).
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
	} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q: want bytes, or a number with KiB, MiB or GiB", s)
	}
	return v * mult, nil
}
