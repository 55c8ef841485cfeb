package storageconf

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// The files storage.config reads. Their formats are container-storage-
// setup's (github.com/projectatomic/container-storage-setup, commit
// 413b4080c0b9, 2018-07-13, the version Fedora Atomic Host 28 shipped as
// docker-storage-setup): its defaults file and the admin's overrides are
// shell variable assignments it sources; in its docker compatibility mode
// it writes DOCKER_STORAGE_OPTIONS="--storage-driver ..." to the output
// file, which docker.service reads with EnvironmentFile= and passes as
// $DOCKER_STORAGE_OPTIONS.
const (
	SetupDefaultsFile     = "/usr/share/container-storage-setup/container-storage-setup"
	OldSetupDefaultsFile  = "/usr/lib/docker-storage-setup/docker-storage-setup"
	SetupFile             = "/etc/sysconfig/docker-storage-setup"
	StorageFile           = "/etc/sysconfig/docker-storage"
	StorageOptionsVar     = "DOCKER_STORAGE_OPTIONS"
	DaemonJSONFile        = "/etc/docker/daemon.json"
	defaultCompatThinpool = "docker-pool" // CONTAINER_THINPOOL in compatibility mode
)

// Setup is everything the host's files say about container storage.
type Setup struct {
	// SetupDriver is STORAGE_DRIVER after the defaults and the admin's
	// file; SetupVG and SetupThinpool are VG and CONTAINER_THINPOOL.
	SetupDriver   string `json:"setup_driver,omitempty"`
	SetupVG       string `json:"setup_vg,omitempty"`
	SetupThinpool string `json:"setup_thinpool,omitempty"`
	// SetupFrom lists the docker-storage-setup files that were read.
	SetupFrom []string `json:"setup_from,omitempty"`
	// Generated are the options docker-storage-setup wrote
	// (nil when StorageFile does not exist).
	Generated *Flags `json:"generated,omitempty"`
	// DaemonJSON is daemon.json's storage keys (nil when absent).
	DaemonJSON *Flags `json:"daemon_json,omitempty"`
	// Unit is the runtime unit's file and UnitFlags the storage flags of
	// its expanded command line (nil when there is no unit file).
	Unit      string `json:"unit,omitempty"`
	UnitFlags *Flags `json:"unit_flags,omitempty"`
	// UnitPassesGenerated says whether the unit reads StorageFile and
	// uses $DOCKER_STORAGE_OPTIONS.
	UnitPassesGenerated bool `json:"unit_passes_generated"`

	// Driver is the backend that should be in use ("" when nothing
	// chooses one: the daemon picks its default); ThinPoolDev the
	// devicemapper thin pool device; From says which file decided.
	Driver      string `json:"driver,omitempty"`
	ThinPoolDev string `json:"thinpooldev,omitempty"`
	From        string `json:"from,omitempty"`
	// Problems are the disagreements found, one sentence each.
	Problems []string `json:"problems,omitempty"`
}

// ReadSetup reads the storage configuration under root (path maps host
// paths to files) for the runtime unit unitName; want, if set, is the
// driver the self-test's configuration demands. A file that exists but
// cannot be parsed is an error naming it.
func ReadSetup(files rootfs.FS, unitName, want string) (*Setup, error) {
	s := &Setup{}
	// docker-storage-setup's input: defaults, then the admin's file.
	dss := map[string]string{}
	for _, f := range []string{OldSetupDefaultsFile, SetupDefaultsFile, SetupFile} {
		vars, err := readEnvFile(files, f)
		if err != nil {
			return nil, err
		}
		if vars == nil {
			continue
		}
		s.SetupFrom = append(s.SetupFrom, f)
		for k, v := range vars {
			dss[k] = v
		}
	}
	s.SetupDriver, s.SetupVG = dss["STORAGE_DRIVER"], dss["VG"]
	s.SetupThinpool = dss["CONTAINER_THINPOOL"]
	if s.SetupThinpool == "" {
		s.SetupThinpool = defaultCompatThinpool
	}

	// What docker-storage-setup generated.
	gen, err := readEnvFile(files, StorageFile)
	if err != nil {
		return nil, err
	}
	if gen != nil {
		f, err := ParseFlags(strings.Fields(gen[StorageOptionsVar]))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", StorageFile, StorageOptionsVar, err)
		}
		s.Generated = &f
	}

	// The unit's command line, with its environment files expanded.
	u, err := LoadUnit(files, unitName)
	if err != nil {
		return nil, err
	}
	if u != nil {
		s.Unit = u.Path
		env := map[string]string{}
		for k, v := range u.Environment {
			env[k] = v
		}
		readsGenerated := false
		for _, ef := range u.EnvironmentFiles {
			data, err := files.ReadFile(ef, rootfs.Config)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("EnvironmentFile of %s: %w", unitName, err)
			}
			vars := ParseUnitEnvFile(string(data))
			if filepath.Clean(ef) == StorageFile {
				readsGenerated = true
			}
			for k, v := range vars {
				env[k] = v
			}
		}
		s.UnitPassesGenerated = readsGenerated && strings.Contains(u.ExecStart, StorageOptionsVar)
		argv, err := u.Command(env)
		if err != nil {
			return nil, fmt.Errorf("%s: ExecStart: %w", u.Path, err)
		}
		f, err := ParseFlags(argv)
		if err != nil {
			return nil, fmt.Errorf("%s: ExecStart: %w", u.Path, err)
		}
		s.UnitFlags = &f
	}

	// daemon.json, or the file --config-file names.
	dj := DaemonJSONFile
	if s.UnitFlags != nil && s.UnitFlags.ConfigFile != "" {
		dj = s.UnitFlags.ConfigFile
	}
	data, err := files.ReadFile(dj, rootfs.Config)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		f, err := ParseDaemonJSON(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dj, err)
		}
		s.DaemonJSON = &f
	}
	s.decide(dj, want)
	return s, nil
}

// readEnvFile parses host environment file p; nil, nil when it does not
// exist. Errors name p.
func readEnvFile(files rootfs.FS, p string) (map[string]string, error) {
	data, err := files.ReadFile(p, rootfs.Config)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	vars, err := ParseEnvFile(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return vars, nil
}

// decide works out the backend that should be in use and every way the
// files disagree.
func (s *Setup) decide(daemonJSON, want string) {
	problem := func(format string, args ...any) { s.Problems = append(s.Problems, fmt.Sprintf(format, args...)) }

	// What dockerd gets: its command line and daemon.json. dockerd
	// refuses to start when both set the same key.
	var cmd Flags
	if s.UnitFlags != nil {
		cmd = *s.UnitFlags
	}
	var dj Flags
	if s.DaemonJSON != nil {
		dj = *s.DaemonJSON
	}
	if cmd.Driver != "" && dj.Driver != "" {
		problem("the storage driver is set both on dockerd's command line in %s (%s) and in %s (%s): dockerd refuses to start", s.Unit, cmd.Driver, daemonJSON, dj.Driver)
	}
	if len(cmd.Opts) > 0 && len(dj.Opts) > 0 {
		problem("storage options are set both on dockerd's command line in %s and in %s: dockerd refuses to start", s.Unit, daemonJSON)
	}
	switch {
	case cmd.Driver != "":
		s.Driver, s.From = cmd.Driver, s.Unit+" ExecStart"
		if s.UnitPassesGenerated && s.Generated != nil && s.Generated.Driver == cmd.Driver {
			s.From = StorageFile + " via " + s.Unit
		}
	case dj.Driver != "":
		s.Driver, s.From = dj.Driver, daemonJSON
	}
	opts := cmd
	if len(opts.Opts) == 0 {
		opts = dj
	}
	s.ThinPoolDev = opts.Opt("dm.thinpooldev")

	// docker-storage-setup's output must reach dockerd.
	if s.Generated != nil && s.Generated.Driver != "" && s.Unit != "" && !s.UnitPassesGenerated {
		problem("docker-storage-setup wrote --storage-driver %s to %s, but %s does not pass $%s to dockerd", s.Generated.Driver, StorageFile, s.Unit, StorageOptionsVar)
	}
	// docker-storage-setup's input must match its output: it refuses to
	// change an existing configuration ("Storage is already configured
	// with X driver. Can't configure it with Y driver").
	if s.SetupDriver != "" && s.Generated != nil && s.Generated.Driver != "" && s.SetupDriver != s.Generated.Driver {
		problem("%s asks for STORAGE_DRIVER=%s but %s configures %s (docker-storage-setup does not change an existing configuration: remove %s and rerun it)", SetupFile, s.SetupDriver, StorageFile, s.Generated.Driver, StorageFile)
	}
	if s.SetupDriver != "" && s.Generated == nil && len(s.SetupFrom) > 0 && s.Unit != "" && s.UnitPassesGenerated {
		problem("docker-storage-setup is configured for %s (%s) but %s does not exist: it has not run, or failed", s.SetupDriver, strings.Join(s.SetupFrom, ", "), StorageFile)
	}
	// devicemapper needs a thin pool: without dm.thinpooldev dockerd
	// falls back to loopback files, which are not supported in production.
	if s.Driver == "devicemapper" {
		if s.ThinPoolDev == "" {
			problem("devicemapper is configured (%s) without dm.thinpooldev: dockerd would use loopback files", s.From)
		} else if s.SetupVG != "" {
			wantDev := "/dev/mapper/" + dmEscape(s.SetupVG) + "-" + dmEscape(s.SetupThinpool)
			if filepath.Clean(s.ThinPoolDev) != wantDev {
				problem("dm.thinpooldev is %s but %s names VG=%s and thin pool %s, which is %s", s.ThinPoolDev, SetupFile, s.SetupVG, s.SetupThinpool, wantDev)
			}
		}
	}
	if want != "" && s.Driver != "" && s.Driver != want {
		problem("the host is configured for %s (%s) but the self-test's configuration demands %s", s.Driver, s.From, want)
	}
	if want != "" && s.Driver == "" {
		s.Driver, s.From = want, "atomic-selftest configuration (storage.driver)"
	}
}

// dmEscape is how LVM names a logical volume's device-mapper device: VG
// and LV joined by "-", with every "-" inside a name doubled (lvm2
// libdm/libdm-common.c, dm_build_dm_name).
func dmEscape(s string) string { return strings.ReplaceAll(s, "-", "--") }

// SplitDMName is the inverse: "atomicos-docker--pool" is VG "atomicos",
// LV "docker-pool". ok is false when the name is not of that form.
func SplitDMName(name string) (vg, lv string, ok bool) {
	for i := 0; i < len(name); i++ {
		if name[i] != '-' {
			continue
		}
		if i+1 < len(name) && name[i+1] == '-' {
			i++
			continue
		}
		vg, lv = name[:i], name[i+1:]
		if vg == "" || lv == "" {
			return "", "", false
		}
		return strings.ReplaceAll(vg, "--", "-"), strings.ReplaceAll(lv, "--", "-"), true
	}
	return "", "", false
}
