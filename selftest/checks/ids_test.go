package checks_test

import (
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/all"
)

func registeredIDs(t *testing.T) []string {
	var ids []string
	for _, c := range selftest.Default.All() {
		ids = append(ids, c.ID)
	}
	if len(ids) < 15 {
		t.Fatalf("only %d checks registered", len(ids))
	}
	return ids
}
