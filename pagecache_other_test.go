//go:build !linux

package aiofs

import "testing"

// withoutPageCacheProbe does nothing: inPageCache always says "not
// cached" here.
func withoutPageCacheProbe(*testing.T) {}
