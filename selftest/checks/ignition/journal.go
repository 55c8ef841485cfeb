package ignition

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/journal"
)

// sshKeysMessageID is the MESSAGE_ID of the journal entry Ignition sends
// after writing a user's keys, with IGNITION_USER_NAME and IGNITION_PATH
// (ignitionSSHAuthorizedkeysMessageID in internal/exec/util/passwd.go,
// coreos/ignition): the one record on the host of what the config asked.
const sshKeysMessageID = "225067b87bbd4a0cb6ab151f82fa364b"

// ignitionSource is who may write the key entry: Ignition's files stage,
// which writes the keys (dracut/30ignition/ignition-files.service runs
// /usr/bin/ignition --stage=files), as root, through the native protocol
// (go-systemd's journal.Send in AuthorizeSSHKeys). Anyone else can log the
// same MESSAGE_ID and fields (logger --journald); only journald's trusted
// fields tell them apart.
var ignitionSource = journal.Source{UID: "0", Transport: "journal", Unit: "ignition-files.service"}

// keyWrite is one "wrote ssh authorized keys file for user" entry.
type keyWrite struct{ user, path string }

// errNoJournal: journalctl is not there, or the provisioning boot is not
// in the journal (a volatile journal, or rotated away).
var errNoJournal = errors.New("the provisioning boot's journal is not available")

// journalKeyWrites asks journalctl for Ignition's key entries of the
// provisioning boot, as JSON (one object per line, journalctl(1)
// --output=json).
func journalKeyWrites(ctx context.Context, h *selftest.Host, bootID string) ([]keyWrite, error) {
	argv := append([]string{"journalctl", "--no-pager", "--output=json",
		"--boot=" + strings.ReplaceAll(bootID, "-", ""), "MESSAGE_ID=" + sshKeysMessageID}, ignitionSource.Matches()...)
	out, err := h.Run(ctx, 20*time.Second, argv...)
	var ee *selftest.ExitError
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return nil, fmt.Errorf("%w (no journalctl)", errNoJournal)
	case errors.As(err, &ee):
		// journalctl exits 1 for a boot it does not have.
		return nil, fmt.Errorf("%w: %v", errNoJournal, err)
	case err != nil:
		return nil, err
	}
	return parseKeyWrites(out)
}

// parseKeyWrites reads journalctl's JSON lines and keeps Ignition's own
// entries (ignitionSource), whatever journalctl was asked.
func parseKeyWrites(out []byte) ([]keyWrite, error) {
	entries, err := journal.ParseJSON(out, ignitionSource)
	var writes []keyWrite
	for _, e := range entries {
		if user, path := e["IGNITION_USER_NAME"], e["IGNITION_PATH"]; user != "" && path != "" {
			writes = append(writes, keyWrite{user, hostPath(path)})
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
