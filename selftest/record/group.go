package record

import "strings"

// Groups of results: the release criteria (C1-C10) apart from the host's
// health beyond them (category HOST) and the site's own checks (SITE), so
// a reader sees at a glance which of them failed. A result's group
// follows from its criterion (GroupOf); the record keeps no second copy.
const (
	GroupRelease = "release"
	GroupHost    = "host"
	GroupSite    = "site"
)

// Groups are the groups in the order every output lists them.
var Groups = []string{GroupRelease, GroupHost, GroupSite}

// GroupOf returns the group of a result with criterion c.
func GroupOf(c string) string {
	switch c {
	case "HOST":
		return GroupHost
	case "SITE":
		return GroupSite
	}
	return GroupRelease
}

// GroupTitle is how a person reads a group's name.
func GroupTitle(g string) string {
	switch g {
	case GroupHost:
		return "host health"
	case GroupSite:
		return "site checks"
	}
	return "release criteria"
}

// GroupSummary counts one group's results. OK is false when one of its
// required checks failed, errored or was blocked.
type GroupSummary struct {
	Group string `json:"group"`
	Total int    `json:"total"`
	// Bad counts its checks that failed, errored or were blocked,
	// required or wanted.
	Bad int  `json:"bad"`
	OK  bool `json:"ok"`
}

// summariseGroups counts results by group, in Groups' order, leaving out
// a group without results.
func summariseGroups(results []Result) []GroupSummary {
	by := map[string]*GroupSummary{}
	for _, r := range results {
		g := GroupOf(r.Criterion)
		s := by[g]
		if s == nil {
			s = &GroupSummary{Group: g, OK: true}
			by[g] = s
		}
		s.Total++
		if r.Status.Bad() {
			s.Bad++
			if r.Required {
				s.OK = false
			}
		}
	}
	var out []GroupSummary
	for _, g := range Groups {
		if s := by[g]; s != nil {
			out = append(out, *s)
		}
	}
	return out
}

// GroupLine says each group's verdict in one line: "release criteria
// PASS, host health FAIL, site checks PASS" ("" without groups, as in a
// record written before groups were counted).
func (s Summary) GroupLine() string {
	var parts []string
	for _, g := range s.Groups {
		v := "PASS"
		if !g.OK {
			v = "FAIL"
		}
		parts = append(parts, GroupTitle(g.Group)+" "+v)
	}
	return strings.Join(parts, ", ")
}
