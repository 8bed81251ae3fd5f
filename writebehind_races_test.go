package aiofs_test

// Race tests of the write path: concurrent writes through different handles of
// an Fs never interleave, and whatever order write-through, flush,
// truncate and readahead complete in, every handle then reads what the
// file holds.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// TestRaceOverlappingWriters: four handles write the same range at once,
// each its own byte, with Write or WriteAt, buffered or O_SYNC, small or
// large, under several write-behind bounds. Each Write is atomic against
// the others, so the range then holds one writer's bytes entirely, as
// Linux's inode lock makes it with OsFs.
func TestRaceOverlappingWriters(t *testing.T) {
	t.Parallel()
	const writers, rounds = 4, 80
	sizes := []struct {
		off  int64
		size int
	}{
		{cxBlock - 1000, 5000},         // across a block boundary
		{12345, 100 << 10},             // several blocks, under largeWrite
		{3 * cxBlock / 2, 300<<10 + 7}, // may go straight to the file
	}
	bounds := []int64{0, 64 << 10, aiofs.DefaultWriteBehind}
	forEngines(t, func(t *testing.T, engine string) {
		for _, bound := range bounds {
			for _, sz := range sizes {
				t.Run(fmt.Sprintf("wb%d/%d@%d", bound, sz.size, sz.off), func(t *testing.T) {
					aio := newAio(t, engine, aiofs.WithWriteBehind(bound))
					name := filepath.Join(t.TempDir(), "f")
					hs := make([]afero.File, writers)
					for i := range hs {
						flag := os.O_RDWR | os.O_CREATE
						if i == writers-1 {
							flag |= os.O_SYNC
						}
						hs[i] = mustOpen(t, aio, name, flag)
						defer hs[i].Close()
					}
					mixed := 0
					for round := range rounds {
						ps := make([][]byte, writers)
						for i := range ps {
							ps[i] = bytes.Repeat([]byte{byte(round*writers + i + 1)}, sz.size)
						}
						var wg sync.WaitGroup
						errs := make([]error, writers)
						for i, h := range hs {
							wg.Add(1)
							go func() {
								defer wg.Done()
								if (round+i)%2 == 0 {
									_, errs[i] = h.WriteAt(ps[i], sz.off)
									return
								}
								if _, errs[i] = h.Seek(sz.off, io.SeekStart); errs[i] == nil {
									_, errs[i] = h.Write(ps[i])
								}
							}()
						}
						wg.Wait()
						for i, err := range errs {
							if err != nil {
								t.Fatalf("round %d: writer %d: %v", round, i, err)
							}
						}
						got := make([]byte, sz.size)
						if _, err := hs[0].ReadAt(got, sz.off); err != nil {
							t.Fatal(err)
						}
						whole := false
						for _, p := range ps {
							whole = whole || bytes.Equal(got, p)
						}
						if !whole {
							mixed++
						}
						if err := hs[0].Sync(); err != nil {
							t.Fatal(err)
						}
						disk, _ := os.ReadFile(name)
						if int64(len(disk)) < sz.off+int64(sz.size) || !bytes.Equal(disk[sz.off:sz.off+int64(sz.size)], got) {
							t.Fatalf("round %d: the file holds other bytes than the Fs reads", round)
						}
					}
					if mixed > 0 {
						t.Errorf("the range mixes writers in %d of %d rounds (OsFs: 0)", mixed, rounds)
					}
				})
			}
		}
	})
}

// TestRaceWriteThroughFlushTruncateReadahead: in each round an O_SYNC
// handle writes, a buffered handle writes and syncs, a third handle
// truncates, and a reader reads the file sequentially (which starts
// readahead), all at once, on random ranges of the same blocks. Once all
// have returned and every writer has synced, every handle reads exactly
// what the file holds and reports its size.
func TestRaceWriteThroughFlushTruncateReadahead(t *testing.T) {
	t.Parallel()
	sets := []cxOptSet{
		{"default", nil},
		{"cache256K-ra128K", []aiofs.Option{aiofs.WithCacheSize(256 << 10), aiofs.WithReadahead(128 << 10)}},
	}
	forEngines(t, func(t *testing.T, engine string) {
		for _, set := range sets {
			t.Run(set.name, func(t *testing.T) {
				seed := testSeed(t)
				r := newRand(seed, 30)
				aio := newAio(t, engine, set.opts...)
				name := filepath.Join(t.TempDir(), "f")
				const span = 1 << 20
				hs := relHandles(t, aio, name, pattern(r.Uint64(), 0, span), []relFlag{
					{"O_SYNC", os.O_RDWR | os.O_SYNC}, {"buffered", os.O_RDWR}, {"truncater", os.O_RDWR}, {"reader", os.O_RDONLY}})
				ws, wb, tr, rd := hs["O_SYNC"], hs["buffered"], hs["truncater"], hs["reader"]
				for round := range 200 {
					// Everything aims at a few blocks so that the
					// operations meet.
					base := r.Int64N(span/cxBlock/2) * cxBlock
					at := func() int64 { return base + r.Int64N(3*cxBlock) }
					wsOff, wsLen := at(), 1+r.IntN(2*cxBlock)
					wbOff, wbLen := at(), 1+r.IntN(cxBlock)
					cut := at()
					ws1, wb1 := bytes.Repeat([]byte{byte(2*round + 1)}, wsLen), bytes.Repeat([]byte{byte(2*round + 2)}, wbLen)
					errs := atOnce(func() error { _, err := ws.WriteAt(ws1, wsOff); return err },
						func() error {
							_, err := wb.WriteAt(wb1, wbOff)
							if err == nil {
								err = wb.Sync()
							}
							return err
						},
						func() error { return tr.Truncate(cut) },
						func() error {
							if _, err := rd.Seek(base, io.SeekStart); err != nil {
								return err
							}
							buf := make([]byte, 32<<10)
							for {
								if _, err := rd.Read(buf); err != nil {
									if err != io.EOF {
										return err
									}
									return nil
								}
							}
						})
					if werr, berr, terr, rerr := errs[0], errs[1], errs[2], errs[3]; werr != nil || berr != nil || terr != nil || rerr != nil {
						t.Fatalf("round %d: write-through %v, buffered %v, Truncate %v, reads %v", round, werr, berr, terr, rerr)
					}
					for _, h := range []afero.File{ws, wb, tr} {
						if err := h.Sync(); err != nil {
							t.Fatal(err)
						}
					}
					if !relAgree(t, name, round, hs) {
						t.Fatalf("round %d (seed %d): write-through %d bytes at %d, buffered %d at %d, Truncate(%d)",
							round, seed, wsLen, wsOff, wbLen, wbOff, cut)
					}
					// Grow the file back for the next round.
					if fi, _ := os.Stat(name); fi.Size() < span {
						if err := tr.Truncate(span); err != nil {
							t.Fatal(err)
						}
					}
				}
			})
		}
	})
}
