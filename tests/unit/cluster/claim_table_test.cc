// ClaimTable (claim_table.h): the owner's decisions, driven with explicit times: one fetcher per
// key, followers in a tree bounded by the fan-out, revocation of a fetcher that never starts,
// stalls or fails, `have` once copies are complete, and state rebuilt from progress reports.
// Issue 30: only members take part, a source a follower reports stalled is never handed out
// again (the re-claim bans and revokes it, or is declined), and a fetcher's own progress counts
// only while no reader of it reports what it received.
#include "cluster/claim_table.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace spegel::cluster {
namespace {

Provider Node(int i) {
  return Provider{"n" + std::to_string(i), "10.0.0." + std::to_string(i), 5000};
}

const std::string kKey = "sha256:" + std::string(64, 'a');

ProgressReport Progress(ProgressState state, uint64_t offset, uint64_t total = 1000) {
  return ProgressReport{kKey, state, offset, total};
}

// `reader` received the blob up to `offset` from `source`, and waits for more.
ProgressReport Reading(uint64_t offset, const std::string& source, uint64_t total = 1000) {
  return ProgressReport{kKey, ProgressState::kReading, offset, total, source};
}

// Members are n1..n8 and the owner; n9 is a stranger on the nodes' network.
bool Members(std::string_view id) { return id != "n9"; }

std::vector<std::string> Ids(const std::vector<Provider>& nodes) {
  std::vector<std::string> ids;
  for (const auto& n : nodes) ids.push_back(n.node_id);
  return ids;
}

TEST_CASE("claims: the first asker fetches, the next ones follow it, the fetcher again fetches") {
  ClaimTable table;
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  for (int i = 2; i <= 4; ++i) {
    const ClaimAnswer a = table.Claim(kKey, Node(i), {}, true, 10);
    REQUIRE(a.verdict == ClaimVerdict::kFollow);
    CHECK(a.nodes.front().node_id == "n1");
  }
  CHECK(table.Claim(kKey, Node(1), {}, true, 20).verdict == ClaimVerdict::kFetch);
  CHECK(table.stats().fetch == 2);
  CHECK(table.stats().follow == 3);
}

TEST_CASE("claims: complete copies win over everything") {
  ClaimTable table;
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  const ClaimAnswer a = table.Claim(kKey, Node(2), {Node(7)}, true, 1);
  CHECK(a.verdict == ClaimVerdict::kHave);
  CHECK(Ids(a.nodes) == std::vector<std::string>{"n7"});
}

TEST_CASE("claims: a node that cannot serve in-flight bytes never fetches") {
  ClaimTable table;
  CHECK(table.Claim(kKey, Node(1), {}, false, 0).verdict == ClaimVerdict::kDecline);
  CHECK(table.stats().keys == 0);
  CHECK(table.Claim(kKey, Node(2), {}, true, 1).verdict == ClaimVerdict::kFetch);
  // It may follow, though: reading from a peer needs nothing of its content directory. It takes
  // a reader slot, and is never handed out as a source.
  CHECK(table.Claim(kKey, Node(1), {}, false, 2).verdict == ClaimVerdict::kFollow);
  const ClaimAnswer a = table.Claim(kKey, Node(3), {}, true, 3);
  REQUIRE(a.verdict == ClaimVerdict::kFollow);
  CHECK(Ids(a.nodes) == std::vector<std::string>{"n2"});
  CHECK(table.Describe(kKey, 3).find("n2:0:2") != std::string::npos);
}

TEST_CASE("claims: followers form a tree bounded by the fan-out") {
  ClaimOptions options;
  options.fanout = 2;
  ClaimTable table(options);
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  std::vector<std::string> parents;
  for (int i = 2; i <= 7; ++i) {
    const ClaimAnswer a = table.Claim(kKey, Node(i), {}, true, 1);
    REQUIRE(a.verdict == ClaimVerdict::kFollow);
    parents.push_back(a.nodes.front().node_id);
    // Below a follower, the fetcher comes second: the one place to resume from.
    CHECK(Ids(a.nodes) == (a.nodes.front().node_id == "n1"
                               ? std::vector<std::string>{"n1"}
                               : std::vector<std::string>{a.nodes.front().node_id, "n1"}));
  }
  // n1 takes two readers; n2 and n3 (its followers) two each.
  CHECK(parents == std::vector<std::string>{"n1", "n1", "n2", "n2", "n3", "n3"});
  const std::string d = table.Describe(kKey, 1);
  CHECK(d.find("n1:0:2") != std::string::npos);
  CHECK(d.find("n2:0:2") != std::string::npos);
  CHECK(d.find("n4:0:0") != std::string::npos);
}

TEST_CASE("claims: a fetcher that never reports progress loses the claim at its start deadline") {
  ClaimOptions options;
  options.start_ms = 100;
  ClaimTable table(options);
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(table.Claim(kKey, Node(2), {}, true, 99).verdict == ClaimVerdict::kFollow);
  CHECK(table.Claim(kKey, Node(3), {}, true, 100).verdict == ClaimVerdict::kFetch);
  CHECK(table.stats().revoked == 1);
  // The old fetcher hears so on its next report.
  CHECK_FALSE(table.Report(Progress(ProgressState::kFetching, 5), Node(1), 101));
  CHECK(table.Report(Progress(ProgressState::kFetching, 5), Node(3), 101));
}

TEST_CASE("claims: progress renews the lease; a stalled fetcher is revoked") {
  ClaimOptions options;
  options.start_ms = 100;
  options.stall_ms = 1000;
  options.min_progress_bytes = 100;
  ClaimOptions stuck_options = options;
  ClaimTable table(options);
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  uint64_t now = 0;
  for (uint64_t offset = 100; offset <= 500; offset += 100) {
    now += 900;
    CHECK(table.Report(Progress(ProgressState::kFetching, offset), Node(1), now));
    CHECK(table.Claim(kKey, Node(2), {}, true, now).verdict == ClaimVerdict::kFollow);
  }
  // A crawl (less than min_progress_bytes per stall limit) renews nothing: still live within
  // the stall limit, revoked after it.
  CHECK(table.Report(Progress(ProgressState::kFetching, 550), Node(1), now + 500));
  CHECK(table.Report(Progress(ProgressState::kFetching, 590), Node(1), now + 999));
  CHECK_FALSE(table.Report(Progress(ProgressState::kFetching, 599), Node(1), now + 1000));
  CHECK(table.Claim(kKey, Node(2), {}, true, now + 1001).verdict == ClaimVerdict::kFetch);

  // An offset that stays put is a stall too; reaching the total is progress, however small.
  ClaimTable stuck(stuck_options);
  CHECK(stuck.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(stuck.Report(Progress(ProgressState::kFetching, 950), Node(1), 10));
  CHECK(stuck.Report(Progress(ProgressState::kFetching, 1000), Node(1), 1005));
  CHECK(stuck.Report(Progress(ProgressState::kFetching, 1000), Node(1), 2004));
  CHECK_FALSE(stuck.Report(Progress(ProgressState::kFetching, 1000), Node(1), 2005));
}

TEST_CASE("claims: a follower of a fetcher that stopped advancing claims again and fetches") {
  ClaimOptions options;
  options.stall_ms = 5000;
  options.reclaim_stall_ms = 2000;
  ClaimTable table(options);
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(table.Report(Progress(ProgressState::kFetching, 100), Node(1), 10));
  CHECK(table.Claim(kKey, Node(2), {}, true, 20).verdict == ClaimVerdict::kFollow);
  CHECK(table.Claim(kKey, Node(3), {}, true, 20).verdict == ClaimVerdict::kFollow);
  // Within reclaim_stall_ms of the fetcher's last advance a re-claim follows it again.
  CHECK(table.Claim(kKey, Node(2), {}, true, 2009).verdict == ClaimVerdict::kFollow);
  // Past it, the follower's re-claim is the stall its reader saw: it becomes the fetcher, the
  // other follower's re-claim follows it, and the old fetcher hears it was revoked.
  CHECK(table.Claim(kKey, Node(2), {}, true, 2010).verdict == ClaimVerdict::kFetch);
  const ClaimAnswer a = table.Claim(kKey, Node(3), {}, true, 2011);
  REQUIRE(a.verdict == ClaimVerdict::kFollow);
  CHECK(a.nodes.front().node_id == "n2");
  CHECK_FALSE(table.Report(Progress(ProgressState::kFetching, 100), Node(1), 2012));
  CHECK(table.stats().revoked == 1);
  // A new asker (not a follower of the fetcher) never revokes: it follows.
  ClaimTable fresh(options);
  CHECK(fresh.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(fresh.Report(Progress(ProgressState::kFetching, 100), Node(1), 10));
  CHECK(fresh.Claim(kKey, Node(4), {}, true, 4000).verdict == ClaimVerdict::kFollow);
}

TEST_CASE("claims: done nodes answer have; a failed fetcher makes room for the next") {
  ClaimTable table;
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(table.Report(Progress(ProgressState::kFailed, 0), Node(1), 5));
  CHECK(table.Claim(kKey, Node(2), {}, true, 6).verdict == ClaimVerdict::kFetch);
  CHECK(table.Report(Progress(ProgressState::kDone, 1000), Node(2), 50));
  const ClaimAnswer a = table.Claim(kKey, Node(3), {}, true, 60);
  CHECK(a.verdict == ClaimVerdict::kHave);
  CHECK(Ids(a.nodes) == std::vector<std::string>{"n2"});
  // A done node that then finds its copy bad withdraws it: the next asker fetches.
  CHECK(table.Report(Progress(ProgressState::kFailed, 1000), Node(2), 70));
  CHECK(table.Claim(kKey, Node(3), {}, true, 71).verdict == ClaimVerdict::kFetch);
}

TEST_CASE("claims: a new owner rebuilds the claim from reports") {
  ClaimTable table;
  CHECK(table.Report(Progress(ProgressState::kFetching, 300), Node(1), 0));
  CHECK(table.Report(Progress(ProgressState::kFollowing, 200), Node(2), 0));
  const ClaimAnswer a = table.Claim(kKey, Node(3), {}, true, 1);
  REQUIRE(a.verdict == ClaimVerdict::kFollow);
  CHECK(a.nodes.front().node_id == "n1");
  // The fetcher alone: n2 follows it and can never be further along.
  CHECK(Ids(a.nodes) == std::vector<std::string>{"n1"});
}

TEST_CASE("claims: sweep drops what nobody reports, and a node that leaves") {
  ClaimOptions options;
  options.start_ms = 100;
  options.source_idle_ms = 100;
  ClaimTable table(options);
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(table.Claim(kKey, Node(2), {}, true, 0).verdict == ClaimVerdict::kFollow);
  table.Sweep(50);
  CHECK(table.stats().keys == 1);
  table.Sweep(200);
  CHECK(table.stats().keys == 0);
  CHECK(table.Claim(kKey, Node(1), {}, true, 300).verdict == ClaimVerdict::kFetch);
  table.DropNode("n1");
  CHECK(table.Claim(kKey, Node(2), {}, true, 301).verdict == ClaimVerdict::kFetch);
}

TEST_CASE("claims: the table is bounded") {
  ClaimOptions options;
  options.max_keys = 2;
  ClaimTable table(options);
  CHECK(table.Claim("k1", Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(table.Claim("k2", Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(table.Claim("k3", Node(1), {}, true, 0).verdict == ClaimVerdict::kDecline);
  CHECK(table.Claim("k1", Node(2), {}, true, 0).verdict == ClaimVerdict::kFollow);
}

TEST_CASE("claims: a stranger is declined, and its reports rebuild and confirm nothing") {
  ClaimTable table(ClaimOptions{}, Members);
  CHECK(table.Claim(kKey, Node(9), {}, true, 0).verdict == ClaimVerdict::kDecline);
  CHECK(table.stats().keys == 0);
  // Told it fetches nothing; no claim is rebuilt around it.
  CHECK_FALSE(table.Report(Progress(ProgressState::kFetching, 300), Node(9), 1));
  CHECK(table.Report(Progress(ProgressState::kFollowing, 300), Node(9), 1));
  CHECK(table.Report(Progress(ProgressState::kDone, 1000), Node(9), 1));
  CHECK(table.stats().keys == 0);
  // Members coalesce as before; the stranger is still declined, even with complete copies.
  CHECK(table.Claim(kKey, Node(1), {}, true, 2).verdict == ClaimVerdict::kFetch);
  CHECK(table.Claim(kKey, Node(2), {}, true, 3).verdict == ClaimVerdict::kFollow);
  CHECK(table.Claim(kKey, Node(9), {}, true, 4).verdict == ClaimVerdict::kDecline);
  CHECK(table.Claim(kKey, Node(9), {Node(7)}, true, 4).verdict == ClaimVerdict::kDecline);
  CHECK(table.Report(Reading(900, "n1"), Node(9), 5));
  CHECK(table.Describe(kKey, 5).find("n9") == std::string::npos);
  CHECK(table.Describe(kKey, 5).find("confirmed=0") != std::string::npos);
  CHECK(table.stats().strangers == 7);
}

TEST_CASE("claims: a fetcher or source that left the membership is handed out no more") {
  std::set<std::string> gone;
  ClaimOptions options;
  options.fanout = 1;
  ClaimTable table(options, [&](std::string_view id) { return !gone.count(std::string(id)); });
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(Ids(table.Claim(kKey, Node(2), {}, true, 1).nodes) == std::vector<std::string>{"n1"});
  CHECK(Ids(table.Claim(kKey, Node(3), {}, true, 2).nodes) == std::vector<std::string>{"n2", "n1"});
  gone = {"n2"};  // Not yet dropped from the table (the membership listener runs later).
  CHECK(Ids(table.Claim(kKey, Node(4), {}, true, 3).nodes) == std::vector<std::string>{"n3", "n1"});
  gone = {"n1"};
  CHECK(table.Claim(kKey, Node(5), {}, true, 4).verdict == ClaimVerdict::kFetch);
  CHECK(table.stats().revoked == 1);
}

TEST_CASE("claims: a fetcher a follower reports stalled is revoked, banned, never handed out") {
  // Issue 30, row 3: the fetcher claims progress every second while it serves a head and ten
  // bytes, then holds.
  ClaimOptions options;
  options.stall_ms = 5000;
  options.reclaim_stall_ms = 2000;
  options.min_progress_bytes = 100;
  ClaimTable table(options, Members);
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(table.Report(Progress(ProgressState::kFetching, 100), Node(1), 1000));
  CHECK(Ids(table.Claim(kKey, Node(2), {}, true, 1000).nodes) == std::vector<std::string>{"n1"});
  CHECK(table.Report(Reading(10, "n1"), Node(2), 1500));
  CHECK(table.Report(Progress(ProgressState::kFetching, 400), Node(1), 2000));
  // n2's stream stalled and its containerd resumes: the re-claim names n1. Nobody else saw n1
  // advance: n1 is revoked and banned, and n2 fetches.
  const ClaimAnswer again = table.Claim(kKey, Node(2), {}, true, 2500, {"n1"});
  CHECK(again.verdict == ClaimVerdict::kFetch);
  CHECK(table.stats().complaints == 1);
  CHECK(table.stats().banned == 1);
  CHECK(table.stats().revoked == 1);
  CHECK_FALSE(table.Report(Progress(ProgressState::kFetching, 600), Node(1), 3000));
  CHECK(table.Describe(kKey, 3000).find("banned=n1") != std::string::npos);
  // n1 is no fetcher or source of the key again: it may read (n2 is the source), others never
  // get n1, and with n2 gone it cannot take the claim back.
  CHECK(Ids(table.Claim(kKey, Node(1), {}, true, 3100).nodes) == std::vector<std::string>{"n2"});
  CHECK(table.Report(Progress(ProgressState::kFollowing, 50), Node(1), 3200));
  for (int i = 3; i <= 6; ++i) {
    const ClaimAnswer a = table.Claim(kKey, Node(i), {}, true, 3300);
    if (a.verdict == ClaimVerdict::kFollow) {
      for (const Provider& p : a.nodes) CHECK(p.node_id != "n1");
    }
  }
  CHECK(table.Report(Progress(ProgressState::kFailed, 0), Node(2), 3400));
  CHECK(table.Claim(kKey, Node(1), {}, true, 3500).verdict != ClaimVerdict::kFetch);
  CHECK(table.Report(Progress(ProgressState::kDone, 1000), Node(1), 3600));
  CHECK(table.Claim(kKey, Node(7), {}, true, 3700).verdict == ClaimVerdict::kFetch);
  // The ban ends after ban_ms.
  CHECK(table.Describe(kKey, 3000 + options.ban_ms).find("banned=n1") == std::string::npos);
}

TEST_CASE("claims: a complaint against a fetcher other readers see advancing is declined") {
  ClaimOptions options;
  options.min_progress_bytes = 100;
  ClaimTable table(options, Members);
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(table.Claim(kKey, Node(2), {}, true, 10).verdict == ClaimVerdict::kFollow);
  CHECK(table.Claim(kKey, Node(3), {}, true, 10).verdict == ClaimVerdict::kFollow);
  CHECK(table.Report(Reading(150, "n1"), Node(3), 1000));
  CHECK(table.Report(Reading(400, "n1"), Node(3), 2000));
  // n2 lost its stream (its own network): it goes upstream; n1 keeps the claim.
  CHECK(table.Claim(kKey, Node(2), {}, true, 2500, {"n1"}).verdict == ClaimVerdict::kDecline);
  CHECK(table.stats().complaints == 1);
  CHECK(table.stats().banned == 0);
  CHECK(Ids(table.Claim(kKey, Node(4), {}, true, 2600).nodes) == std::vector<std::string>{"n1"});
  CHECK(table.Describe(kKey, 2600).find("confirmed=400") != std::string::npos);
  // A stranger's complaint counts for nothing.
  CHECK(table.Claim(kKey, Node(9), {}, true, 2700, {"n1"}).verdict == ClaimVerdict::kDecline);
  CHECK(table.stats().complaints == 1);
  // A reader still catching up behind where the asker's stream stopped proves nothing of the
  // source now: the complaint stands.
  ClaimTable behind(options, Members);
  CHECK(behind.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(behind.Claim(kKey, Node(2), {}, true, 10).verdict == ClaimVerdict::kFollow);
  CHECK(behind.Claim(kKey, Node(3), {}, true, 10).verdict == ClaimVerdict::kFollow);
  CHECK(behind.Report(Reading(500, "n1"), Node(2), 1000));
  CHECK(behind.Report(Reading(150, "n1"), Node(3), 1000));
  CHECK(behind.Report(Reading(400, "n1"), Node(3), 2000));
  CHECK(behind.Claim(kKey, Node(2), {}, true, 2500, {"n1"}).verdict == ClaimVerdict::kFetch);
  CHECK(behind.stats().banned == 1);
}

TEST_CASE("claims: a follower source reported stalled is skipped, and banned if unconfirmed") {
  ClaimOptions options;
  options.fanout = 2;
  ClaimTable table(options, Members);
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(table.Claim(kKey, Node(2), {}, true, 1).verdict == ClaimVerdict::kFollow);
  CHECK(table.Claim(kKey, Node(3), {}, true, 1).verdict == ClaimVerdict::kFollow);
  CHECK(Ids(table.Claim(kKey, Node(4), {}, true, 2).nodes) == std::vector<std::string>{"n2", "n1"});
  // n4's stream from n2 stalled: n2 is banned, and n4 goes to n3.
  CHECK(Ids(table.Claim(kKey, Node(4), {}, true, 3, {"n2"}).nodes) ==
        std::vector<std::string>{"n3", "n1"});
  CHECK(table.stats().banned == 1);
  // Nobody gets n2 again, even once it reports its copy.
  CHECK(table.Report(Progress(ProgressState::kFollowing, 500), Node(2), 4));
  for (int i = 5; i <= 8; ++i) {
    const ClaimAnswer a = table.Claim(kKey, Node(i), {}, true, 5);
    for (const Provider& p : a.nodes) CHECK(p.node_id != "n2");
  }
  // The asker's own list is honoured whatever the owner thinks of the source.
  ClaimTable fresh(options, Members);
  CHECK(fresh.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(fresh.Report(Progress(ProgressState::kDone, 1000), Node(1), 1));
  CHECK(fresh.Claim(kKey, Node(2), {}, true, 2, {"n1"}).verdict == ClaimVerdict::kFetch);
  // A complaint about a node that is no source (any more) bans it too: it must not come back.
  CHECK(fresh.stats().banned == 1);
  CHECK(fresh.Report(Progress(ProgressState::kFailed, 0), Node(2), 3));
  CHECK(fresh.Claim(kKey, Node(1), {}, true, 4).verdict == ClaimVerdict::kDecline);
}

TEST_CASE("claims: false progress without reader confirmation does not keep a lease") {
  ClaimOptions options;
  options.stall_ms = 1000;
  options.reclaim_stall_ms = 1000;
  options.min_progress_bytes = 100;
  options.reader_window_ms = 3000;
  ClaimTable table(options, Members);
  CHECK(table.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(table.Report(Progress(ProgressState::kFetching, 100), Node(1), 100));
  CHECK(table.Claim(kKey, Node(2), {}, true, 100).verdict == ClaimVerdict::kFollow);
  // Its reader waits with ten bytes while the fetcher claims 300 bytes a report: no renewal.
  CHECK(table.Report(Reading(10, "n1"), Node(2), 400));
  CHECK(table.Report(Progress(ProgressState::kFetching, 400), Node(1), 500));
  CHECK(table.Report(Reading(10, "n1"), Node(2), 800));
  CHECK(table.Report(Progress(ProgressState::kFetching, 700), Node(1), 900));
  CHECK_FALSE(table.Report(Progress(ProgressState::kFetching, 999), Node(1), 1100));
  CHECK(table.stats().revoked == 1);
  CHECK(table.Claim(kKey, Node(3), {}, true, 1101).verdict == ClaimVerdict::kFetch);
  // Its readers saw it stall: banned for the key, as if complained of. Claiming again, it reads
  // at most, and never takes the claim back.
  CHECK(table.stats().banned == 1);
  CHECK(Ids(table.Claim(kKey, Node(1), {}, true, 1102).nodes) == std::vector<std::string>{"n3"});
  CHECK(table.Report(Progress(ProgressState::kFailed, 0), Node(3), 1103));
  CHECK(table.Claim(kKey, Node(1), {}, true, 1104).verdict == ClaimVerdict::kDecline);

  // What its readers receive does renew it: the same fetcher, confirmed.
  ClaimTable confirmed(options, Members);
  CHECK(confirmed.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(confirmed.Report(Progress(ProgressState::kFetching, 100), Node(1), 100));
  CHECK(confirmed.Claim(kKey, Node(2), {}, true, 100).verdict == ClaimVerdict::kFollow);
  CHECK(confirmed.Report(Reading(150, "n1"), Node(2), 800));
  CHECK(confirmed.Report(Progress(ProgressState::kFetching, 700), Node(1), 1100));
  CHECK(confirmed.Report(Reading(300, "n1"), Node(2), 1700));
  CHECK(confirmed.Report(Progress(ProgressState::kFetching, 999), Node(1), 2600));
  CHECK(confirmed.Claim(kKey, Node(3), {}, true, 2600).verdict == ClaimVerdict::kFollow);
  // A reader that stopped reporting (it left, or waits for its own client) leaves the fetcher's
  // own offsets to count again once reader_window_ms passed.
  CHECK(confirmed.Report(Progress(ProgressState::kFetching, 999), Node(1), 4700));
  CHECK(confirmed.Claim(kKey, Node(4), {}, true, 4800).verdict == ClaimVerdict::kFollow);
  ClaimTable quiet(options, Members);
  CHECK(quiet.Claim(kKey, Node(1), {}, true, 0).verdict == ClaimVerdict::kFetch);
  CHECK(quiet.Claim(kKey, Node(2), {}, true, 0).verdict == ClaimVerdict::kFollow);
  CHECK(quiet.Report(Reading(10, "n1"), Node(2), 100));
  CHECK(quiet.Report(Progress(ProgressState::kFetching, 100), Node(1), 200));   // Start deadline.
  CHECK(quiet.Report(Progress(ProgressState::kFetching, 300), Node(1), 3200));  // Reader gone.
  CHECK(quiet.Report(Progress(ProgressState::kFetching, 500), Node(1), 4100));
  CHECK(quiet.Report(Progress(ProgressState::kFetching, 700), Node(1), 5000));
}

}  // namespace
}  // namespace spegel::cluster
