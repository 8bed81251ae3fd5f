package aiofs_test

// Durability of synced data: a child process writes through
// aiofs, syncs with File.Sync or Fs.Sync, says so, and is killed with
// SIGKILL right after, while it goes on writing; every byte it
// acknowledged must be in the file, and every byte past them must be
// one it wrote or a hole.
//
// A SIGKILL leaves the kernel's page cache intact, so the files' contents
// show that acknowledged writes reached the kernel, not that they reached
// the disk. That they were also committed is checked in the child, right
// after each Fs.Sync: the sync submitted operations to the engine (an
// fsync is one), and, where cachestat can tell, no page of the file is
// dirty any more.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// durFiles are the child's files, by how their data is made durable.
var durFiles = []string{
	"file-sync",     // File.Sync of its writer
	"closed",        // written, closed, then Fs.Sync
	"reader-held",   // written, closed by its writer, open for reading, then Fs.Sync
	"open-writer",   // written, its writer still open, then Fs.Sync
	"file-sync-big", // large writes that may go straight to the file, File.Sync
	"sync-rounds",   // durRounds File.Syncs between writes, on the process-wide engine
}

// durRounds is how many times the child syncs sync-rounds, acknowledging
// each.
const durRounds = 4

// TestDurabilityAfterSIGKILL: every byte the child acknowledged as synced
// is in its file after the child is killed.
func TestDurabilityAfterSIGKILL(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := childCmd(ctx, "sigkill", dir, engine)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]int64{}
		acks := map[string]int{}
		var lines []string
		ready := false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			lines = append(lines, line)
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "ack":
				n, err := strconv.ParseInt(f[2], 10, 64)
				if err != nil {
					t.Fatalf("child said %q", line)
				}
				acked[f[1]] = n
				acks[f[1]]++
			case len(f) > 0 && f[0] == "error":
				t.Errorf("child: %s", line)
			case line == "ready":
				ready = true
			}
			if ready {
				break
			}
		}
		// Killed right after its last acknowledgement, while it goes on
		// writing unsynced data.
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, stdout)
		werr := cmd.Wait()
		if !ready {
			t.Fatalf("the child did not finish its syncs (%v):\n%s\n%s", werr, strings.Join(lines, "\n"), stderr.String())
		}
		t.Logf("child:\n%s", strings.Join(lines, "\n"))
		if acks["sync-rounds"] != durRounds {
			t.Errorf("sync-rounds: %d acknowledgements, want %d", acks["sync-rounds"], durRounds)
		}
		for id, base := range durFiles {
			n, ok := acked[base]
			if !ok {
				t.Errorf("%s: no acknowledgement", base)
				continue
			}
			got, err := os.ReadFile(filepath.Join(dir, base))
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(got)) < n {
				t.Errorf("%s: %d bytes in the file, %d acknowledged", base, len(got), n)
				continue
			}
			if want := pattern(uint64(id), 0, int(n)); !bytes.Equal(got[:n], want) {
				t.Errorf("%s: the acknowledged bytes differ from what the child wrote: %s", base, diff(got[:n], want, "got", "want"))
			}
			// Past them, what was flushed before the kill, or holes not
			// yet flushed.
			past := pattern(uint64(id), n, len(got)-int(n))
			for i, b := range got[n:] {
				if b != 0 && b != past[i] {
					t.Errorf("%s: byte %d (past the acknowledged ones) is %#x: the child wrote %#x", base, n+int64(i), b, past[i])
					break
				}
			}
		}
	})
}

func init() { children["sigkill"] = durabilityChild }

// durabilityChild is the child of TestDurabilityAfterSIGKILL. It reports
// on stdout: "ack FILE N" once the first N bytes of FILE are synced,
// "error ..." for what went wrong, and "ready" when the parent may kill
// it.
func durabilityChild(t *testing.T, dir, engine string) {
	aio := aiofs.New(aiofs.WithEngine(engine), aiofs.WithWriteBehind(64<<20))
	// sync-rounds goes through the process-wide engine (AIOFS_ENGINE is
	// the same one), which the other Fs does not use.
	shared := aiofs.New(aiofs.WithWriteBehind(64 << 20))
	r := newRand(40, 40)
	fail := func(format string, args ...any) {
		fmt.Printf("error "+format+"\n", args...)
	}
	// write writes n bytes of file id's pattern to f from off, in pieces
	// of up to piece bytes, with a rewrite of earlier bytes now and then.
	write := func(id int, f afero.File, off int64, n int, piece int) int64 {
		for end := off + int64(n); off < end; {
			m := int(min(end-off, int64(1+r.IntN(piece))))
			if _, err := f.Write(pattern(uint64(id), off, m)); err != nil {
				fail("%s: Write: %v", f.Name(), err)
				return off
			}
			off += int64(m)
			if r.IntN(4) == 0 {
				at := r.Int64N(off)
				k := int(min(off-at, 5000))
				if _, err := f.WriteAt(pattern(uint64(id), at, k), at); err != nil {
					fail("%s: WriteAt: %v", f.Name(), err)
				}
			}
		}
		return off
	}
	create := func(id int) afero.File {
		fsys := aio
		if durFiles[id] == "sync-rounds" {
			fsys = shared
		}
		f, err := fsys.Create(filepath.Join(dir, durFiles[id]))
		if err != nil {
			fail("%v", err)
			t.FailNow()
		}
		return f
	}
	// fsSync runs Fs.Sync and reports what shows that name was committed.
	fsSync := func(name string) bool {
		before := aio.Stats().Submitted
		if err := aio.Sync(); err != nil {
			fail("Fs.Sync for %s: %v", name, err)
			return false
		}
		if aio.Stats().Submitted == before {
			fail("Fs.Sync for %s submitted no operation to the engine: nothing was fsynced", name)
		}
		if dirty, known := relDirtyPages(t, filepath.Join(dir, name)); known && dirty > 0 {
			fail("%s: %d dirty pages after Fs.Sync returned nil", name, dirty)
		}
		return true
	}

	a := create(0)
	na := write(0, a, 0, 3<<20, 40000)
	if err := a.Sync(); err != nil {
		fail("File.Sync: %v", err)
	} else {
		fmt.Printf("ack %s %d\n", durFiles[0], na)
	}

	b := create(1)
	nb := write(1, b, 0, 2<<20, 40000)
	if err := b.Close(); err != nil {
		fail("Close: %v", err)
	}
	if fsSync(durFiles[1]) {
		fmt.Printf("ack %s %d\n", durFiles[1], nb)
	}

	c := create(2)
	rd, err := aio.Open(filepath.Join(dir, durFiles[2]))
	if err != nil {
		fail("%v", err)
	}
	nc := write(2, c, 0, 1<<20, 40000)
	if err := c.Close(); err != nil {
		fail("Close: %v", err)
	}
	if fsSync(durFiles[2]) {
		fmt.Printf("ack %s %d\n", durFiles[2], nc)
	}

	d := create(3)
	nd := write(3, d, 0, 2<<20, 40000)
	if fsSync(durFiles[3]) {
		fmt.Printf("ack %s %d\n", durFiles[3], nd)
	}

	e := create(4)
	ne := write(4, e, 0, 8<<20, 1<<20)
	if err := e.Sync(); err != nil {
		fail("File.Sync: %v", err)
	} else {
		fmt.Printf("ack %s %d\n", durFiles[4], ne)
	}

	g := create(5)
	var ng int64
	for range durRounds {
		ng = write(5, g, ng, 400000, 40000)
		if err := g.Sync(); err != nil {
			fail("File.Sync: %v", err)
			break
		}
		fmt.Printf("ack %s %d\n", durFiles[5], ng)
	}

	fmt.Println("ready")
	// Unsynced from here on, until the parent kills us.
	for {
		na = write(0, a, na, 1<<20, 40000)
		nd = write(3, d, nd, 1<<20, 40000)
		ng = write(5, g, ng, 1<<20, 40000)
		rd.ReadAt(make([]byte, 4096), 0)
		time.Sleep(time.Millisecond)
	}
}
