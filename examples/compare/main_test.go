package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiofs/aiofs/internal/sftptest"
)

var built struct {
	once sync.Once
	dir  string
	exe  string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildCompare builds the command once for all tests.
func buildCompare(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(gobin); err != nil {
			t.Skip("no go command to build compare with")
		}
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "compare-test-")
		if built.err != nil {
			return
		}
		built.exe = filepath.Join(built.dir, "compare")
		if runtime.GOOS == "windows" {
			built.exe += ".exe"
		}
		built.out, built.err = exec.Command(gobin, "build", "-o", built.exe, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.exe
}

// emptyDir fails the test if dir holds anything.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		t.Errorf("left behind in -dir: %s", de.Name())
	}
}

// runCompare builds compare, skipping the test in -short mode, and runs
// it with args and -dir, a new directory; it fails the test if compare
// fails, and returns compare's stdout and stderr, and the directory.
func runCompare(t *testing.T, args ...string) (stdout, stderr *bytes.Buffer, dir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs compare")
	}
	exe := buildCompare(t)
	dir = t.TempDir()
	args = append(args, "-dir", dir)
	cmd := exec.Command(exe, args...)
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("compare %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout, stderr)
	}
	return stdout, stderr, dir
}

func TestJSONHasEveryBackendAndWorkload(t *testing.T) {
	// Warm: dropping the page cache dozens of times would slow everything
	// else on the machine.
	stdout, stderr, dir := runCompare(t, "-size", "256KiB", "-ops", "64", "-files", "150", "-json", "-cold=false", "-delay", "200us")
	t.Logf("stderr:\n%s", stderr)

	var rep Report
	dec := json.NewDecoder(stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON document")
	}

	if rep.Size != 256<<10 || rep.Ops != 64 || rep.Files != 150 || rep.Count != 3 {
		t.Errorf("report says size %d, ops %d, files %d, count %d; want the flags' values and -count 3",
			rep.Size, rep.Ops, rep.Files, rep.Count)
	}
	if strings.Contains(stderr.String(), countNote) {
		t.Errorf("the default -count warns about single runs:\n%s", stderr)
	}
	wantWorkloads := []string{"seqread", "randread-1g", "randread-32g", "write4k-sync", "write1m-sync", "smallfiles", "walk"}
	if strings.Join(rep.Workloads, ",") != strings.Join(wantWorkloads, ",") {
		t.Errorf("workloads %v, want %v", rep.Workloads, wantWorkloads)
	}

	// The default backends run, except a platform engine that cannot
	// start here (io_uring refused by seccomp, say) and the s3 store when
	// weed is not built, which must say why. The others run on request.
	wantBackends := []string{"os", "sftp", "sftp-wrapped", "s3", "s3-wrapped"}
	switch runtime.GOOS {
	case "linux":
		wantBackends = append(wantBackends, "aiofs-uring")
	case "freebsd":
		wantBackends = append(wantBackends, "aiofs-kqueue")
	default:
		wantBackends = append(wantBackends, "aiofs-pool")
	}
	running := map[string]bool{}
	listed := map[string]BackendInfo{}
	for _, b := range rep.Backends {
		listed[b.Name] = b
		if b.Skipped == "" {
			running[b.Name] = true
		}
	}
	for _, name := range wantBackends {
		b, ok := listed[name]
		switch {
		case !ok:
			t.Errorf("backend %s missing from the report", name)
		case b.Skipped != "" && (name == "os" || strings.HasPrefix(name, "sftp")):
			t.Errorf("backend %s skipped: %s", name, b.Skipped)
		case b.Skipped != "" && strings.HasPrefix(name, "s3") && os.Getenv("CI") == "true":
			t.Errorf("backend %s skipped in CI, where weed is built: %s", name, b.Skipped)
		case b.Skipped != "":
			t.Logf("backend %s skipped: %s", name, b.Skipped)
		case strings.HasPrefix(name, "aiofs-") && b.Engine == "":
			t.Errorf("backend %s does not name its engine", name)
		}
	}
	for _, name := range []string{"sftp-wrapped", "s3-wrapped"} {
		if b := listed[name]; b.Skipped == "" && b.Engine != "wrap" {
			t.Errorf("%s runs engine %q, want wrap", name, b.Engine)
		}
	}
	for _, name := range []string{"mem", "mem-wrapped", "aiofs-ra0-wb0"} {
		if _, ok := listed[name]; ok {
			t.Errorf("backend %s runs by default", name)
		}
	}

	rows := map[[2]string]Row{}
	for _, r := range rep.Rows {
		key := [2]string{r.Backend, r.Workload}
		if _, dup := rows[key]; dup {
			t.Errorf("two rows for %s on %s", r.Workload, r.Backend)
		}
		rows[key] = r
	}
	for name := range running {
		for _, w := range wantWorkloads {
			r, ok := rows[[2]string{name, w}]
			if !ok {
				t.Errorf("no row for %s on %s", w, name)
				continue
			}
			if r.Skipped != "" {
				continue // Sync workloads on a server without fsync
			}
			if r.Error != "" {
				t.Errorf("%s on %s: %s", w, name, r.Error)
				continue
			}
			if r.Ops <= 0 || r.Seconds <= 0 || r.OpsPerSec <= 0 || r.P50Micros <= 0 || r.P99Micros < r.P50Micros {
				t.Errorf("%s on %s: implausible row %+v", w, name, r)
			}
			if w != "walk" && r.Bytes <= 0 {
				t.Errorf("%s on %s: no bytes moved: %+v", w, name, r)
			}
			if name == "os" && r.VsOs != 1 {
				t.Errorf("%s on os: vs_os %v, want 1", w, r.VsOs)
			}
			if r.VsOs <= 0 {
				t.Errorf("%s on %s: no ratio to os", w, name)
			}
			if r.Runs != 3 || len(r.RunSeconds) != 3 || len(r.RunOpsPerSec) != 3 || len(r.VsOsRuns) != 3 {
				t.Errorf("%s on %s: %d runs, %d run times, %d run ops/s, %d paired ratios; want 3 each",
					w, name, r.Runs, len(r.RunSeconds), len(r.RunOpsPerSec), len(r.VsOsRuns))
			}
			if !slices.Contains(r.RunSeconds, r.Seconds) || r.Spread < 0 || r.VsOsSpread < 0 {
				t.Errorf("%s on %s: the row is not one of its runs, or a spread is negative: %+v", w, name, r)
			}
			if name == "os" && (r.WithinNoise || r.VsOsSpread != 0) {
				t.Errorf("%s on os: compared with itself it is noisy: %+v", w, r)
			}
			if wantBase := map[string]string{"sftp-wrapped": "sftp", "s3-wrapped": "s3"}[name]; r.Base != wantBase ||
				(wantBase != "") != (r.VsBase > 0) || (wantBase != "") != (len(r.VsBaseRuns) == 3) {
				t.Errorf("%s on %s: base %q, vs base %v, %d paired ratios; want base %q", w, name, r.Base, r.VsBase, len(r.VsBaseRuns), wantBase)
			}
		}
	}
	if r := rows[[2]string{"os", "seqread"}]; r.Bytes != 256<<10 {
		t.Errorf("seqread on os read %d bytes, want %d", r.Bytes, 256<<10)
	}
	if r := rows[[2]string{"os", "randread-32g"}]; r.Ops != 64 {
		t.Errorf("randread-32g on os: %d ops, want 64", r.Ops)
	}
	emptyDir(t, dir)
}

func TestTableAndFilters(t *testing.T) {
	stdout, stderr, dir := runCompare(t, "-size", "64KiB", "-ops", "16", "-files", "20", "-q", "-count", "4",
		"-backends", "os,aiofs-pool", "-workloads", "seqread,walk", "-cold=false")
	text := stdout.String()
	for _, want := range []string{"workload", "vs os", "seqread", "walk", "aiofs-pool", "1.00x", "-count 4",
		"median of 4 runs", "±"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"randread", "mem", "compare:"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("table has %q despite the filters:\n%s", unwanted, text)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" && !strings.HasPrefix(line, "compare: warning: ") {
			t.Errorf("-q lets through %q", line)
		}
	}
	emptyDir(t, dir)

	exe := buildCompare(t)
	for _, args := range [][]string{{"-size", "lots"}, {"-files", "0"}, {"-count", "0"}, {"extra"},
		{"-remote-size", "1K"}, {"-delay", "-1ms"}, {"-sftp-server", "ftp"}} {
		err := exec.Command(exe, append(args, "-dir", dir)...).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit status 2", args, err)
		}
	}
	for _, args := range [][]string{{"-backends", "os,nfs"}, {"-workloads", "seqwrite"}} {
		out, err := exec.Command(exe, append(args, "-dir", dir)...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "there are ") {
			t.Errorf("%v: %v, want exit status 1 and the names there are; output:\n%s", args, err, out)
		}
	}
	emptyDir(t, dir)
}

func TestColdSaysWhenItCannot(t *testing.T) {
	stdout, stderr, dir := runCompare(t, "-size", "64KiB", "-ops", "16", "-files", "10", "-json", "-cold",
		"-backends", "os", "-workloads", "seqread")
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rep.Rows))
	}
	if rep.ColdNote == "" {
		// Dropping worked: the row says so.
		if !rep.Rows[0].Cold {
			t.Errorf("the page cache could be dropped, but the row is not marked cold")
		}
	} else {
		if rep.Rows[0].Cold || !strings.Contains(stderr.String(), "cannot drop the page cache") {
			t.Errorf("dropping failed (%s) but stderr does not say so:\n%s", rep.ColdNote, stderr)
		}
	}
	emptyDir(t, dir)
}

var firstRun = regexp.MustCompile(`^compare: \[ *1/\d+\] `)

// TestInterruptCleansUp sends SIGINT during a run and checks that the work
// files are gone.
func TestInterruptCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs compare")
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	exe := buildCompare(t)
	dir := t.TempDir()
	// Enough work that it is still running when interrupted.
	cmd := exec.Command(exe, "-size", "64MiB", "-ops", "1000000", "-files", "200", "-backends", "os,mem", "-cold=false", "-dir", dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if firstRun.MatchString(sc.Text()) { // a run finished: inputs exist, the second is going
			break
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) == 0 {
		t.Fatalf("no work directory in -dir while running; stderr:\n%s", strings.Join(lines, "\n"))
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	go func() {
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("exit after SIGINT: %v, want status 130", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("compare still running 20s after SIGINT")
	}
	emptyDir(t, dir)
}

// progressLine is a progress line on stderr: run, workload, round, backend.
var progressLine = regexp.MustCompile(`^compare: \[ *\d+/\d+\] (\S+) +run (\d+)/(\d+) +(\S+) `)

// TestRoundsRotateBackends checks from the progress lines that every cell
// runs -count times and that round i visits the backends rotated by i.
func TestRoundsRotateBackends(t *testing.T) {
	backends := []string{"os", "mem", "aiofs-pool"}
	ws := []string{"smallfiles", "walk"}
	_, stderr, dir := runCompare(t, "-size", "64KiB", "-ops", "16", "-files", "20", "-count", "3",
		"-backends", strings.Join(backends, ","), "-workloads", strings.Join(ws, ","), "-cold=false")
	var got, want []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if m := progressLine.FindStringSubmatch(line); m != nil {
			got = append(got, m[1]+" round "+m[2]+"/"+m[3]+" "+m[4])
		}
	}
	for _, w := range ws {
		for i := range 3 {
			for j := range backends {
				want = append(want, w+" round "+strconv.Itoa(i+1)+"/3 "+backends[(i+j)%len(backends)])
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("runs in the order\n%s\nwant\n%s\nstderr:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), stderr)
	}
	emptyDir(t, dir)
}

func TestCountOneWarns(t *testing.T) {
	stdout, stderr, dir := runCompare(t, "-size", "64KiB", "-ops", "16", "-files", "20", "-count", "1", "-q",
		"-backends", "os,aiofs-pool", "-workloads", "walk", "-cold=false")
	if !strings.Contains(stderr.String(), "warning: "+countNote) {
		t.Errorf("-count 1 does not warn on stderr:\n%s", stderr)
	}
	if !strings.Contains(stdout.String(), countNote) {
		t.Errorf("-count 1 does not say so above the table:\n%s", stdout)
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.Contains(line, "aiofs-pool") && strings.ContainsAny(line, "±~") {
			t.Errorf("a single run shows a spread or a noise mark: %q", line)
		}
	}
	emptyDir(t, dir)
}

// runSFTP runs compare on the sftp backends beside os and returns the
// report and stderr.
func runSFTP(t *testing.T, server string, args ...string) (Report, string) {
	t.Helper()
	stdout, stderr, dir := runCompare(t, append([]string{"-size", "256KiB", "-remote-size", "64KiB", "-ops", "16", "-files", "20", "-count", "2",
		"-json", "-sftp-server", server, "-delay", "200us", "-backends", "os,sftp,sftp-wrapped", "-cold=false"}, args...)...)
	var rep Report
	dec := json.NewDecoder(stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	emptyDir(t, dir)
	return rep, stderr.String()
}

// checkSFTPRows checks the rows of the sftp backends: all there, at the
// remote store's sizes, sftp-wrapped compared with sftp, and the Sync
// workloads skipped exactly when noSync.
func checkSFTPRows(t *testing.T, rep Report, noSync bool) {
	t.Helper()
	var store *StoreInfo
	for i, s := range rep.Stores {
		if s.Name == "sftp" {
			store = &rep.Stores[i]
		}
	}
	if store == nil || store.Size != 64<<10 || store.Ops != 16 || store.Files != 20 || store.About == "" {
		t.Fatalf("sftp store %+v: want size 64 KiB (capped by -remote-size), ops 16, files 20 and what serves it", store)
	}
	if (store.NoSync != "") != noSync {
		t.Errorf("sftp store: no_sync %q, want it set: %v", store.NoSync, noSync)
	}
	n := 0
	for _, r := range rep.Rows {
		if r.Backend != "sftp" && r.Backend != "sftp-wrapped" {
			continue
		}
		n++
		if strings.HasSuffix(r.Workload, "-sync") && noSync {
			if r.Skipped == "" || r.Runs != 0 {
				t.Errorf("%s on %s: ran, or not marked skipped: %+v", r.Workload, r.Backend, r)
			}
			continue
		}
		if r.Skipped != "" || r.Error != "" || r.Runs != 2 || r.VsOs <= 0 {
			t.Errorf("%s on %s: %+v", r.Workload, r.Backend, r)
			continue
		}
		if r.Workload == "seqread" && r.Bytes != 64<<10 {
			t.Errorf("seqread on %s read %d bytes, want the remote store's 64 KiB", r.Backend, r.Bytes)
		}
		if wrapped := r.Backend == "sftp-wrapped"; wrapped != (r.Base == "sftp") || wrapped != (r.VsBase > 0) {
			t.Errorf("%s on %s: base %q, vs base %v", r.Workload, r.Backend, r.Base, r.VsBase)
		}
	}
	if n != 2*len(rep.Workloads) {
		t.Errorf("%d rows of the sftp backends, want %d", n, 2*len(rep.Workloads))
	}
	for _, r := range rep.Rows {
		if r.Backend == "os" && r.Workload == "seqread" && r.Bytes != 256<<10 {
			t.Errorf("seqread on os read %d bytes: the remote cap changed the local size", r.Bytes)
		}
	}
}

// TestSFTPInProcess runs the sftp backends against pkg/sftp's server in
// process, which runs everywhere and has no fsync@openssh.com.
func TestSFTPInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs compare")
	}
	rep, stderr := runSFTP(t, "inprocess")
	checkSFTPRows(t, rep, true)
	if !strings.Contains(stderr, "warning: Sync fails on the sftp store") {
		t.Errorf("stderr does not say the Sync workloads are skipped:\n%s", stderr)
	}
}

// TestSFTPSSHD runs them against OpenSSH's sshd, where Sync works.
func TestSFTPSSHD(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs compare")
	}
	srv, err := sftptest.StartSSHD(t.TempDir())
	if err != nil {
		sftptest.SkipOrFatal(t, err)
	}
	srv.Close()
	rep, _ := runSFTP(t, "sshd", "-workloads", "seqread,write4k-sync,walk")
	checkSFTPRows(t, rep, false)
}
