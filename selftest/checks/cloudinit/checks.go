package cloudinit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

func checkFinished(_ context.Context, t *selftest.T) {
	r := tree{t.Host}
	st, stPath, err := r.status()
	if err != nil {
		t.Fail("cloud-init's status is unreadable: %v", err)
		return
	}
	if st == nil {
		t.Evidence("status.json", "written by cloud-init", "missing from "+runDir+" and "+dataDir)
		t.Fail("cloud-init did not run: no status.json in %s or %s", runDir, dataDir)
		return
	}
	t.Evidence("status.json", "", stPath)
	t.Detail("datasource", st.Datasource)
	var problems []string
	if !t.Host.Offline && !strings.HasPrefix(stPath, runDir) {
		problems = append(problems, fmt.Sprintf("cloud-init did not run on this boot: no %s/status.json, only an earlier boot's %s", runDir, stPath))
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
	res, resPath, err := r.result()
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
	bf := instanceDir + "/boot-finished"
	ok, err := r.exists(bf)
	if err != nil {
		problems = append(problems, fmt.Sprintf("%s: %v", bf, err))
	} else {
		t.Evidence("boot-finished", "present", map[bool]string{true: "present", false: "missing"}[ok])
		if !ok {
			problems = append(problems, bf+" is missing: the final module did not run")
		}
	}
	if len(problems) > 0 {
		t.Fail("%s", strings.Join(problems, "; "))
		return
	}
	t.Pass("cloud-init ran all its stages to the end without errors (datasource %s)", orNone([]string{st.Datasource}))
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

// keyRequest is one ssh key a record asked to be installed for a user.
type keyRequest struct {
	user string // "" means the default user
	key  string
	from string
}

func checkSSHKey(_ context.Context, t *selftest.T) {
	r := tree{t.Host}
	cc, err := r.cloudConfig()
	if err != nil {
		t.Fail("%v", err)
		return
	}
	id, err := r.instanceData()
	if err != nil {
		t.Fail("%v", err)
		return
	}
	var reqs []keyRequest
	add := func(user, from string, keys []string) {
		for _, k := range keys {
			if strings.TrimSpace(k) != "" {
				reqs = append(reqs, keyRequest{user: user, key: k, from: from})
			}
		}
	}
	ccPath := instanceDir + "/cloud-config.txt"
	if cc != nil {
		add("", ccPath+" ssh_authorized_keys", cc.SSHAuthorizedKeys)
		for _, u := range cc.Users {
			name := u.Name
			if name == "default" {
				name = ""
			}
			add(name, ccPath+" users "+u.Name, u.Keys)
		}
	}
	// The datasource's public keys go to the default user (cc_ssh).
	if id != nil {
		add("", runDir+"/instance-data.json v1.public_ssh_keys", id.PublicSSHKeys)
	} else {
		seed, seedPath, err := r.seedMetaData()
		if err != nil {
			t.Fail("%v", err)
			return
		}
		if seed != nil {
			add("", seedPath+" public-keys", seed.PublicKeys)
		}
	}
	if len(reqs) == 0 {
		t.Skip("no ssh key was requested (none in the user-data's cloud-config or the datasource's public keys)")
		return
	}
	defUser, defFrom, err := r.defaultUser(cc)
	if err != nil {
		t.Fail("%v", err)
		return
	}
	var problems []string
	byUser := map[string][]keyRequest{}
	for _, q := range reqs {
		u := q.user
		if u == "" {
			if defUser == "" {
				problems = append(problems, fmt.Sprintf("%s asks for a key for the default user, but %s names no default user", q.from, cloudCfg))
				continue
			}
			u = defUser
		}
		byUser[u] = append(byUser[u], q)
	}
	if defUser != "" {
		t.Evidence("default user", "", defUser+" (from "+defFrom+")")
	}
	users := make([]string, 0, len(byUser))
	for u := range byUser {
		users = append(users, u)
	}
	sort.Strings(users)
	found := 0
	for _, u := range users {
		have, akPath, err := r.authorizedKeys(u)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, q := range byUser[u] {
			pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(q.key))
			if err != nil {
				problems = append(problems, fmt.Sprintf("the key %q requested by %s is not a valid ssh public key: %v", short(q.key), q.from, err))
				continue
			}
			name := describeKey(pub, comment)
			if have[string(pub.Marshal())] {
				found++
				t.Evidence("key "+name+" for "+u, "in "+akPath, "present")
				continue
			}
			t.Evidence("key "+name+" for "+u, "in "+akPath, "missing")
			problems = append(problems, fmt.Sprintf("key %s requested by %s is not in %s of user %s", name, q.from, akPath, u))
		}
	}
	if len(problems) > 0 {
		t.Fail("%s", strings.Join(problems, "; "))
		return
	}
	t.Pass("all %d requested ssh key(s) are installed (%s)", found, strings.Join(users, ", "))
}

func describeKey(pub ssh.PublicKey, comment string) string {
	s := pub.Type() + " " + ssh.FingerprintSHA256(pub)
	if comment != "" {
		s += " (" + comment + ")"
	}
	return s
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// authorizedKeys returns the keys in a user's ~/.ssh/authorized_keys (the
// file cloud-init writes by default), keyed by their wire form so options
// and comments do not matter.
func (r tree) authorizedKeys(user string) (map[string]bool, string, error) {
	home, err := r.home(user)
	if err != nil {
		return nil, "", err
	}
	p := path.Join(home, ".ssh", "authorized_keys")
	b, err := r.read(p)
	if err != nil {
		return nil, p, err
	}
	if b == nil {
		return nil, p, fmt.Errorf("user %s has no %s", user, p)
	}
	keys := map[string]bool{}
	for rest := b; len(rest) > 0; {
		pub, _, _, next, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			break // no further valid key
		}
		keys[string(pub.Marshal())] = true
		rest = next
	}
	return keys, p, nil
}

// home finds a user's home directory in /etc/passwd, and in
// /usr/lib/passwd where the host uses nss-altfiles (Fedora Atomic's
// system users).
func (r tree) home(user string) (string, error) {
	for _, f := range []string{"/etc/passwd", "/usr/lib/passwd"} {
		b, err := r.read(f)
		if err != nil {
			return "", err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) >= 6 && fields[0] == user {
				return fields[5], nil
			}
		}
	}
	return "", fmt.Errorf("user %s does not exist (not in /etc/passwd)", user)
}

// requestedHostname returns the host name and FQDN cloud-init was asked
// to set and where that was read, following cloud-init's
// util.get_hostname_fqdn: the user-data's fqdn, then its hostname, then
// the datasource's local-hostname. It returns "" when nothing was asked.
func requestedHostname(r tree, cc *CloudConfig) (host, fqdn, from string, err error) {
	split := func(n string) (string, string) {
		if i := strings.IndexByte(n, '.'); i > 0 {
			return n[:i], n
		}
		return n, ""
	}
	ccPath := instanceDir + "/cloud-config.txt"
	switch {
	case cc != nil && cc.FQDN != "":
		host, fqdn = split(cc.FQDN)
		if cc.Hostname != "" {
			host = cc.Hostname
		}
		return host, fqdn, ccPath + " fqdn", nil
	case cc != nil && cc.Hostname != "":
		host, fqdn = split(cc.Hostname)
		return host, fqdn, ccPath + " hostname", nil
	}
	id, err := r.instanceData()
	if err != nil {
		return "", "", "", err
	}
	if id != nil && id.LocalHostname != "" {
		host, fqdn = split(id.LocalHostname)
		return host, fqdn, runDir + "/instance-data.json v1.local_hostname", nil
	}
	seed, seedPath, err := r.seedMetaData()
	if err != nil {
		return "", "", "", err
	}
	if seed != nil && seed.LocalHostname != "" {
		host, fqdn = split(seed.LocalHostname)
		return host, fqdn, seedPath + " local-hostname", nil
	}
	return "", "", "", nil
}

func checkHostname(_ context.Context, t *selftest.T) {
	r := tree{t.Host}
	cc, err := r.cloudConfig()
	if err != nil {
		t.Fail("%v", err)
		return
	}
	if cc != nil && cc.PreserveHostname {
		t.Skip("preserve_hostname is set in the user-data: cloud-init leaves the host name alone")
		return
	}
	host, fqdn, from, err := requestedHostname(r, cc)
	if err != nil {
		t.Fail("%v", err)
		return
	}
	if host == "" {
		t.Skip("no host name was requested (no hostname or fqdn in the user-data, no local-hostname from the datasource)")
		return
	}
	b, err := t.Host.ReadFile("/proc/sys/kernel/hostname", rootfs.Kernel)
	if err != nil {
		t.Error("reading the running host name: %v", err)
		return
	}
	running := strings.TrimSpace(string(b))
	// Distributions differ in which they set: Fedora's (rhel.py) prefers
	// the FQDN, Debian's the short name; either satisfies the request.
	want := host
	if fqdn != "" {
		want = host + " or " + fqdn
	}
	t.Evidence("host name", want+" (from "+from+")", running)
	if running == host || (fqdn != "" && running == fqdn) {
		t.Pass("the host name is %s, as %s asked", running, from)
		return
	}
	t.Fail("the running host name is %q, but %s asked for %q", running, from, want)
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
	r := tree{t.Host}
	cc, err := r.cloudConfig()
	if err != nil {
		t.Fail("%v", err)
		return
	}
	scriptsDir := instanceDir + "/scripts"
	all, err := r.list(scriptsDir)
	if err != nil {
		t.Fail("%v", err)
		return
	}
	var scripts []string
	for _, n := range all {
		// Subdirectories (vendor/) hold vendor scripts, not the user's.
		if ok, _ := r.isDir(scriptsDir + "/" + n); !ok {
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
		ok, err := r.exists(instanceDir + "/sem/" + name)
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
	failed, unnamed, err := r.failedScripts()
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
	if len(problems) > 0 {
		t.Fail("%s", strings.Join(problems, "; "))
		return
	}
	t.Pass("%d user script(s) ran without failure: %s", len(scripts), strings.Join(scripts, ", "))
}

func presence(ok bool) string {
	if ok {
		return "present"
	}
	return "missing"
}

func (r tree) isDir(p string) (bool, error) {
	fi, err := r.h.Stat(p)
	return err == nil && fi.IsDir(), nil
}

// failedScripts returns the user scripts that failed, by name, with what
// is known of the failure, and the scripts_user error when no name could
// be found for it. Names come from the error in status.json (23.x and
// later) or from cloud-init.log (earlier releases name them only there).
func (r tree) failedScripts() (map[string]string, string, error) {
	failed := map[string]string{}
	st, _, err := r.status()
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
	tail, err := r.h.ReadTail(logFile, rootfs.LogTail)
	if err != nil {
		return failed, moduleErr, nil
	}
	for _, m := range failedRunning.FindAllSubmatch(tail, -1) {
		p := string(m[1])
		if path.Base(path.Dir(p)) != "scripts" {
			continue // per-boot, per-once or vendor scripts
		}
		failed[path.Base(p)] = "exit status " + string(m[2]) + " in " + logFile
	}
	return failed, moduleErr, nil
}
