//go:build !linux

package aiofs

import "os"

// startWriteback ends wb's run: this system has no sync_file_range, and
// its kernel starts writeback on its own terms.
func startWriteback(_ *os.File, wb *writeback) { wb.running.Store(false) }
