package cloudinit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/cloudinithost"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "cloudinit.finished",
		Criterion:   "C7",
		Required:    true,
		Description: "cloud-init ran all its stages to the end on this boot with no errors (status.json, result.json, boot-finished)",
		Timeout:     30 * time.Second,
		Applies:     cloudinithost.NeedCloudInit,
		Offline:     true,
		HostState:   true,
		Run:         checkFinished,
	})
}

func checkFinished(_ context.Context, t *selftest.T) {
	r := cloudinithost.Tree{H: t.Host}
	st, stPath, err := r.Status()
	if err != nil {
		t.Fail("cloud-init's status is unreadable: %v", err)
		return
	}
	if st == nil {
		t.Evidence("status.json", "written by cloud-init", "missing from "+cloudinithost.RunDir+" and "+cloudinithost.DataDir)
		t.Fail("cloud-init did not run: no status.json in %s or %s", cloudinithost.RunDir, cloudinithost.DataDir)
		return
	}
	t.Evidence("status.json", "", stPath)
	t.Detail("datasource", st.Datasource)
	var problems []string
	if !t.Host.Offline && !strings.HasPrefix(stPath, cloudinithost.RunDir) {
		problems = append(problems, fmt.Sprintf("cloud-init did not run on this boot: no %s/status.json, only an earlier boot's %s", cloudinithost.RunDir, stPath))
	}
	if st.Running != "" {
		problems = append(problems, fmt.Sprintf("cloud-init is still in stage %s", st.Running))
	}
	recoverable := map[string][]string{}
	stageErrors := 0
	for _, s := range st.Stages {
		seen := "finished, no errors"
		switch {
		case s.Start == nil:
			seen = "did not run"
		case s.Finished == nil:
			seen = "started, not finished"
			problems = append(problems, fmt.Sprintf("stage %s started but did not finish", s.Name))
		case len(s.Errors) > 0:
			seen = "errors: " + strings.Join(s.Errors, "; ")
			stageErrors += len(s.Errors)
			problems = append(problems, fmt.Sprintf("stage %s reported %s", s.Name, strings.Join(s.Errors, "; ")))
		}
		t.Evidence("stage "+s.Name, "finished, no errors", seen)
		for level, msgs := range s.Recoverable {
			recoverable[s.Name+" "+level] = msgs
		}
	}
	if len(recoverable) > 0 {
		t.Detail("recoverable_errors", recoverable)
	}
	if f := st.Stage("modules-final"); f == nil || f.Finished == nil {
		problems = append(problems, "the final stage (modules-final) did not finish")
	}
	res, resPath, err := r.Result()
	switch {
	case err != nil:
		problems = append(problems, fmt.Sprintf("cloud-init's result is unreadable: %v", err))
	case res == nil:
		t.Evidence("result.json", "written at the end of the final stage", "missing")
		problems = append(problems, "no result.json: cloud-init's final stage did not complete")
	default:
		t.Evidence("result.json errors", "none", orNone(res.Errors))
		// The same errors as the stages'; name them once.
		if len(res.Errors) > 0 && stageErrors == 0 {
			problems = append(problems, fmt.Sprintf("%s lists errors: %s", resPath, strings.Join(res.Errors, "; ")))
		}
	}
	bf := cloudinithost.InstanceDir + "/boot-finished"
	ok, err := r.Exists(bf)
	if err != nil {
		problems = append(problems, fmt.Sprintf("%s: %v", bf, err))
	} else {
		t.Evidence("boot-finished", "present", map[bool]string{true: "present", false: "missing"}[ok])
		if !ok {
			problems = append(problems, bf+" is missing: the final module did not run")
		}
	}
	t.Conclude(problems, "cloud-init ran all its stages to the end without errors (datasource %s)", orNone([]string{st.Datasource}))
}

func orNone(l []string) string {
	var out []string
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}
