package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
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

func TestJSONHasEveryBackendAndWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs compare")
	}
	exe := buildCompare(t)
	dir := t.TempDir()
	cmd := exec.Command(exe, "-size", "256KiB", "-ops", "64", "-files", "150", "-json", "-dir", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("compare: %v\nstderr:\n%s", err, &stderr)
	}
	t.Logf("stderr:\n%s", &stderr)

	var rep Report
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON document")
	}

	if rep.Size != 256<<10 || rep.Ops != 64 || rep.Files != 150 || rep.Count != 1 {
		t.Errorf("report says size %d, ops %d, files %d; want the flags' values", rep.Size, rep.Ops, rep.Files)
	}
	wantWorkloads := []string{"seqread", "randread-1g", "randread-32g", "write4k-sync", "write1m-sync", "smallfiles", "walk"}
	if strings.Join(rep.Workloads, ",") != strings.Join(wantWorkloads, ",") {
		t.Errorf("workloads %v, want %v", rep.Workloads, wantWorkloads)
	}

	// Every backend runs, except a platform engine that cannot start here
	// (io_uring refused by seccomp, say), which must say why.
	wantBackends := []string{"os", "mem", "aiofs-pool", "aiofs-ra0-wb0"}
	switch runtime.GOOS {
	case "linux":
		wantBackends = append(wantBackends, "aiofs-uring")
	case "freebsd":
		wantBackends = append(wantBackends, "aiofs-kqueue")
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
		case b.Skipped != "" && (name == "os" || name == "mem" || name == "aiofs-pool" || name == "aiofs-ra0-wb0"):
			t.Errorf("backend %s skipped: %s", name, b.Skipped)
		case b.Skipped != "":
			t.Logf("backend %s skipped: %s", name, b.Skipped)
		case strings.HasPrefix(name, "aiofs-") && b.Engine == "":
			t.Errorf("backend %s does not name its engine", name)
		}
	}
	if b := listed["aiofs-pool"]; b.Engine != "pool" {
		t.Errorf("aiofs-pool runs engine %q", b.Engine)
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
	if testing.Short() {
		t.Skip("builds and runs compare")
	}
	exe := buildCompare(t)
	dir := t.TempDir()
	out, err := exec.Command(exe, "-size", "64KiB", "-ops", "16", "-files", "20", "-q", "-count", "3",
		"-backends", "os,aiofs-pool", "-workloads", "seqread,walk", "-dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("compare: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"workload", "vs os", "seqread", "walk", "aiofs-pool", "1.00x", "-count 3"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"randread", "mem", "compare:"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("output has %q despite the filters and -q:\n%s", unwanted, text)
		}
	}
	emptyDir(t, dir)

	for _, args := range [][]string{{"-size", "lots"}, {"-files", "0"}, {"-count", "0"}, {"extra"}} {
		err := exec.Command(exe, append(args, "-dir", dir)...).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit status 2", args, err)
		}
	}
	emptyDir(t, dir)
}

func TestColdSaysWhenItCannot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs compare")
	}
	exe := buildCompare(t)
	dir := t.TempDir()
	cmd := exec.Command(exe, "-size", "64KiB", "-ops", "16", "-files", "10", "-json", "-cold",
		"-backends", "os", "-workloads", "seqread", "-dir", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("compare: %v\n%s", err, &stderr)
	}
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
			t.Errorf("dropping failed (%s) but stderr does not say so:\n%s", rep.ColdNote, &stderr)
		}
	}
	emptyDir(t, dir)
}

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
	cmd := exec.Command(exe, "-size", "64MiB", "-ops", "1000000", "-files", "200", "-dir", dir)
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
		if strings.Contains(sc.Text(), "[ 1/") { // a run finished: inputs exist, the second is going
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
