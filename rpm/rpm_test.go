package rpm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/dwarf"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
)

const (
	name = "atomic-selftest"
	// maxBinarySize is the bound on the host binary in the RPM.
	maxBinarySize = 25_000_000
	// buildTimeout bounds the whole build: sources, SRPM, binary RPMs
	// with %check, rpmlint. It takes about a minute with a warm Go cache.
	buildTimeout = 10 * time.Minute
)

// top is the checkout the tests build from.
func top(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func version(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(top(t), "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// run runs argv with a bound and returns stdout; stderr goes into the
// error (and, on success, to the test log when verbose).
func run(t *testing.T, timeout time.Duration, dir string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		tail := stderr.String()
		if len(tail) > 8000 {
			tail = "…" + tail[len(tail)-8000:]
		}
		return stdout.String(), fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, tail)
	}
	return stdout.String(), nil
}

func mustRun(t *testing.T, timeout time.Duration, dir string, argv ...string) string {
	t.Helper()
	out, err := run(t, timeout, dir, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tarEntry is one member of a source archive.
type tarEntry struct {
	name     string
	mode     int64
	uid, gid int
	uname    string
	mtime    time.Time
	data     []byte
}

func readTarGz(t *testing.T, path string) []tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("%s: gzip header carries name %q and time %v, want neither", path, zr.Name, zr.ModTime)
	}
	tr := tar.NewReader(zr)
	var entries []tarEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, tarEntry{h.Name, h.Mode, h.Uid, h.Gid, h.Uname, h.ModTime, data})
	}
	return entries
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// makeSources runs rpm/sources.sh into a new directory.
func makeSources(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	mustRun(t, 5*time.Minute, top(t), "rpm/sources.sh", out)
	return out
}

// licenceFile reports whether a vendored file is a licence the spec ships.
var licenceFile = regexp.MustCompile(`^(LICENSE|LICENCE|COPYING|NOTICE|PATENTS)`)

// The source and vendor archives are byte-identical when made twice, hold
// the tree under NAME-VERSION/ and the modules under vendor/, and carry no
// owner, name or time of the machine that made them.
func TestSourcesReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: makes the archives from the git checkout with go mod vendor")
	}
	testutil.NeedCommand(t, "git", "git")
	testutil.NeedCommand(t, "go", "go")
	v := version(t)
	a, b := makeSources(t), makeSources(t)
	src := fmt.Sprintf("%s-%s.tar.gz", name, v)
	vendor := fmt.Sprintf("%s-%s-vendor.tar.gz", name, v)
	for _, f := range []string{src, vendor, "VERSION"} {
		if sha(t, filepath.Join(a, f)) != sha(t, filepath.Join(b, f)) {
			t.Errorf("%s differs between two runs of rpm/sources.sh", f)
		}
	}

	epoch, err := run(t, time.Minute, top(t), "git", "log", "-1", "--format=%ct")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(epoch), 10, 64)
	if err != nil {
		t.Fatalf("HEAD commit time %q: %v", epoch, err)
	}
	want := time.Unix(sec, 0)
	check := func(archive, prefix string, entries []tarEntry, must ...string) {
		have := map[string]bool{}
		for _, e := range entries {
			have[e.name] = true
			if !strings.HasPrefix(e.name, prefix) {
				t.Errorf("%s: %s is outside %s", archive, e.name, prefix)
			}
			if e.uid != 0 || e.gid != 0 || e.uname != "" {
				t.Errorf("%s: %s is owned by %d(%q):%d, want 0:0 without names", archive, e.name, e.uid, e.uname, e.gid)
			}
			if !e.mtime.Equal(want) {
				t.Errorf("%s: %s has mtime %v, want the HEAD commit's %v", archive, e.name, e.mtime, want)
			}
			if e.mode&0o022 != 0 {
				t.Errorf("%s: %s has mode %o, writable by group or others", archive, e.name, e.mode)
			}
		}
		for _, m := range must {
			if !have[m] {
				t.Errorf("%s lacks %s", archive, m)
			}
		}
	}
	p := fmt.Sprintf("%s-%s/", name, v)
	check(src, p, readTarGz(t, filepath.Join(a, src)),
		p+"VERSION", p+"go.mod", p+"go.sum", p+name+".spec", p+"LICENSE",
		p+"units/atomic-selftest.service", p+"dist/config.d/00-defaults.toml", p+"cmd/atomic-selftest/main.go")
	ventries := readTarGz(t, filepath.Join(a, vendor))
	check(vendor, "vendor/", ventries, "vendor/modules.txt")

	// Every module go.mod requires is vendored.
	var modtxt string
	for _, e := range ventries {
		if e.name == "vendor/modules.txt" {
			modtxt = string(e.data)
		}
	}
	gomod, err := os.ReadFile(filepath.Join(top(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	req := regexp.MustCompile(`(?m)^\s+([a-z0-9.\-]+/\S+) (v\S+)(\s|$)`)
	for _, m := range req.FindAllStringSubmatch(string(gomod), -1) {
		if !strings.Contains(modtxt, "# "+m[1]+" "+m[2]) {
			t.Errorf("vendor/modules.txt lacks %s %s", m[1], m[2])
		}
	}
}

// built is one run of rpm/build.sh.
type built struct {
	out     string // the output directory
	srpm    string
	rpms    map[string]string // package name -> path
	version string
	release string
	arch    string
	outer   bool // the outer driver's subpackage was built
	// vendorLicences are the licence files under vendor/ in Source1.
	vendorLicences []string
	// docs are the documentation files the spec ships.
	docs []string
}

// rpmDirEnv names the output directory of a finished rpm/build.sh run
// (with rpmlint) of this checkout. scripts/test.sh builds the RPMs once and
// sets it, so that this suite and the VM suite check and install the same
// files instead of building twice.
const rpmDirEnv = "ATOMIC_SELFTEST_RPM_DIR"

// build runs rpm/build.sh once into a temporary output directory, or
// takes the RPMs in $ATOMIC_SELFTEST_RPM_DIR.
func build(t *testing.T) *built {
	t.Helper()
	for _, c := range []string{"rpmbuild", "rpm", "rpmlint", "unshare", "find-debuginfo", "eu-strip",
		"systemd-analyze", "systemd-tmpfiles", "systemctl"} {
		testutil.NeedCommand(t, "rpm", c)
	}
	testutil.NeedCommand(t, "git", "git")
	testutil.NeedRoot(t)

	b := &built{out: os.Getenv(rpmDirEnv), rpms: map[string]string{}, version: version(t)}
	var stdout string
	if b.out == "" {
		b.out = t.TempDir()
		start := time.Now()
		stdout = mustRun(t, buildTimeout, top(t), "rpm/build.sh", "--outdir", b.out)
		t.Logf("rpm/build.sh took %s", time.Since(start).Round(time.Second))
	} else {
		// What build.sh prints is every .rpm it leaves in its output
		// directory (it removes its older ones first).
		files, err := filepath.Glob(filepath.Join(b.out, "*.rpm"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s=%s: no RPMs there (%v); it must be an rpm/build.sh --outdir", rpmDirEnv, b.out, err)
		}
		stdout = strings.Join(files, "\n")
		t.Logf("the RPMs of %s=%s", rpmDirEnv, b.out)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if filepath.Dir(line) != b.out {
			t.Fatalf("rpm/build.sh printed %q, not a path in %s", line, b.out)
		}
		if strings.HasSuffix(line, ".src.rpm") {
			b.srpm = line
			continue
		}
		n := strings.TrimSpace(mustRun(t, time.Minute, "", "rpm", "-qp", "--qf", "%{NAME}", line))
		b.rpms[n] = line
	}
	if b.srpm == "" {
		t.Fatalf("rpm/build.sh printed no source RPM:\n%s", stdout)
	}
	main := b.rpms[name]
	if main == "" {
		t.Fatalf("rpm/build.sh printed no %s RPM:\n%s", name, stdout)
	}
	f := strings.Fields(mustRun(t, time.Minute, "", "rpm", "-qp", "--qf", "%{VERSION} %{RELEASE} %{ARCH}", main))
	if f[0] != b.version {
		t.Errorf("RPM version %s, VERSION file says %s", f[0], b.version)
	}
	b.release, b.arch = f[1], f[2]

	entries, err := filepath.Glob(filepath.Join(top(t), "cmd", name+"-outer", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	b.outer = len(entries) > 0

	// What the spec derives from the tree: the vendored licences, made
	// again here from the same checkout.
	src := makeSources(t)
	for _, e := range readTarGz(t, filepath.Join(src, fmt.Sprintf("%s-%s-vendor.tar.gz", name, b.version))) {
		if e.mode&0o170000 != 0o040000 && !strings.HasSuffix(e.name, "/") && licenceFile.MatchString(filepath.Base(e.name)) {
			b.vendorLicences = append(b.vendorLicences, e.name)
		}
	}
	if len(b.vendorLicences) == 0 {
		t.Fatal("Source1 has no licence file")
	}
	// The units link file:///usr/share/doc/atomic-selftest/README.md.
	b.docs = []string{"README.md"}
	return b
}

// fileLine is one file of a package as the tests compare it.
func fileLines(t *testing.T, rpmPath string) []string {
	t.Helper()
	out := mustRun(t, time.Minute, "", "rpm", "-qp", "--qf",
		"[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]", rpmPath)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(lines)
	return lines
}

// licenceTree lists the licence directory of package pkg: ours, modules.txt
// and each vendored licence under its module path, with every directory.
func (b *built) licenceTree(pkg string) []string {
	base := "/usr/share/licenses/" + pkg
	files := append([]string{"LICENSE", "vendor/modules.txt"}, b.vendorLicences...)
	dirs := map[string]bool{base: true}
	var lines []string
	for _, f := range files {
		lines = append(lines, "-rw-r--r-- root:root "+base+"/"+f)
		for d := filepath.Dir(f); d != "."; d = filepath.Dir(d) {
			dirs[base+"/"+d] = true
		}
	}
	for d := range dirs {
		lines = append(lines, "drwxr-xr-x root:root "+d)
	}
	return lines
}

// buildID reads the GNU build-id of an ELF file.
func buildID(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".note.gnu.build-id")
	if s == nil {
		t.Fatalf("%s has no .note.gnu.build-id: debuginfo extraction needs one", path)
	}
	data, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	// Elf64_Nhdr: namesz, descsz, type, then "GNU\0" and the id.
	if len(data) < 16 {
		t.Fatalf("%s: short build-id note", path)
	}
	namesz := f.ByteOrder.Uint32(data[0:4])
	descsz := f.ByteOrder.Uint32(data[4:8])
	off := 12 + (namesz+3)&^3
	return hex.EncodeToString(data[off : off+descsz])
}

// extract unpacks an RPM's payload into a new directory with rpm2cpio and
// cpio, without rpm's database.
func extract(t *testing.T, rpmPath string) string {
	t.Helper()
	dir := t.TempDir()
	testutil.NeedCommand(t, "rpm", "rpm2cpio")
	testutil.NeedCommand(t, "rpm", "cpio")
	cpio := filepath.Join(t.TempDir(), "payload.cpio")
	f, err := os.Create(cpio)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("rpm2cpio", rpmPath)
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		t.Fatalf("rpm2cpio %s: %v", rpmPath, err)
	}
	f.Close()
	mustRun(t, time.Minute, dir, "cpio", "-idm", "--quiet", "-F", cpio)
	return dir
}

// assertStatic fails unless path is an ELF executable that needs no
// interpreter and no shared library.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC {
		t.Errorf("%s is ELF type %v, want a static ET_EXEC", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: not static", path, p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("%s needs shared libraries (DT_NEEDED): %v", path, libs)
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Errorf("%s has a .dynamic section", path)
	}
}

// The whole package as a user receives it: built offline from the SRPM,
// linted, installed into an empty root and checked with the tools the host
// uses.
func TestRPM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the RPMs with rpmbuild (about a minute)")
	}
	b := build(t)
	main := b.rpms[name]
	nvra := fmt.Sprintf("%s-%s-%s.%s", name, b.version, b.release, b.arch)

	t.Run("packages", func(t *testing.T) {
		want := []string{name, name + "-debuginfo", name + "-debugsource"}
		if b.outer {
			want = append(want, name+"-outer", name+"-outer-debuginfo")
		}
		var got []string
		for n := range b.rpms {
			got = append(got, n)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("binary RPMs %v, want %v", got, want)
		}
		srcFiles := strings.Fields(mustRun(t, time.Minute, "", "rpm", "-qlp", b.srpm))
		sort.Strings(srcFiles)
		wantSrc := []string{"VERSION", fmt.Sprintf("%s-%s-vendor.tar.gz", name, b.version),
			fmt.Sprintf("%s-%s.tar.gz", name, b.version), name + ".spec"}
		sort.Strings(wantSrc)
		if strings.Join(srcFiles, " ") != strings.Join(wantSrc, " ") {
			t.Errorf("source RPM holds %v, want %v", srcFiles, wantSrc)
		}
	})

	// rpm -qlp lists exactly the expected files with the expected modes.
	t.Run("files", func(t *testing.T) {
		bin := filepath.Join(extract(t, main), "usr/bin", name)
		id := buildID(t, bin)
		want := []string{
			"-rwxr-xr-x root:root /usr/bin/atomic-selftest",
			"-rw-r--r-- root:root /usr/lib/systemd/system/atomic-selftest.service",
			"-rw-r--r-- root:root /usr/lib/systemd/system/atomic-selftest-deployment.service",
			"-rw-r--r-- root:root /usr/lib/systemd/system/atomic-selftest-deployment.path",
			"-rw-r--r-- root:root /usr/lib/systemd/system/atomic-selftest-deadline.timer",
			"-rw-r--r-- root:root /usr/lib/systemd/system/atomic-selftest-deadline.service",
			"-rw-r--r-- root:root /usr/lib/systemd/system-preset/80-atomic-selftest.preset",
			"-rw-r--r-- root:root /usr/lib/tmpfiles.d/atomic-selftest.conf",
			"drwxr-xr-x root:root /usr/lib/atomic-selftest",
			"drwxr-xr-x root:root /usr/lib/atomic-selftest/config.d",
			"-rw-r--r-- root:root /usr/lib/atomic-selftest/config.d/00-defaults.toml",
			// The opt-in boot-complete.target gate, a drop-in to copy.
			"-rw-r--r-- root:root /usr/lib/atomic-selftest/boot-complete.conf",
			"drwxr-xr-x root:root /etc/atomic-selftest",
			"drwxr-xr-x root:root /etc/atomic-selftest/config.d",
			// Generated from the CLI's flags (dist/man, dist/completion);
			// brp-compress gzips the man page.
			"-rw-r--r-- root:root /usr/share/man/man8/atomic-selftest.8.gz",
			"-rw-r--r-- root:root /usr/share/bash-completion/completions/atomic-selftest",
			"-rw-r--r-- root:root /usr/share/zsh/site-functions/_atomic-selftest",
			// The run record's JSON Schema (dist/schema, generated from
			// selftest/record's types).
			"drwxr-xr-x root:root /usr/share/atomic-selftest",
			"drwxr-xr-x root:root /usr/share/atomic-selftest/schema",
			"-rw-r--r-- root:root /usr/share/atomic-selftest/schema/run-record.schema.json",
			// The fleet view's rules, their unit tests and the dashboard
			// (dist/prometheus, docs/fleet.md).
			"drwxr-xr-x root:root /usr/share/atomic-selftest/prometheus",
			"-rw-r--r-- root:root /usr/share/atomic-selftest/prometheus/atomic-selftest.rules.yml",
			"-rw-r--r-- root:root /usr/share/atomic-selftest/prometheus/atomic-selftest.rules.test.yml",
			"drwxr-xr-x root:root /usr/share/atomic-selftest/grafana",
			"-rw-r--r-- root:root /usr/share/atomic-selftest/grafana/atomic-selftest-fleet.dashboard.json",
			// find-debuginfo's link from the build-id to the binary.
			"drwxr-xr-x root:root /usr/lib/.build-id",
			"drwxr-xr-x root:root /usr/lib/.build-id/" + id[:2],
			"lrwxrwxrwx root:root /usr/lib/.build-id/" + id[:2] + "/" + id[2:],
			"drwxr-xr-x root:root /usr/share/doc/atomic-selftest",
		}
		for _, d := range b.docs {
			want = append(want, "-rw-r--r-- root:root /usr/share/doc/atomic-selftest/"+d)
		}
		want = append(want, b.licenceTree(name)...)
		sort.Strings(want)
		got := fileLines(t, main)
		if diff := lineDiff(want, got); diff != "" {
			t.Errorf("rpm -qlp %s differs from the expected files (- missing, + unexpected):\n%s", filepath.Base(main), diff)
		}
		// The installed schema is the committed one.
		schema := filepath.Join(extract(t, main), "usr/share/atomic-selftest/schema/run-record.schema.json")
		if inst, err := os.ReadFile(schema); err != nil {
			t.Error(err)
		} else if committed, err := os.ReadFile("../dist/schema/run-record.schema.json"); err != nil || !bytes.Equal(inst, committed) {
			t.Errorf("%s is not dist/schema/run-record.schema.json (%v)", schema, err)
		}
		for _, l := range got {
			if strings.Contains(l, " /var/") {
				t.Errorf("%s ships %s: /var must come from tmpfiles.d", filepath.Base(main), l)
			}
		}

		if b.outer {
			outer := b.rpms[name+"-outer"]
			obin := filepath.Join(extract(t, outer), "usr/bin", name+"-outer")
			oid := buildID(t, obin)
			want := append([]string{
				"-rwxr-xr-x root:root /usr/bin/atomic-selftest-outer",
				"-rw-r--r-- root:root /usr/share/man/man1/atomic-selftest-outer.1.gz",
				"-rw-r--r-- root:root /usr/share/bash-completion/completions/atomic-selftest-outer",
				"-rw-r--r-- root:root /usr/share/zsh/site-functions/_atomic-selftest-outer",
				"drwxr-xr-x root:root /usr/lib/.build-id",
				"drwxr-xr-x root:root /usr/lib/.build-id/" + oid[:2],
				"lrwxrwxrwx root:root /usr/lib/.build-id/" + oid[:2] + "/" + oid[2:],
				"drwxr-xr-x root:root /usr/share/doc/atomic-selftest-outer",
			}, b.licenceTree(name+"-outer")...)
			for _, d := range b.docs {
				want = append(want, "-rw-r--r-- root:root /usr/share/doc/atomic-selftest-outer/"+d)
			}
			sort.Strings(want)
			if diff := lineDiff(want, fileLines(t, outer)); diff != "" {
				t.Errorf("rpm -qlp %s differs from the expected files (- missing, + unexpected):\n%s", filepath.Base(outer), diff)
			}
		}
	})

	// The binary is static, small enough, and its debug information went
	// whole into the debuginfo package: find-debuginfo had a build-id and
	// uncompressed DWARF to work with.
	t.Run("binary", func(t *testing.T) {
		bin := filepath.Join(extract(t, main), "usr/bin", name)
		assertStatic(t, bin)
		st, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("/usr/bin/atomic-selftest in %s: %d bytes (%.1f MiB)", filepath.Base(main), st.Size(), float64(st.Size())/(1<<20))
		if st.Size() >= maxBinarySize {
			t.Errorf("/usr/bin/atomic-selftest is %d bytes, limit %d", st.Size(), maxBinarySize)
		}
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		if f.Section(".gnu_debuglink") == nil {
			t.Error("the packaged binary has no .gnu_debuglink to its debuginfo")
		}
		f.Close()

		id := buildID(t, bin)
		dbgRoot := extract(t, b.rpms[name+"-debuginfo"])
		dbg := filepath.Join(dbgRoot, "usr/lib/debug/usr/bin", fmt.Sprintf("%s-%s-%s.%s.debug", name, b.version, b.release, b.arch))
		if got := buildID(t, dbg); got != id {
			t.Errorf("debuginfo %s has build-id %s, the binary %s", dbg, got, id)
		}
		if _, err := os.Lstat(filepath.Join(dbgRoot, "usr/lib/debug/.build-id", id[:2], id[2:]+".debug")); err != nil {
			t.Errorf("debuginfo has no build-id link for %s: %v", id, err)
		}
		df, err := elf.Open(dbg)
		if err != nil {
			t.Fatal(err)
		}
		defer df.Close()
		d, err := df.DWARF()
		if err != nil {
			t.Fatalf("%s: no readable DWARF: %v", dbg, err)
		}
		units := map[string]bool{}
		r := d.Reader()
		for {
			e, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if e == nil {
				break
			}
			if e.Tag == dwarf.TagCompileUnit {
				if n, ok := e.Val(dwarf.AttrName).(string); ok {
					units[n] = true
				}
				r.SkipChildren()
			}
		}
		for _, u := range []string{"main", "github.com/atomic-selftest/atomic-selftest/selftest", "runtime"} {
			if !units[u] {
				t.Errorf("debuginfo has no compile unit %s (%d units)", u, len(units))
			}
		}
		srcs := mustRun(t, time.Minute, "", "rpm", "-qlp", b.rpms[name+"-debugsource"])
		if want := "/usr/src/debug/" + nvra + "/cmd/atomic-selftest/main.go"; !strings.Contains(srcs, want+"\n") {
			t.Errorf("debugsource lacks %s", want)
		}
	})

	// rpmlint: no error and no warning left after the explained filters.
	t.Run("rpmlint", func(t *testing.T) {
		args := []string{"rpmlint", "-c", filepath.Join(top(t), "rpm/rpmlint.toml"),
			"-r", filepath.Join(top(t), "rpm", name+".rpmlintrc"), b.srpm}
		for _, p := range b.rpms {
			args = append(args, p)
		}
		out, err := run(t, 2*time.Minute, "", args...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		summary := regexp.MustCompile(`(\d+) errors, (\d+) warnings`).FindStringSubmatch(out)
		if summary == nil {
			t.Fatalf("no summary in rpmlint's output:\n%s", out)
		}
		if summary[1] != "0" || summary[2] != "0" {
			t.Errorf("rpmlint: %s errors, %s warnings; explain each warning in rpm/%s.rpmlintrc or fix it:\n%s",
				summary[1], summary[2], name, out)
		}
	})

	t.Run("scriptlets", func(t *testing.T) { testScriptlets(t, main) })

	t.Run("install", func(t *testing.T) {
		root := t.TempDir()
		// An empty root has no /bin/sh for the scriptlets: rpm warns about
		// %post and installs the files. The e2e suite installs into a real
		// Debian root, where the scriptlets run.
		mustRun(t, 2*time.Minute, "", "rpm", "-i", "--root", root, "--nodeps", main)
		bin := filepath.Join(root, "usr/bin", name)
		for rel, mode := range map[string]os.FileMode{
			"usr/bin/atomic-selftest":                                 0o755,
			"usr/lib/systemd/system/atomic-selftest.service":          0o644,
			"usr/lib/systemd/system-preset/80-atomic-selftest.preset": 0o644,
			"usr/lib/tmpfiles.d/atomic-selftest.conf":                 0o644,
			"usr/lib/atomic-selftest/config.d/00-defaults.toml":       0o644,
			"etc/atomic-selftest/config.d":                            os.ModeDir | 0o755,
		} {
			st, err := os.Stat(filepath.Join(root, rel))
			if err != nil {
				t.Errorf("installed root: %v", err)
				continue
			}
			if st.Mode()&(os.ModeDir|os.ModePerm) != mode {
				t.Errorf("/%s has mode %v, want %v", rel, st.Mode(), mode)
			}
		}

		t.Run("version", func(t *testing.T) {
			out := mustRun(t, time.Minute, root, bin, "version")
			if !strings.HasPrefix(out, fmt.Sprintf("%s %s (", name, b.version)) {
				t.Errorf("atomic-selftest version printed %q, want the RPM's version %s", out, b.version)
			}
		})
		t.Run("list", func(t *testing.T) {
			out := mustRun(t, time.Minute, root, bin, "list", "--format", "json")
			var checks []struct {
				ID        string `json:"id"`
				Criterion string `json:"criterion"`
			}
			if err := json.Unmarshal([]byte(out), &checks); err != nil {
				t.Fatalf("list --format json: %v\n%s", err, out)
			}
			if len(checks) == 0 {
				t.Fatal("list printed no check")
			}
			for _, c := range checks {
				if !regexp.MustCompile(`^[a-z]+\.[a-z0-9_.-]+$`).MatchString(c.ID) || !regexp.MustCompile(`^(C([1-9]|10)|HOST|SITE)$`).MatchString(c.Criterion) {
					t.Errorf("list: check %q with criterion %q", c.ID, c.Criterion)
				}
			}
			text := mustRun(t, time.Minute, root, bin, "list")
			if !strings.HasPrefix(text, "CHECK") || !strings.Contains(text, checks[0].ID) {
				t.Errorf("list printed:\n%s", text)
			}
		})
		t.Run("config", func(t *testing.T) {
			cfg, err := config.Load(root)
			if err != nil {
				t.Fatalf("the installed vendor configuration: %v", err)
			}
			// The files are named as the installed tree sees them: they
			// are read through the confined door under root.
			want := filepath.Join(config.VendorDir, "00-defaults.toml")
			if len(cfg.Files) != 1 || cfg.Files[0] != want {
				t.Errorf("configuration files read %v, want [%s]", cfg.Files, want)
			}
			sameAsDefaults(t, "the installed vendor configuration", cfg)
		})
		t.Run("tmpfiles", func(t *testing.T) {
			mustRun(t, time.Minute, "", "systemd-tmpfiles", "--root", root, "--create", name+".conf")
			st, err := os.Stat(filepath.Join(root, "var/lib", name))
			if err != nil {
				t.Fatal(err)
			}
			if !st.IsDir() || st.Mode().Perm() != 0o700 {
				t.Errorf("/var/lib/atomic-selftest from tmpfiles.d has mode %v, want drwx------", st.Mode())
			}
		})
		t.Run("preset", func(t *testing.T) {
			// Fedora disables every unit no preset names
			// (99-default-disable.preset); without that, systemctl's
			// default would enable ours whatever our preset said.
			testutil.WriteFile(t, root, "usr/lib/systemd/system-preset/99-default-disable.preset", "disable *\n")
			mustRun(t, time.Minute, "", "systemctl", "--root", root, "preset",
				name+".service", name+"-deployment.path", name+"-deployment.service", name+"-deadline.timer", name+"-deadline.service")
			for u, target := range map[string]string{name + ".service": "multi-user.target", name + "-deployment.path": "multi-user.target",
				name + "-deadline.timer": "timers.target"} {
				link := filepath.Join(root, "etc/systemd/system", target+".wants", u)
				target, err := os.Readlink(link)
				if err != nil {
					t.Errorf("preset did not enable %s: %v", u, err)
					continue
				}
				if target != "/usr/lib/systemd/system/"+u {
					t.Errorf("%s links to %s", link, target)
				}
			}
		})
		t.Run("verify", func(t *testing.T) {
			// systemd-analyze verify loads the units' dependencies
			// (sysinit.target and on): give the root the host's systemd
			// units, as a real tree would have, without replacing ours.
			units := filepath.Join(root, "usr/lib/systemd/system")
			entries, err := os.ReadDir("/usr/lib/systemd/system")
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				dst := filepath.Join(units, e.Name())
				if _, err := os.Lstat(dst); err == nil || !strings.HasSuffix(e.Name(), ".target") {
					continue
				}
				data, err := os.ReadFile(filepath.Join("/usr/lib/systemd/system", e.Name()))
				if err != nil {
					continue
				}
				if err := os.WriteFile(dst, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// The base tree's commands the units call (coreutils' sleep,
			// rm, touch; findutils' find): a real tree has them.
			for _, c := range []string{"/usr/bin/sleep", "/usr/bin/rm", "/usr/bin/touch", "/usr/bin/find"} {
				dst := filepath.Join(root, c)
				if _, err := os.Stat(dst); err == nil {
					continue
				}
				data, err := os.ReadFile(c)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, data, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			ours := []string{name + ".service", name + "-deployment.service", name + "-deployment.path", name + "-deadline.timer", name + "-deadline.service"}
			out, err := run(t, 2*time.Minute, "", append([]string{"systemd-analyze", "verify", "--root", root}, ours...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			// The check can fail: without the binary, ExecStart is refused.
			if err := os.Rename(bin, bin+".away"); err != nil {
				t.Fatal(err)
			}
			defer os.Rename(bin+".away", bin)
			if _, err := run(t, 2*time.Minute, "", "systemd-analyze", "verify", "--root", root, name+".service"); err == nil ||
				!strings.Contains(err.Error(), "/usr/bin/atomic-selftest is not executable") {
				t.Errorf("systemd-analyze verify accepted the service without its binary: %v", err)
			}
		})
		if b.outer {
			t.Run("outer", func(t *testing.T) {
				outerRoot := t.TempDir()
				mustRun(t, 2*time.Minute, "", "rpm", "-i", "--root", outerRoot, "--nodeps", b.rpms[name+"-outer"])
				assertStatic(t, filepath.Join(outerRoot, "usr/bin", name+"-outer"))
			})
		}
	})
}

// scriptletProbe runs in a private mount namespace: it lays an overlay
// over the host's root (writes go to $1/upper, the host is untouched),
// installs the RPM $2 into it so that the scriptlets run chrooted with a
// real /bin/sh and systemctl, reports, removes the package, reports again.
const scriptletProbe = `set -e
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=/,upperdir=$1/upper,workdir=$1/work" "$1/merged"
r=$1/merged
report() {
  for u in atomic-selftest.service atomic-selftest-deployment.path; do
    if [ -L "$r/etc/systemd/system/multi-user.target.wants/$u" ]; then echo "$1 $u enabled"; else echo "$1 $u disabled"; fi
  done
  if [ -d "$r/var/lib/atomic-selftest" ]; then echo "$1 results $(stat -c %a "$r/var/lib/atomic-selftest")"; fi
}
rpm -i --root "$r" --nodeps "$2"
report installed
rpm -e --root "$r" --nodeps atomic-selftest
report erased
`

// The scriptlets do what the systemd macros promise, in a chroot as
// rpm --root runs them: %post enables the service and the path unit from
// the preset and creates /var/lib/atomic-selftest 0700 from tmpfiles.d;
// %preun disables both again.
func testScriptlets(t *testing.T, rpmPath string) {
	testutil.NeedCommand(t, "rpm", "mount")
	dir := t.TempDir()
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run(t, 2*time.Minute, "", "unshare", "--mount", "--", "sh", "-c", scriptletProbe, "sh", dir, rpmPath)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `installed atomic-selftest.service enabled
installed atomic-selftest-deployment.path enabled
installed results 700
erased atomic-selftest.service disabled
erased atomic-selftest-deployment.path disabled
erased results 700
`
	if out != want {
		t.Errorf("scriptlets left:\n%s\nwant:\n%s", out, want)
	}
}

// lineDiff shows the lines only in want (-) and only in got (+).
func lineDiff(want, got []string) string {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, s := range want {
		if !g[s] {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	for _, s := range got {
		if !w[s] {
			fmt.Fprintf(&b, "+ %s\n", s)
		}
	}
	return b.String()
}
