package record

import "strings"

// Short abbreviates an id or checksum for a message or a table: a
// "sha256:" prefix dropped, then the first 10 characters and "…" when
// there are more. It is the one way the host side shortens ostree
// checksums, boot ids and image ids, so one id reads the same in the
// record, the terminal and the journal.
func Short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 10 {
		return id[:10] + "…"
	}
	return id
}
