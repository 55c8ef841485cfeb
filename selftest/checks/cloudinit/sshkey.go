package cloudinit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/cloudinithost"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "cloudinit.sshkey",
		Criterion:   "C7",
		Required:    true,
		Description: "every ssh key the user-data and the datasource asked for is in the user's authorized_keys",
		Timeout:     30 * time.Second,
		Applies:     cloudinithost.NeedCloudInit,
		Offline:     true,
		HostState:   true,
		Run:         checkSSHKey,
	})
}

// keyRequest is one ssh key a record asked to be installed for a user.
type keyRequest struct {
	user string // "" means the default user
	key  string
	from string
}

func checkSSHKey(_ context.Context, t *selftest.T) {
	r := cloudinithost.Tree{H: t.Host}
	cc, err := r.CloudConfig()
	if err != nil {
		t.Fail("%v", err)
		return
	}
	id, err := r.InstanceData()
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
	ccPath := cloudinithost.InstanceDir + "/cloud-config.txt"
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
		add("", cloudinithost.RunDir+"/instance-data.json v1.public_ssh_keys", id.PublicSSHKeys)
	} else {
		seed, seedPath, err := r.SeedMetaData()
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
	defUser, defFrom, err := r.DefaultUser(cc)
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
				problems = append(problems, fmt.Sprintf("%s asks for a key for the default user, but %s names no default user", q.from, cloudinithost.CloudCfg))
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
		have, akPath, err := authorizedKeys(r, u)
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
	t.Conclude(problems, "all %d requested ssh key(s) are installed (%s)", found, strings.Join(users, ", "))
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
func authorizedKeys(r cloudinithost.Tree, user string) (map[string]bool, string, error) {
	home, err := home(r, user)
	if err != nil {
		return nil, "", err
	}
	p := path.Join(home, ".ssh", "authorized_keys")
	b, err := r.Read(p)
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
func home(r cloudinithost.Tree, user string) (string, error) {
	for _, f := range []string{"/etc/passwd", "/usr/lib/passwd"} {
		b, err := r.Read(f)
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
