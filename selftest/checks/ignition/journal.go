package ignition

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

// sshKeysMessageID is the MESSAGE_ID of the journal entry Ignition sends
// after writing a user's keys, with IGNITION_USER_NAME and IGNITION_PATH
// (ignitionSSHAuthorizedkeysMessageID in internal/exec/util/passwd.go,
// coreos/ignition): the one record on the host of what the config asked.
const sshKeysMessageID = "225067b87bbd4a0cb6ab151f82fa364b"

// maxJournal bounds what is read of journalctl's output.
const maxJournal = 1 << 20

// keyWrite is one "wrote ssh authorized keys file for user" entry.
type keyWrite struct{ user, path string }

// errNoJournal: journalctl is not there, or the provisioning boot is not
// in the journal (a volatile journal, or rotated away).
var errNoJournal = errors.New("the provisioning boot's journal is not available")

// journalKeyWrites asks journalctl for Ignition's key entries of the
// provisioning boot, as JSON (one object per line, journalctl(1)
// --output=json).
func journalKeyWrites(ctx context.Context, h *selftest.Host, bootID string) ([]keyWrite, error) {
	out, err := h.Run(ctx, 20*time.Second, "journalctl", "--no-pager", "--output=json",
		"--boot="+strings.ReplaceAll(bootID, "-", ""), "MESSAGE_ID="+sshKeysMessageID)
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

// parseKeyWrites reads journalctl's JSON lines; fields other than strings
// (journalctl prints binary ones as arrays) are skipped.
func parseKeyWrites(out []byte) ([]keyWrite, error) {
	if len(out) > maxJournal {
		out = out[:maxJournal]
	}
	var writes []keyWrite
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), maxJournal)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal(line, &e); err != nil {
			return writes, fmt.Errorf("journalctl printed a line that is not JSON: %w", err)
		}
		user, _ := e["IGNITION_USER_NAME"].(string)
		path, _ := e["IGNITION_PATH"].(string)
		if user != "" && path != "" {
			writes = append(writes, keyWrite{user, hostPath(path)})
		}
	}
	return writes, sc.Err()
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
