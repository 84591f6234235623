package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/membership"
)

// Query is one LDAP search used to explain a user: base, scope, filter and
// the number of entries it returned.
type Query = membership.Query

// RuleVerdict is one access rule and whether it matched the user.
type RuleVerdict struct {
	Rule    string `json:"rule"`
	Verdict bool   `json:"verdict"`
}

// Explanation says how the policy sees a user, without a password. The
// JSON tags follow `explain --json`; User and Queries need the caller's own
// rendering (the domain types carry no JSON names).
type Explanation struct {
	Found    bool   `json:"found"`
	DN       string `json:"dn"`
	StableID string `json:"stable_id"`
	// Attributes are the fetched attributes as strings; binary values are
	// shown as "base64:..." or, when long, as "(N bytes)".
	Attributes map[string][]string `json:"attributes"`
	GroupDNs   []string            `json:"group_dns"`
	GroupNames []string            `json:"group_names"`
	// Require and Deny are nil when no such rule is configured.
	Require *RuleVerdict `json:"require"`
	Deny    *RuleVerdict `json:"deny"`
	// Flags holds every flag's verdict, is_active, is_staff and is_superuser included.
	Flags map[string]bool `json:"flags"`
	// User is the record a login would write; it is not written.
	User *ldapbridge.User `json:"-"`
	// Queries are every LDAP search used, in order.
	Queries []Query `json:"-"`
	// Outcome is what a login with the right password would give, and
	// Reason its detail.
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason"`
	// Err is the directory error behind an ldap_error outcome.
	Err error `json:"-"`
	// Flavor is directory.flavor as used (after detection).
	Flavor ldapbridge.Flavor `json:"flavor"`
	// AD holds the Active Directory specifics; nil on other flavors.
	AD *ADDetails `json:"active_directory,omitempty"`
}

// ADDetails are what explain shows about a user on Active Directory.
type ADDetails struct {
	// Domain and NetBIOSDomain name the domain, and DomainFunctionality
	// its level, from the server's root DSE ("" when unreadable).
	Domain              string `json:"domain"`
	NetBIOSDomain       string `json:"netbios_domain"`
	DomainFunctionality string `json:"domain_functionality"`
	// UserAccountControl is the raw value; Disabled is its bit 2.
	UserAccountControl string `json:"user_account_control"`
	Disabled           bool   `json:"disabled"`
	// PrimaryGroupID is the RID of the primary group, PrimaryGroupSID its
	// objectSid and PrimaryGroup its DN when resolved.
	PrimaryGroupID  string `json:"primary_group_id"`
	PrimaryGroupSID string `json:"primary_group_sid"`
	PrimaryGroup    string `json:"primary_group"`
	// InChainQuery is the filter of the LDAP_MATCHING_RULE_IN_CHAIN search
	// that resolved the nested groups ("" without groups.nested).
	InChainQuery string `json:"in_chain_query"`
}

// adDetails fills the AD section of an explanation from the user entry and
// the group resolution.
func (a *Authenticator) adDetails(ctx context.Context, e *ldapbridge.Entry, gr *membership.Result) *ADDetails {
	ad := &ADDetails{UserAccountControl: e.First("userAccountControl"), Disabled: adDisabled(e), PrimaryGroupID: e.First("primaryGroupID")}
	if info, err := a.dir.Info(ctx); err == nil {
		ad.Domain, ad.NetBIOSDomain, ad.DomainFunctionality = info.DNSDomain, info.NetBIOSDomain, info.DomainFunctionality
	}
	if sid, ok := membership.PrimaryGroupSID(e); ok {
		ad.PrimaryGroupSID = membership.FormatSID(sid)
	}
	if gr != nil {
		ad.PrimaryGroup = gr.PrimaryGroupDN
		for _, q := range gr.Queries {
			// The user's search; a second one follows her primary group.
			if strings.Contains(q.Filter, ":"+membership.InChainRule+":=") {
				ad.InChainQuery = q.Filter
				break
			}
		}
	}
	return ad
}

// Explain shows how the policy sees username, searching as the service
// account and never binding as the user.
func (a *Authenticator) Explain(ctx context.Context, username string) (*Explanation, error) {
	ex := &Explanation{Attributes: map[string][]string{}, GroupDNs: []string{}, GroupNames: []string{},
		Flags: map[string]bool{}, Queries: []Query{}, Flavor: a.cfg.Directory.Flavor}
	dirName := a.directoryName(NormalizeUsername(username))
	found, res, err := a.lookup(ctx, a.dir, dirName, &ex.Queries)
	if err != nil {
		return nil, err
	}
	if res != nil {
		ex.Outcome, ex.Reason, ex.Err = res.Outcome, res.Reason, res.Err
		return ex, nil
	}
	e := found.Entry
	ex.Found, ex.DN, ex.StableID = true, e.DN, a.mapper.StableID(e)
	for _, at := range e.Attributes {
		ex.Attributes[at.Name] = displayValues(at.Values)
	}
	gr, err := a.groups.UserGroups(ctx, a.dir, e)
	if gr != nil {
		ex.Queries = append(ex.Queries, gr.Queries...)
	}
	if ex.Flavor == ldapbridge.FlavorActiveDirectory {
		ex.AD = a.adDetails(ctx, e, gr)
	}
	if err != nil {
		ex.Outcome, ex.Err = LDAPError, err
		ex.Reason = "reading the user's groups failed: " + err.Error()
		return ex, nil
	}
	ex.GroupDNs, ex.GroupNames = groupLists(gr.Groups)
	contains := a.groups.Contains(gr.Groups)
	if q := a.cfg.Access.Require; !q.IsZero() {
		ex.Require = &RuleVerdict{Rule: q.String(), Verdict: q.Eval(contains)}
	}
	if q := a.cfg.Access.Deny; !q.IsZero() {
		ex.Deny = &RuleVerdict{Rule: q.String(), Verdict: q.Eval(contains)}
	}
	ex.Flags = a.mapper.Flags(gr.Groups)
	return ex, a.explainUser(ctx, ex, e, gr.Groups)
}

// explainUser fills the record a login would write and the outcome.
func (a *Authenticator) explainUser(ctx context.Context, ex *Explanation, e *ldapbridge.Entry, groups []membership.Group) error {
	ex.Outcome, ex.Reason = OK, ""
	mapped, err := a.mapper.MapUser(e, groups)
	if err != nil {
		ex.Outcome, ex.Reason, ex.Err = LDAPError, err.Error(), err
		return nil
	}
	if o := verdictOutcome(mapped.Verdict); o == RequireGroup || o == DenyGroup {
		ex.Outcome, ex.Reason = o, mapped.VerdictReason
	}
	existing, err := a.existing(ctx, a.store, mapped)
	if err != nil {
		return err
	}
	u, _, err := a.plan(existing, mapped)
	switch {
	case errors.Is(err, errNoNewUsers):
		u = mapped
		if ex.Outcome == OK {
			ex.Outcome, ex.Reason = NoNewUsers, "no local account for "+mapped.Username+" and access.no_new_users is set"
		}
	case err != nil:
		return err
	}
	v := *u
	v.DirectGroups, v.Groups = []string{}, []string{}
	for _, g := range groups {
		if a.cfg.Groups.Mirror.Includes(g.Name) {
			v.Groups = append(v.Groups, g.Name)
			if g.Direct {
				v.DirectGroups = append(v.DirectGroups, g.Name)
			}
		}
	}
	ex.User = &v
	if o := verdictOutcome(v.EffectiveVerdict()); ex.Outcome == OK && o != OK {
		ex.Outcome, ex.Reason = o, v.VerdictReason
	}
	return nil
}

// displayValues renders attribute values for people: text as is, binary
// as base64 (short values) or a byte count.
func displayValues(vals [][]byte) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		switch {
		case isText(v):
			out[i] = string(v)
		case len(v) <= 64:
			out[i] = "base64:" + base64.StdEncoding.EncodeToString(v)
		default:
			out[i] = fmt.Sprintf("(%d bytes)", len(v))
		}
	}
	return out
}

func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r != '\t' && r != '\n' && r != '\r' && unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Populate creates or refreshes the account of username from the directory
// without a password, exactly as a login would: the policy outcomes apply,
// but it is not a login (last_login is left alone) and caches are bypassed.
// It searches as the service account.
func (a *Authenticator) Populate(ctx context.Context, username string) (*Result, error) {
	dirName := a.directoryName(NormalizeUsername(username))
	var queries []Query
	found, res, err := a.lookup(ctx, a.dir, dirName, &queries)
	if res == nil && err == nil {
		res, err = a.admit(ctx, a.dir, found, false)
	}
	if res != nil {
		res.Directory = a.Name()
	}
	a.logResult("populate", username, res, err)
	return res, err
}
