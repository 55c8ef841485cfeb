package ignitionfmt

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/journal"
)

// SSHKeysMessageID is the MESSAGE_ID of the journal entry Ignition sends
// after writing a user's keys, with IGNITION_USER_NAME and IGNITION_PATH
// (ignitionSSHAuthorizedkeysMessageID in internal/exec/util/passwd.go,
// coreos/ignition): the one record on the host of what the config asked.
const SSHKeysMessageID = "225067b87bbd4a0cb6ab151f82fa364b"

// maxJournal bounds what is read of journalctl's output.
const maxJournal = 1 << 20

// KeyWrite is one "wrote ssh authorized keys file for user" entry: the
// user and the file, as a path on the booted host.
type KeyWrite struct{ User, Path string }

// Source is who may write the key entry: Ignition's files stage, which
// writes the keys (dracut/30ignition/ignition-files.service runs
// /usr/bin/ignition --stage=files), as root, through the native protocol
// (go-systemd's journal.Send in AuthorizeSSHKeys, internal/exec/util/
// passwd.go). Anyone else can log the same MESSAGE_ID and fields (logger
// --journald); only journald's trusted fields tell them apart.
var Source = journal.Source{UID: "0", Transport: "journal", Unit: "ignition-files.service"}

// ParseKeyWrites reads journalctl's JSON lines and keeps Ignition's own
// entries (Source), whatever journalctl was asked; fields other than
// strings (journalctl prints binary ones as arrays) are skipped.
func ParseKeyWrites(out []byte) ([]KeyWrite, error) {
	if len(out) > maxJournal {
		out = out[:maxJournal]
	}
	entries, err := journal.ParseJSON(out, Source)
	var writes []KeyWrite
	for _, e := range entries {
		if user, path := e["IGNITION_USER_NAME"], e["IGNITION_PATH"]; user != "" && path != "" {
			writes = append(writes, KeyWrite{user, hostPath(path)})
		}
	}
	return writes, err
}

// destDir is where Ignition sees the real root from the initramfs: its
// IGNITION_PATH is made by Util.JoinPath (internal/exec/util/path.go),
// which puts every path under the stage's DestDir, /sysroot.
const destDir = "/sysroot"

// hostPath turns a path Ignition logged into the path on the booted host.
func hostPath(p string) string {
	if rest, ok := strings.CutPrefix(p, destDir+"/"); ok {
		return "/" + rest
	}
	return p
}

// FetchedConfigMessageID is the MESSAGE_ID of the journal entry Ignition
// sends for each config it fetched, with IGNITION_CONFIG_TYPE (user or
// base), IGNITION_CONFIG_SRC (the provider: qemu, cmdline, system, or a
// referenced config's path) and IGNITION_CONFIG_REFERENCED
// (ignitionFetchedConfigMsgId and logStructuredJournalEntry in
// internal/exec/engine.go, coreos/ignition; Fedora CoreOS's
// coreos-ignition-write-issues reads it to tell whether a user config was
// given).
const FetchedConfigMessageID = "57124006b5c94805b77ce473e92a8aeb"

// FetchSource is who may write the fetched-config entry: Ignition's fetch
// stages (dracut/30ignition/ignition-fetch-offline.service and
// ignition-fetch.service), as root, through the native protocol.
var FetchSource = journal.Source{UID: "0", Transport: "journal", UnitPrefix: "ignition-fetch"}

// ConfigFetch is one fetched-config entry.
type ConfigFetch struct {
	Type       string // user or base
	Source     string
	Referenced bool
}

// String is the entry as Ignition words its message: "user config from
// qemu", "referenced user config from /x.ign".
func (c ConfigFetch) String() string {
	s := c.Type + " config from " + c.Source
	if c.Referenced {
		s = "referenced " + s
	}
	return s
}

// ParseConfigFetches reads journalctl's JSON lines and keeps the
// fetched-config entries of Ignition's fetch stages (FetchSource) that
// name a type.
func ParseConfigFetches(out []byte) ([]ConfigFetch, error) {
	if len(out) > maxJournal {
		out = out[:maxJournal]
	}
	entries, err := journal.ParseJSON(out, FetchSource)
	var fetches []ConfigFetch
	for _, e := range entries {
		if e["MESSAGE_ID"] != FetchedConfigMessageID || e["IGNITION_CONFIG_TYPE"] == "" {
			continue
		}
		fetches = append(fetches, ConfigFetch{Type: e["IGNITION_CONFIG_TYPE"], Source: e["IGNITION_CONFIG_SRC"],
			Referenced: e["IGNITION_CONFIG_REFERENCED"] == "true"})
	}
	return fetches, err
}

// FilesSource is who may write the files stage's log lines: Ignition's
// files stage, whose unit runs it with --log-to-stdout
// (dracut/30ignition/ignition-files.service), as root, so journald takes
// its lines from the service's standard output.
var FilesSource = journal.Source{UID: "0", Transport: "stdout", Unit: "ignition-files.service"}

// What the files stage did, by the words of its op log (Logger.LogOp in
// internal/log/log.go, coreos/ignition: "op(N): [finished] <what>"; the
// what of createUsers, createFiles and createUnits in
// internal/exec/stages/files/). Only finished ops count.
const (
	OpUser = "user" // creating or modifying user "NAME"
	OpFile = "file" // writing file "/sysroot/PATH"
	OpUnit = "unit" // setting preset to enabled for "UNIT"
)

// FilesOp is one finished op of the files stage: its kind and what it
// names (a user, a path on the booted host, a unit).
type FilesOp struct{ Kind, Name string }

var finishedOp = regexp.MustCompile(`op\([0-9a-f]+\): \[finished\] (creating or modifying user|writing file|setting preset to enabled for) "((?:[^"\\]|\\.)*)"`)

// ParseFilesOps reads journalctl's JSON lines and returns the finished
// user, file and enabled-unit ops the files stage logged (FilesSource),
// in order, each once.
func ParseFilesOps(out []byte) ([]FilesOp, error) {
	if len(out) > maxJournal {
		out = out[:maxJournal]
	}
	entries, err := journal.ParseJSON(out, FilesSource)
	var ops []FilesOp
	seen := map[FilesOp]bool{}
	for _, e := range entries {
		m := finishedOp.FindStringSubmatch(e["MESSAGE"])
		if m == nil {
			continue
		}
		name, qerr := strconv.Unquote(`"` + m[2] + `"`)
		if qerr != nil || name == "" {
			continue
		}
		op := FilesOp{Name: name}
		switch m[1] {
		case "creating or modifying user":
			op.Kind = OpUser
		case "writing file":
			op.Kind, op.Name = OpFile, hostPath(name)
		default:
			op.Kind = OpUnit
		}
		if !seen[op] {
			seen[op] = true
			ops = append(ops, op)
		}
	}
	return ops, err
}
