// ClaimTable (claim_table.h): the owner's decisions, driven with explicit times: one fetcher per
// key, followers in a tree bounded by the fan-out, revocation of a fetcher that never starts,
// stalls or fails, `have` once copies are complete, and state rebuilt from progress reports.
#include "cluster/claim_table.h"

#include <doctest/doctest.h>

#include <string>
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

}  // namespace
}  // namespace spegel::cluster
