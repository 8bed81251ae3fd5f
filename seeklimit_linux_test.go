package aiofs

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDeviceSeeks: what lseek(2) took on one file of a device answers
// for the other files of that device up to sharedSeekLimit, and nothing
// else does. A pipe, whose lseek fails, stands for a file that would
// refuse: an offset it is said to take was answered from the record.
func TestDeviceSeeks(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if ok, asked := seekAccepts(r, 0); ok || !asked {
		t.Fatalf("seekAccepts on a pipe: %v, asked %v; want refused", ok, asked)
	}

	var d deviceSeeks
	file := fileKey{dev: 7, ino: 1}
	if !d.accepts(file, f, 4096) {
		t.Fatal("a regular file refused offset 4096")
	}
	steps := []struct {
		what string
		key  fileKey
		pos  int64
		want bool
	}{
		{"another file of the device, within what the first took", fileKey{dev: 7, ino: 2}, 4096, true},
		{"another file of the device, at sharedSeekLimit", fileKey{dev: 7, ino: 2}, sharedSeekLimit, true},
		{"another file of the device, past sharedSeekLimit", fileKey{dev: 7, ino: 2}, sharedSeekLimit + 1, false},
		{"a file of another device", fileKey{dev: 8, ino: 1}, 4096, false},
		{"a file keyed by path", fileKey{path: "p"}, 4096, false},
	}
	for _, s := range steps {
		if got := d.accepts(s.key, r, s.pos); got != s.want {
			t.Errorf("%s: accepts %v, want %v", s.what, got, s.want)
		}
	}

	// A file that refused records nothing for its device.
	var e deviceSeeks
	if e.accepts(file, r, 4096) || e.accepts(file, r, 1) {
		t.Error("a pipe's refusal was taken for an answer")
	}
	if len(e.known) != 0 {
		t.Errorf("a refusal recorded %v", e.known)
	}
}
