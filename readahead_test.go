package aiofs

import (
	"slices"
	"testing"
)

// The readahead policy, read by read: which windows each read asks for.
// The end-to-end tests in prefetch_test.go check that windows are loaded
// and used; these check the sequences themselves.

const (
	kib = 1 << 10
	mib = 1 << 20
)

// A policyRead is one read given to the policy and the windows it must
// ask for (nil for none); random says whether the policy must take it
// for a read that belongs to no stream.
type policyRead struct {
	off    int64
	length int
	wins   []window
	random bool
}

func TestReadaheadPolicy(t *testing.T) {
	t.Parallel()
	big := fileView{size: 1 << 30, maxWindow: 2 * mib, smallFirst: true}
	tests := []struct {
		name  string
		view  fileView
		reads []policyRead
	}{
		{"a stream from 0 grows its window to the largest", big, []policyRead{
			{off: 0, length: 32 * kib, wins: []window{{0, 256 * kib}}},
			{off: 32 * kib, length: 32 * kib},
			{off: 64 * kib, length: 32 * kib, wins: []window{{256 * kib, 768 * kib}}},
			{off: 96 * kib, length: 160 * kib},
			{off: 256 * kib, length: 32 * kib, wins: []window{{768 * kib, 1792 * kib}}},
			{off: 288 * kib, length: 480 * kib},
			{off: 768 * kib, length: 32 * kib, wins: []window{{1792 * kib, 3840 * kib}}},
			{off: 800 * kib, length: 992 * kib},
			{off: 1792 * kib, length: 32 * kib, wins: []window{{3840 * kib, 5888 * kib}}},
		}},
		{"random reads start nothing", big, []policyRead{
			{off: 10 * mib, length: 4 * kib, random: true},
			{off: 50 * mib, length: 4 * kib, random: true},
			{off: 3 * mib, length: 4 * kib, random: true},
		}},
		{"a second contiguous read starts a stream at its own block", big, []policyRead{
			{off: 10*mib + 8*kib, length: 8 * kib, random: true},
			{off: 10*mib + 16*kib, length: 8 * kib, wins: []window{{10 * mib, 10*mib + 256*kib}}},
		}},
		{"a read within a page of the stream continues it", big, []policyRead{
			{off: 0, length: 32 * kib, wins: []window{{0, 256 * kib}}},
			{off: 36 * kib, length: 28 * kib},
			{off: 64 * kib, length: 32 * kib, wins: []window{{256 * kib, 768 * kib}}},
		}},
		{"a rewind to 0 early in a stream continues it", big, []policyRead{
			{off: 0, length: 512, wins: []window{{0, 256 * kib}}},
			{off: 0, length: 32 * kib},
		}},
		{"interleaved readers keep streams of their own", big, []policyRead{
			{off: 0, length: 64 * kib, wins: []window{{0, 256 * kib}}},
			{off: 100 * mib, length: 64 * kib, random: true},
			{off: 100*mib + 64*kib, length: 64 * kib, wins: []window{{100*mib + 64*kib, 100*mib + 320*kib}}},
			{off: 64 * kib, length: 64 * kib, wins: []window{{256 * kib, 768 * kib}}},
			{off: 100*mib + 128*kib, length: 64 * kib, wins: []window{{100*mib + 320*kib, 100*mib + 832*kib}}},
		}},
		{"windows end at the end of the file", fileView{size: 300 * kib, maxWindow: 2 * mib}, []policyRead{
			{off: 0, length: 32 * kib, wins: []window{{0, 256 * kib}}},
			{off: 32 * kib, length: 32 * kib},
			{off: 64 * kib, length: 32 * kib, wins: []window{{256 * kib, 300 * kib}}},
			{off: 96 * kib, length: 160 * kib},
			{off: 256 * kib, length: 32 * kib},
		}},
		{"a small file asks no first window on the OS", fileView{size: 100 * kib, maxWindow: 2 * mib, smallFirst: true}, []policyRead{
			{off: 0, length: 32 * kib},
			{off: 32 * kib, length: 32 * kib},
		}},
		{"but does over a base", fileView{size: 100 * kib, maxWindow: 2 * mib}, []policyRead{
			{off: 0, length: 32 * kib, wins: []window{{0, 100 * kib}}},
		}},
		{"a large first read asks for four times its size", big, []policyRead{
			{off: 0, length: 256 * kib, wins: []window{{0, mib}}},
		}},
		{"the window never passes the largest", fileView{size: 1 << 30, maxWindow: 128 * kib}, []policyRead{
			{off: 0, length: 32 * kib, wins: []window{{0, 128 * kib}}},
			{off: 32 * kib, length: 32 * kib},
			{off: 64 * kib, length: 32 * kib, wins: []window{{128 * kib, 256 * kib}}},
			{off: 96 * kib, length: 32 * kib},
			{off: 128 * kib, length: 32 * kib, wins: []window{{256 * kib, 384 * kib}}},
		}},
		{"one read asks for at most maxWindows windows", fileView{size: 1 << 30, maxWindow: 64 * kib}, []policyRead{
			{off: 0, length: 64 * kib, wins: []window{{0, 64 * kib}, {64 * kib, 128 * kib}}},
			{off: 64 * kib, length: 512 * kib, wins: []window{{128 * kib, 192 * kib}, {192 * kib, 256 * kib}, {256 * kib, 320 * kib}, {320 * kib, 384 * kib}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p readaheadPolicy
			for i, r := range tt.reads {
				if random := p.random(r.off, r.length); random != r.random {
					t.Fatalf("read %d at %d: random = %v, want %v", i, r.off, random, r.random)
				}
				if r.random {
					continue
				}
				if wins := p.windows(r.off, r.length, tt.view); !slices.Equal(wins, r.wins) {
					t.Fatalf("read %d at %d+%d: windows %v, want %v", i, r.off, r.length, wins, r.wins)
				}
			}
		})
	}
}

// TestReadaheadPolicyStreamsReplaced: a fifth sequential reader takes the
// place of the one least recently used, whose next read then starts over.
func TestReadaheadPolicyStreamsReplaced(t *testing.T) {
	t.Parallel()
	view := fileView{size: 1 << 30, maxWindow: 2 * mib}
	var p readaheadPolicy
	start := func(off int64) {
		t.Helper()
		if p.random(off, 32*kib) {
			if p.random(off+32*kib, 32*kib) {
				t.Fatalf("contiguous read at %d taken for random", off+32*kib)
			}
			p.windows(off+32*kib, 32*kib, view)
		}
	}
	for i := range maxStreams + 1 {
		start(int64(i+1) * 100 * mib)
	}
	// The first stream is gone: a read where it would continue is random.
	if !p.random(100*mib+64*kib, 32*kib) {
		t.Fatal("the oldest stream was not replaced")
	}
	// The newest is there.
	if p.random(int64(maxStreams+1)*100*mib+64*kib, 32*kib) {
		t.Fatal("the newest stream is missing")
	}
}
