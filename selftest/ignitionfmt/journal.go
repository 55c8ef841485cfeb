package ignitionfmt

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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

// ParseKeyWrites reads journalctl's JSON lines; fields other than strings
// (journalctl prints binary ones as arrays) are skipped.
func ParseKeyWrites(out []byte) ([]KeyWrite, error) {
	if len(out) > maxJournal {
		out = out[:maxJournal]
	}
	var writes []KeyWrite
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
			writes = append(writes, KeyWrite{user, hostPath(path)})
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
