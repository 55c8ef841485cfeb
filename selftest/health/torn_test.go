package health

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// TestTornStateNeverTrusted tears health.json as a real run left it (a
// reboot requested on the first failed boot of an upgrade, reboot_attempts
// = 1) at several lengths. Whole, the second failed boot rolls back; cut
// short by any byte, the state is never trusted: the policy refuses,
// naming the torn file, neither the tool nor the reboot is called, and the
// file is left as it was for inspection.
func TestTornStateNeverTrusted(t *testing.T) {
	for _, cut := range []string{"whole", "empty", "one byte", "half", "no closing brace"} {
		t.Run(cut, func(t *testing.T) {
			h := newHost(t)
			if got := h.run("rollback", 1, record.TransitionUpgrade, false); got.Action != record.HealthReboot {
				t.Fatalf("boot 1: %+v", got)
			}
			path := filepath.Join(h.st.Dir, StateFile)
			whole, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			n := map[string]int{"whole": len(whole), "empty": 0, "one byte": 1, "half": len(whole) / 2, "no closing brace": len(whole) - 2}[cut]
			if err := os.Truncate(path, int64(n)); err != nil {
				t.Fatal(err)
			}
			h.reboot()
			got := h.run("rollback", 1, record.TransitionSame, false)
			if cut == "whole" {
				if got.Action != record.HealthRollback || h.tool.calls != 1 {
					t.Fatalf("whole state: %+v, %d rollbacks", got, h.tool.calls)
				}
				return
			}
			if got.Action != record.HealthRefused || !strings.Contains(got.Reason, "the health state cannot be read") ||
				!strings.Contains(got.Reason, "not whole JSON") || !strings.Contains(got.Reason, StateFile) {
				t.Fatalf("torn state: %+v", got)
			}
			if h.tool.calls != 0 || h.rebooter.calls != 1 {
				t.Errorf("torn state acted on: %d rollbacks, %d reboot requests", h.tool.calls, h.rebooter.calls)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, whole[:n]) {
				t.Errorf("the torn state was rewritten: %q", b)
			}
		})
	}
}
