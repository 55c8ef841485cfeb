package family

import (
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Entry is one deployment in the host's list as its own status command
// shows it: the run record's model of a deployment (record.Deployment,
// the one the host's self-test writes) plus the marks only the list has.
type Entry struct {
	record.Deployment
	Booted bool `json:"booted,omitempty"`
	Staged bool `json:"staged,omitempty"`
}

// Status is the host's deployment list in ostree's order: the first is
// the default for the next boot.
type Status struct {
	Deployments []Entry `json:"deployments"`
}

// Describe names a deployment in a message: its short checksum and its
// version, or "the deployment" for none.
func Describe(d *record.Deployment) string {
	if d == nil {
		return "the deployment"
	}
	c := record.Short(d.Checksum)
	if d.Version != "" {
		return c + " (" + d.Version + ")"
	}
	return c
}

// Booted returns the booted deployment, or nil.
func (s *Status) Booted() *record.Deployment {
	if i := s.booted(); i >= 0 {
		return &s.Deployments[i].Deployment
	}
	return nil
}

func (s *Status) booted() int {
	for i := range s.Deployments {
		if s.Deployments[i].Booted {
			return i
		}
	}
	return -1
}

// Default returns the deployment the next boot uses, or nil.
func (s *Status) Default() *record.Deployment {
	if len(s.Deployments) == 0 {
		return nil
	}
	return &s.Deployments[0].Deployment
}

// Rollback returns the deployment a rollback makes the default: the first
// one that is not booted when the booted one is the default, else the
// booted one (rpm-ostree's rule in rollback.cxx).
func (s *Status) Rollback() *record.Deployment {
	if len(s.Deployments) < 2 {
		return nil
	}
	if b := s.booted(); b > 0 {
		return &s.Deployments[b].Deployment
	}
	return &s.Deployments[1].Deployment
}
