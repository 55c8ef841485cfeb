package cloudinit

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/cloudinithost"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// No dependency on cloudinit.finished: a failed user script fails that
// check too, and this one must still name it.
func init() {
	selftest.Register(&selftest.Check{
		ID:          "cloudinit.scripts",
		Criterion:   "C7",
		Required:    true,
		Description: "every user script and runcmd ran (per-instance semaphores) and none failed",
		Timeout:     30 * time.Second,
		Applies:     cloudinithost.NeedCloudInit,
		Offline:     true,
		HostState:   true,
		Run:         checkScripts,
	})
}

// Semaphores of the modules that run user scripts (per-instance, in the
// instance's sem directory; cloudinit/helpers.py canonicalises "-" to "_").
const (
	semScriptsUser = "config_scripts_user"
	semRuncmd      = "config_runcmd"
)

var (
	// runpartsNames finds the failed scripts in cloud-init 23.x and later's
	// error: "Runparts: 1 failures (part-001) in 2 attempted commands".
	runpartsNames = regexp.MustCompile(`Runparts: \d+ failures \(([^)]*)\)`)
	// failedRunning is the log line runparts writes for each failure (17.1
	// to 22.x): "Failed running /var/lib/cloud/instance/scripts/part-001 [1]".
	failedRunning = regexp.MustCompile(`Failed running (\S+) \[(-?\d+)\]`)
)

func checkScripts(_ context.Context, t *selftest.T) {
	r := cloudinithost.Tree{H: t.Host}
	cc, err := r.CloudConfig()
	if err != nil {
		t.Fail("%v", err)
		return
	}
	scriptsDir := cloudinithost.InstanceDir + "/scripts"
	all, err := r.List(scriptsDir)
	if err != nil {
		t.Fail("%v", err)
		return
	}
	var scripts []string
	for _, n := range all {
		// Subdirectories (vendor/) hold vendor scripts, not the user's.
		if ok, _ := isDir(r, scriptsDir+"/"+n); !ok {
			scripts = append(scripts, n)
		}
	}
	runcmd := cc != nil && cc.Runcmd
	if len(scripts) == 0 && !runcmd {
		t.Skip("no user scripts and no runcmd were requested (%s is empty)", scriptsDir)
		return
	}
	var problems []string
	semOK := func(name string) bool {
		ok, err := r.Exists(cloudinithost.InstanceDir + "/sem/" + name)
		if err != nil {
			problems = append(problems, err.Error())
		}
		return ok
	}
	if runcmd {
		ok := semOK(semRuncmd)
		t.Evidence("runcmd semaphore", "sem/"+semRuncmd, presence(ok))
		has := false
		for _, s := range scripts {
			has = has || s == "runcmd"
		}
		if !ok || !has {
			problems = append(problems, fmt.Sprintf("runcmd was requested but the runcmd module did not write it (semaphore %s %s, %s/runcmd %s)", semRuncmd, presence(ok), scriptsDir, presence(has)))
		}
	}
	ran := semOK(semScriptsUser) || semOK("config_scripts-user")
	failed, unnamed, err := failedScripts(r)
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, s := range scripts {
		switch {
		case !ran:
			t.Evidence("script "+s, "ran", "did not run")
			problems = append(problems, fmt.Sprintf("script %s did not run: semaphore sem/%s is missing", s, semScriptsUser))
		case failed[s] != "":
			t.Evidence("script "+s, "ran and succeeded", "failed: "+failed[s])
			problems = append(problems, fmt.Sprintf("script %s failed (%s)", s, failed[s]))
		default:
			t.Evidence("script "+s, "ran and succeeded", "ran")
		}
	}
	if len(failed) == 0 && unnamed != "" {
		problems = append(problems, "the scripts_user module failed: "+unnamed)
	}
	t.Conclude(problems, "%d user script(s) ran without failure: %s", len(scripts), strings.Join(scripts, ", "))
}

func presence(ok bool) string {
	if ok {
		return "present"
	}
	return "missing"
}

func isDir(r cloudinithost.Tree, p string) (bool, error) {
	fi, err := r.H.Stat(p)
	return err == nil && fi.IsDir(), nil
}

// failedScripts returns the user scripts that failed, by name, with what
// is known of the failure, and the scripts_user error when no name could
// be found for it. Names come from the error in status.json (23.x and
// later) or from cloud-init.log (earlier releases name them only there).
func failedScripts(r cloudinithost.Tree) (map[string]string, string, error) {
	failed := map[string]string{}
	st, _, err := r.Status()
	if err != nil || st == nil {
		return failed, "", err
	}
	var moduleErr string
	for _, s := range st.Stages {
		for _, e := range s.Errors {
			if !strings.Contains(e, "scripts-user") && !strings.Contains(e, "scripts_user") {
				continue
			}
			moduleErr = e
			for _, m := range runpartsNames.FindAllStringSubmatch(e, -1) {
				for _, n := range strings.Split(m[1], ",") {
					if n = strings.TrimSpace(n); n != "" {
						failed[n] = "stage " + s.Name + ": " + e
					}
				}
			}
		}
	}
	if moduleErr == "" || len(failed) > 0 {
		return failed, moduleErr, nil
	}
	tail, err := r.H.ReadTail(cloudinithost.LogFile, rootfs.LogTail)
	if err != nil {
		return failed, moduleErr, nil
	}
	for _, m := range failedRunning.FindAllSubmatch(tail, -1) {
		p := string(m[1])
		if path.Base(path.Dir(p)) != "scripts" {
			continue // per-boot, per-once or vendor scripts
		}
		failed[path.Base(p)] = "exit status " + string(m[2]) + " in " + cloudinithost.LogFile
	}
	return failed, moduleErr, nil
}
