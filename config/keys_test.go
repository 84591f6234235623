package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// provedBy names, for each configuration key, tests that prove the key
// changes behaviour, as "package dir.TestName" (top-level tests of the
// module; TestEveryKeyIsProvedOrListedValidatedOnly checks they exist).
var provedBy = map[string][]string{
	"directory.urls":                     {"ldapdir.TestAgainstSlapd"},
	"directory.start_tls":                {"ldapdir.TestAgainstSlapd"},
	"directory.tls.ca_file":              {"ldapdir.TestBuildTLSConfig", "cmd/ldapbridge.TestCheckSaysWhatIsWrongAndHowToFixIt"},
	"directory.tls.server_name":          {"ldapdir.TestOpenSetsServerNamePerURL"},
	"directory.tls.insecure_skip_verify": {"ldapdir.TestBuildTLSConfig", "ldapdir.TestOpenWarnsLoudlyOnInsecureSkipVerify"},
	"directory.tls.client_cert_file":     {"ldapdir.TestBuildTLSConfig"},
	"directory.tls.client_key_file":      {"ldapdir.TestBuildTLSConfig"},
	"directory.tls.min_version":          {"ldapdir.TestBuildTLSConfig"},
	"directory.bind_dn":                  {"ldapdir.TestAgainstSlapd", "cmd/ldapbridge.TestCheckSaysWhatIsWrongAndHowToFixIt"},
	"directory.bind_password":            {"ldapdir.TestAgainstSlapd", "cmd/ldapbridge.TestCheckSaysWhatIsWrongAndHowToFixIt"},
	"directory.bind_password_file":       {"config.TestSecretFiles"},
	"directory.bind_as_user":             {"auth.TestJumpCloudLogins", "auth.TestUserBindName"},
	"directory.flavor":                   {"ldapdir.TestDetectFlavor", "config.TestApplyFlavor"},
	"directory.request_timeout":          {"ldapdir.TestRequestTimeoutBoundsEachOperation"},
	"directory.page_size":                {"dirsync.TestServerLostDuringReadDeactivatesNobodyAndRerunConverges"},
	"directory.pool_size":                {"ldapdir.TestConcurrentSearchesOfAMissingBaseShareOneConnection"},

	"users.search.base_dn":        {"auth.TestClassicUnionSearch"},
	"users.search.filter":         {"auth.TestClassicUnionSearch", "auth.TestUnionSearchRefusesAmbiguousName"},
	"users.dn_template":           {"auth.TestJumpCloudLogins", "auth.TestUserBindName"},
	"users.sync_filter":           {"dirsync.TestRemovalPolicies", "cmd/ldapbridge.TestSyncJSONThenGuardOnNarrowedFilterExitsOne"},
	"users.username_attribute":    {"auth.TestActiveDirectoryDownLevelNameIsStripped"},
	"users.username_case":         {"auth.TestUsernameCasePreserveKeepsDirectorySpelling"},
	"users.query_field":           {"auth.TestQueryFieldMatchesExistingAccount", "dirsync.TestSyncMatchesAccountsByQueryFieldAsLoginDoes"},
	"users.attributes":            {"auth.TestMapUserJoinsProfileAndTakesFirstAttribute"},
	"users.profile":               {"auth.TestMapUserJoinsProfileAndTakesFirstAttribute"},
	"users.photo_attribute":       {"dirsync.TestFullSyncCreatesThenSecondRunChangesNothing"},
	"users.stable_id_attribute":   {"dirsync.TestStableIDAttributeIsTheIdentity"},
	"users.multi_value_separator": {"auth.TestMapUserJoinsProfileAndTakesFirstAttribute"},
	"users.username_suffix":       {"auth.TestTwoDirectoriesWithASuffixAreTwoAccounts", "cmd/ldapbridge.TestSlapdAndSambaDirectories"},

	"groups.search.base_dn":   {"membership.TestResolveAgainstSlapd"},
	"groups.search.filter":    {"membership.TestResolveAgainstSlapd"},
	"groups.type":             {"membership.TestMembersPerType", "membership.TestAttributesPerType"},
	"groups.member_attribute": {"membership.TestAttributesPerType", "membership.TestResolveAgainstSlapd"},
	"groups.nested":           {"membership.TestNestedCostsOneSearchPerLevelAndStopsAtCycles", "auth.TestNestedMirrorStoresGroupEdges"},
	"groups.mirror":           {"auth.TestMirrorSelectsGroups"},

	"access.require":          {"auth.TestPolicyOutcomes"},
	"access.deny":             {"auth.TestPolicyOutcomes"},
	"access.flags":            {"auth.TestFlagsEvaluateAnyAllNot", "dirsync.TestUpdatesRenamesAndMembershipChanges"},
	"access.always_update":    {"auth.TestAlwaysUpdateOffStillFollowsRename"},
	"access.no_new_users":     {"auth.TestPolicyOutcomes"},
	"access.local_accounts":   {"auth.TestLocalAccountsFalseRefusesLocalLogins", "auth.TestLocalAccountWorksWhileDirectoryIsDown"},
	"access.cache_ttl":        {"auth.TestCacheLimitsWarmLoginToOneBind"},
	"access.login_source":     {"dirsync.TestMirrorLoginIsOneBindAndFallsBack"},
	"access.mirror_max_lag":   {"dirsync.TestMirrorLoginIsOneBindAndFallsBack"},
	"access.skip_unreachable": {"auth.TestUnreachableDirectoryFailsTheLoginUnlessSkipped", "cmd/ldapbridge.TestTwoDirectoriesSyncEachOnItsOwn"},

	"access.offline_login.enabled":      {"auth.TestOfflineSignInOnlyWhenNoServerAnswers", "cmd/ldapbridge.TestAuthTestOfflineAndForgetOffline"},
	"access.offline_login.max_age":      {"auth.TestOfflineSignInOnlyWhenNoServerAnswers"},
	"access.offline_login.max_failures": {"auth.TestOfflineSignInOnlyWhenNoServerAnswers"},
	"access.password_change":            {"internal/browsertest.TestBrowserPasswordResetLeadsToChangeThenSignIn", "web.TestExpiryWarningBannerAndDisabledPasswordPage"},

	"sync.schedule":          {"cmd/ldapbridge.TestParseScheduleAlignsIntervalsToTheWallClock", "cmd/ldapbridge.TestInstancesShareSessionsAndRunEachScheduledSyncOnce"},
	"sync.full_every":        {"dirsync.TestFullEveryChoosesTheMode"},
	"sync.removed_groups":    {"dirsync.TestRemovedGroupsKeepLeavesAGoneGroup"},
	"sync.groups":            {"dirsync.TestSyncGroupsFalseStoresNoGroup"},
	"sync.memberships":       {"dirsync.TestSyncMembershipsFalseStoresGroupsButNoMembership"},
	"sync.removed_users":     {"dirsync.TestRemovalPolicies"},
	"sync.max_removals":      {"dirsync.TestGuardStopsMassRemovalUntilForced"},
	"sync.exempt_users":      {"dirsync.TestExemptUsersAreNeitherCreatedNorUpdated"},
	"sync.live":              {"dirsync.TestLiveStreamAppliesChangesWithoutAScheduledRun", "dirsync.TestLiveStreamResumesFromItsCookieAfterSlapdRestarts", "cmd/ldapbridge.TestServeLiveMirrorKeepsTheStoreCurrentAndSignsOutADisabledUser"},
	"sync.live_interval":     {"dirsync.TestLiveStreamSurvivesIdlePeriodsLongerThanItsKeepAlive"},
	"sync.keep_history":      {"cmd/ldapbridge.TestSyncAuditOnTenThousandUsers"},
	"sync.pending_ttl":       {"dirsync.TestHeldRemovalsExpireAfterPendingTTLAndAnAbortIsAnEvent"},
	"events.webhooks.url":    {"cmd/ldapbridge.TestWebhooksSurviveSIGKILLBetweenCommitAndDelivery"},
	"events.webhooks.secret": {"cmd/ldapbridge.TestWebhooksSurviveSIGKILLBetweenCommitAndDelivery", "events.TestFailingReceiverGetsRetriesWithBackoffThenTheEventFails"},
	"events.webhooks.events": {"events.TestBuildSignsAndFiltersByWebhook"},
	"events.max_attempts":    {"events.TestFailingReceiverGetsRetriesWithBackoffThenTheEventFails"},

	"store.driver":   {"cmd/ldapbridge.TestPostgresStoreMigratesAndKeepsAccounts"},
	"store.dsn":      {"cmd/ldapbridge.TestPostgresStoreMigratesAndKeepsAccounts"},
	"store.dsn_file": {"config.TestSecretFiles"},

	"web.listen":                    {"cmd/ldapbridge.TestInstancesShareSessionsAndRunEachScheduledSyncOnce"},
	"web.login_rate_limit.per_user": {"web.TestSixWrongPasswordsForOneUserAreRateLimited"},
	"web.login_rate_limit.per_ip":   {"web.TestAllAttemptsFromOneAddressAreRateLimited"},
	"web.trust_proxy":               {"web.TestForwardedProtoCountsOnlyWithTrustProxy", "web.TestClientAddressUsesForwardedForOnlyWithTrustProxy"},
	"web.idle_timeout":              {"web.TestIdleKeepAliveConnectionIsClosedAfterIdleTimeout"},
	"web.read_timeout":              {"web.TestSlowBodyIsCutAfterReadTimeout"},
	"web.write_timeout":             {"web.TestNewHTTPServerSetsEveryEdgeTimeout"},
	"web.max_connections":           {"web.TestExtraConnectionsWaitAndAreServedInTurn"},
	"web.metrics_token":             {"web.TestMetricsTokenGuardsMetrics"},
	"web.metrics_token_file":        {"config.TestMetricsTokenIsASecret"},
}

// validatedOnly are keys that no named test yet proves to change
// behaviour: each is validated when the file is read and used by the code
// named in its reason, but a test asserting its effect is still owed.
// Move a key to provedBy when such a test exists.
var validatedOnly = map[string]string{
	"directory.dial_timeout":   "bounds each dial in ldapdir; tests shorten it only to run fast, none asserts the bound (TestValidationRules checks it is > 0)",
	"users.search.scope":       "passed to each user search; no test compares scopes (TestValidationRules checks the value)",
	"groups.search.scope":      "passed to each group search; no test compares scopes (validated by the same checkSearch as users.search.scope)",
	"users.extra_attributes":   "added to the attributes a user read requests, for hooks and explain; no test asserts the extra attribute arrives",
	"groups.name_attribute":    "names groups in membership; only the default cn is exercised",
	"web.session_idle_timeout": "ends idle web sessions; web tests use it but none waits for it to expire",
	"web.session_lifetime":     "ends web sessions after this long; web tests use it but none waits for it to expire",
}

// configKeys lists every leaf key of the configuration reference (a key
// whose value is not a block of keys), as the decoder accepts them.
func configKeys() []string {
	all := allKeys()
	var out []string
	for i, k := range all {
		if i+1 < len(all) && strings.HasPrefix(all[i+1], k+".") {
			continue // a block: its keys follow
		}
		out = append(out, k)
	}
	return out
}

var testFunc = regexp.MustCompile(`(?m)^func (Test\w+)\(`)

// TestEveryKeyIsProvedOrListedValidatedOnly fails when a configuration
// key is neither proved by a named test nor listed as validated-only with
// a reason, so no key is accepted and silently ignored again; and when an
// entry names a key that does not exist or a test that does not exist.
func TestEveryKeyIsProvedOrListedValidatedOnly(t *testing.T) {
	keys := configKeys()
	if len(keys) < 60 {
		t.Fatalf("found only %d keys; the walk over Config is broken", len(keys))
	}
	for _, k := range keys {
		_, proved := provedBy[k]
		reason, listed := validatedOnly[k]
		switch {
		case proved && listed:
			t.Errorf("%s is both proved by %v and listed validated-only; keep one", k, provedBy[k])
		case !proved && !listed:
			t.Errorf("%s is neither proved by a named test (provedBy) nor listed validated-only with a reason (validatedOnly)", k)
		case listed && strings.TrimSpace(reason) == "":
			t.Errorf("%s is listed validated-only without a reason", k)
		}
	}
	for k := range provedBy {
		if !slices.Contains(keys, k) {
			t.Errorf("provedBy names %s, which is not a configuration key", k)
		}
	}
	for k := range validatedOnly {
		if !slices.Contains(keys, k) {
			t.Errorf("validatedOnly names %s, which is not a configuration key", k)
		}
	}

	tests := map[string]map[string]bool{} // package dir -> test names
	testsIn := func(dir string) map[string]bool {
		if m, ok := tests[dir]; ok {
			return m
		}
		m := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join("..", filepath.FromSlash(dir), "*_test.go"))
		if dir == "config" {
			files, _ = filepath.Glob("*_test.go")
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, sm := range testFunc.FindAllStringSubmatch(string(src), -1) {
				m[sm[1]] = true
			}
		}
		tests[dir] = m
		return m
	}
	for k, names := range provedBy {
		if len(names) == 0 {
			t.Errorf("provedBy[%s] names no test", k)
		}
		for _, n := range names {
			dot := strings.LastIndex(n, ".")
			if dot < 0 || !testsIn(n[:dot])[n[dot+1:]] {
				t.Errorf("provedBy[%s] names %s, which is not a test of the module", k, n)
			}
		}
	}
}
