package record

import (
	"fmt"
	"strings"
)

// Label names a deployment the way the operator reads it in a banner or a
// transition: "12.3 (abc1234567…)", the short checksum alone when it has
// no version, "an unknown deployment" for nil.
func (d *Deployment) Label() string {
	if d == nil {
		return "an unknown deployment"
	}
	if d.Version == "" {
		return Short(d.Checksum)
	}
	return d.Version + " (" + Short(d.Checksum) + ")"
}

// Failures says why a health action was taken: "runtime.service failed:
// <first line of its message>" and how many more failed, else the reason.
func (h *Health) Failures() string {
	if h == nil || len(h.Failing) == 0 {
		if h != nil && h.Reason != "" {
			return h.Reason
		}
		return "required checks failed"
	}
	f := h.Failing[0]
	s := f.ID + " failed"
	if m := strings.SplitN(f.Message, "\n", 2)[0]; m != "" {
		s += ": " + m
	}
	if n := len(h.Failing) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}
