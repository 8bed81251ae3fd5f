package aiofs

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestPseudoFSFreeBSD: procfs (mounted for the test, which
// needs root: the VM runs it) and devfs files are known as pseudo-files
// and served as OsFs serves them, uncached: a procfs file whose size and
// times never change still reads fresh through the Fs. A tmpfs file is
// not one.
func TestPseudoFSFreeBSD(t *testing.T) {
	t.Parallel()
	proc := t.TempDir()
	if err := nmount("fstype", "procfs", "fspath", proc, "from", "procfs"); err != nil {
		t.Skipf("mounting procfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(proc, unix.MNT_FORCE); err != nil {
			t.Errorf("unmounting procfs: %v", err)
		}
	})
	status := filepath.Join(proc, "curproc", "status")
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{status: true, "/dev/null": true, plain: false} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if got := onPseudoFS(f, fi); got != want {
			t.Errorf("onPseudoFS(%s) = %v, want %v", name, got, want)
		}
		f.Close()
	}
	for _, engine := range enginesUnderTest(t) {
		t.Run(engine, func(t *testing.T) {
			fs := New(WithEngine(engine))
			defer fs.Close()
			af, err := fs.Open(status)
			if err != nil {
				t.Fatal(err)
			}
			defer af.Close()
			if af.(*File).n != nil {
				t.Errorf("%s has a node in the Fs: its data may be cached", status)
			}
			aioTime := func() time.Duration {
				buf := make([]byte, 4096)
				n, err := af.ReadAt(buf, 0)
				if n == 0 {
					t.Fatalf("ReadAt through the Fs: %d, %v", n, err)
				}
				return procCPUTime(t, buf[:n])
			}
			osTime := func() time.Duration {
				b, err := os.ReadFile(status)
				if err != nil {
					t.Fatal(err)
				}
				return procCPUTime(t, b)
			}
			// CPU time only grows: once the OS shows more than the Fs
			// showed first, a fresh read through the Fs shows at least
			// that much.
			first := aioTime()
			var seen time.Duration
			for deadline := time.Now().Add(time.Minute); ; {
				if seen = osTime(); seen > first {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the process's CPU time stayed at %v", seen)
				}
				spin(10 * time.Millisecond)
			}
			if again := aioTime(); again < seen {
				t.Errorf("CPU time read through the Fs: %v, after the OS showed %v: a stale copy", again, seen)
			}
		})
	}
}

// procCPUTime returns the user plus system time of a procfs status file
// (fields 9 and 10: seconds,microseconds).
func procCPUTime(t *testing.T, status []byte) time.Duration {
	fields := strings.Fields(string(status))
	if len(fields) < 10 {
		t.Fatalf("status %q: too few fields", status)
	}
	var sum time.Duration
	for _, f := range fields[8:10] {
		s, us, ok := strings.Cut(f, ",")
		sec, err1 := strconv.ParseInt(s, 10, 64)
		usec, err2 := strconv.ParseInt(us, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("status %q: field %q is not seconds,microseconds", bytes.TrimSpace(status), f)
		}
		sum += time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
	}
	return sum
}

// spin burns CPU for d.
func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// nmount mounts a file system with nmount(2), given its name/value pairs.
func nmount(kv ...string) error {
	iovs := make([]unix.Iovec, len(kv))
	bufs := make([][]byte, len(kv))
	for i, s := range kv {
		bufs[i] = append([]byte(s), 0)
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(len(bufs[i]))
	}
	// unsafe: nmount takes an array of iovecs; iovs and the strings they
	// point to are Go memory that stays live and unmoved through the
	// syscall (a Syscall argument converted from unsafe.Pointer).
	_, _, e := unix.Syscall(unix.SYS_NMOUNT, uintptr(unsafe.Pointer(&iovs[0])), uintptr(len(iovs)), 0)
	if e != 0 {
		return e
	}
	return nil
}
