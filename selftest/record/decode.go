package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Decode parses a run record and checks the fields every reader relies
// on: a schema version this build knows (1 to SchemaVersion), a start
// time, and an id and a known status for every check. It is the one
// decoder of a record for the host's store and for the outer driver, so a
// garbled file is an error, never a verdict, on both sides.
func Decode(data []byte) (*Record, error) {
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("not a run record: %w", err)
	}
	if rec.Schema < 1 || rec.Schema > SchemaVersion {
		return nil, fmt.Errorf("unsupported schema version %d (this build reads 1 to %d)", rec.Schema, SchemaVersion)
	}
	if rec.Start.IsZero() {
		return nil, errors.New("run record has no start time")
	}
	for i, c := range rec.Checks {
		if c.ID == "" || !c.Status.Valid() {
			return nil, fmt.Errorf("check %d: missing id or invalid status %q", i, c.Status)
		}
	}
	return &rec, nil
}
