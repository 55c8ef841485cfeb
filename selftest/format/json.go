package format

import (
	"encoding/json"
	"io"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// JSON prints the run record itself, indented.
type JSON struct {
	// List prints an array of records even when there is one.
	List bool
}

// Write implements Formatter.
func (j JSON) Write(w io.Writer, runs []*record.Record) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if !j.List && len(runs) == 1 {
		return enc.Encode(runs[0])
	}
	if runs == nil {
		runs = []*record.Record{}
	}
	return enc.Encode(runs)
}
