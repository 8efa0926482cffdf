// ClaimClient (claim_client.h) on a manual clock, against owners' ClaimTables over an in-process
// transport: the claim owner choice, failover from a refusing owner, the budget against a silent
// one, the attempts limit, two nodes with different views of the first owner, the local owner
// short-cut, progress reports and stopping.
#include "cluster/claim_client.h"

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace spegel::cluster {
namespace {

const std::string kKey = "sha256:" + std::string(64, 'c');
// Every key's owners, best first: the tests fix them rather than hash them.
const std::vector<std::string> kOwners = {"o1", "o2", "o3"};
constexpr uint64_t kLatencyMs = 5;
constexpr uint64_t kBudgetMs = 250;

MemberInfo Info(const std::string& id) {
  MemberInfo info;
  info.node_id = id;
  info.incarnation = 1;
  // One node per address and router port (Membership replaces a member whose address and
  // router port another id says hello from).
  info.addresses = {"10.0." + std::to_string(id.size()) + "." +
                    std::to_string(static_cast<unsigned char>(id.back()))};
  info.registry_port = 5000;
  info.router_port = 5001;
  return info;
}

Provider AsProvider(const std::string& id) {
  return Provider{id, Info(id).addresses.front(), 5000};
}

// The owners' side: one ClaimTable per owner id. An owner in `refuse` fails every request after
// one latency (a refused connection); one in `silent` never answers (its callbacks are kept, and
// run only by ReleaseSilent).
struct Owners {
  explicit Owners(ManualScheduler* s) : sched(s) {}
  ManualScheduler* sched;
  std::map<std::string, ClaimTable> tables;
  std::set<std::string> refuse;
  std::set<std::string> silent;
  std::vector<std::pair<std::string, std::string>> claims;  // {asker, owner}, in order sent.
  std::vector<std::pair<std::string, std::string>> progress;
  std::vector<std::unique_ptr<ScheduledTask>> tasks;
  std::vector<std::function<void()>> held;

  void ReleaseSilent() {
    for (auto& fn : held) fn();
    held.clear();
  }
  size_t Fetches() const {
    uint64_t fetches = 0;
    for (const auto& [id, table] : tables) fetches += table.stats().fetch;
    return fetches;
  }
};

// One asking node's transport to the owners.
class OwnersTransport : public RouterTransport {
 public:
  OwnersTransport(Owners* owners, std::string self) : owners_(owners), self_(std::move(self)) {}

  void Announce(const Member&, const AnnounceBatch&, std::function<void(Status)> done) override {
    Reply([done] { done(Status::Unavailable("no announces here")); });
  }
  void Lookup(const Member&, const std::string&,
              std::function<void(Result<std::vector<Provider>>)> done) override {
    Reply([done] { done(Status::Unavailable("no lookups here")); });
  }
  void Claim(const Member& owner, const ClaimRequest& request, uint64_t,
             std::function<void(Result<ClaimAnswer>)> done) override {
    const std::string id = owner.info.node_id;
    owners_->claims.emplace_back(self_, id);
    if (owners_->silent.count(id)) {
      owners_->held.push_back([done] { done(ClaimAnswer{}); });
      return;
    }
    Reply([this, id, request, done] {
      if (owners_->refuse.count(id)) return done(Status::Unavailable("connection refused"));
      done(owners_->tables[id].Claim(request.key, AsProvider(self_), {}, request.can_serve,
                                     owners_->sched->NowMs(), request.avoid));
    });
  }
  void Progress(const Member& owner, const std::vector<ProgressReport>& reports,
                std::function<void(Result<std::vector<std::string>>)> done) override {
    const std::string id = owner.info.node_id;
    owners_->progress.emplace_back(self_, id);
    Reply([this, id, reports, done] {
      if (owners_->refuse.count(id)) return done(Status::Unavailable("connection refused"));
      std::vector<std::string> revoked;
      for (const ProgressReport& report : reports) {
        if (!owners_->tables[id].Report(report, AsProvider(self_), owners_->sched->NowMs())) {
          revoked.push_back(report.key);
        }
      }
      done(std::move(revoked));
    });
  }

 private:
  void Reply(std::function<void()> fn) {
    owners_->tasks.push_back(owners_->sched->After(kLatencyMs, std::move(fn)));
  }
  Owners* owners_;
  std::string self_;
};

// One asking node: its own view of the membership (every owner and the other askers), its
// transport and its ClaimClient. When it is one of the key's owners, its own table answers.
struct Asker {
  Asker(ManualScheduler* sched, Owners* owners, const std::string& id,
        const std::vector<std::string>& members, size_t owner_attempts = 2)
      : membership(sched, id), transport(owners, id) {
    for (const std::string& m : members)
      membership.Observe(Info(m), MemberSource::kStatic, 1'000'000);
    ClaimClientOptions options;
    options.claim_timeout_ms = kBudgetMs;
    options.owner_attempts = owner_attempts;
    ClaimTable* own_table = &owners->tables[id];
    client = std::make_unique<ClaimClient>(
        sched, &membership, &transport, id, [](std::string_view) { return kOwners; },
        ClaimClient::LocalOwner{[this, sched, own_table,
                                 id](const std::string& key, bool can_serve,
                                     const std::vector<std::string>& avoid) {
                                  ++local_claims;
                                  return own_table->Claim(key, AsProvider(id), {}, can_serve,
                                                          sched->NowMs(), avoid);
                                },
                                [sched, own_table, id](const ProgressReport& report) {
                                  return own_table->Report(report, AsProvider(id), sched->NowMs());
                                }},
        options);
  }

  // Claims kKey; the answers (one expected) collect in `answers`.
  void Claim(const std::vector<std::string>& avoid = {}) {
    client->Claim(kKey, true, avoid, [this](ClaimAnswer a) { answers.push_back(std::move(a)); });
  }
  bool Avoids(const std::string& id) const { return membership.IsAvoided(*membership.Find(id)); }

  Membership membership;
  OwnersTransport transport;
  std::unique_ptr<ClaimClient> client;
  std::vector<ClaimAnswer> answers;
  int local_claims = 0;
};

struct Fixture {
  ManualScheduler sched;
  Owners owners{&sched};
  const std::vector<std::string> members = {"o1", "o2", "o3", "a", "b"};
};

TEST_CASE_FIXTURE(Fixture, "claim client: the first owner answers; never inline") {
  Asker a(&sched, &owners, "a", members);
  CHECK(a.client->OwnerOf(kKey) == "o1");
  a.Claim();
  CHECK(a.answers.empty());
  sched.RunFor(kLatencyMs);
  REQUIRE(a.answers.size() == 1);
  CHECK(a.answers[0].verdict == ClaimVerdict::kFetch);
  CHECK(owners.claims == std::vector<std::pair<std::string, std::string>>{{"a", "o1"}});
  CHECK(a.client->stats().requests == 1);
  CHECK(a.client->stats().messages == 1);
  CHECK(a.client->stats().failovers == 0);
}

TEST_CASE_FIXTURE(Fixture, "claim client: a refusing owner is avoided and the next one asked") {
  owners.refuse = {"o1"};
  Asker a(&sched, &owners, "a", members);
  a.Claim();
  sched.RunFor(kBudgetMs);
  REQUIRE(a.answers.size() == 1);
  CHECK(a.answers[0].verdict == ClaimVerdict::kFetch);
  CHECK(owners.claims ==
        std::vector<std::pair<std::string, std::string>>{{"a", "o1"}, {"a", "o2"}});
  CHECK(owners.tables["o2"].stats().fetch == 1);
  CHECK(a.Avoids("o1"));
  CHECK(a.client->OwnerOf(kKey) == "o2");  // Later claims and progress go there at once.
  CHECK(a.client->stats().messages == 2);
  CHECK(a.client->stats().failovers == 1);
}

TEST_CASE_FIXTURE(Fixture, "claim client: a silent owner costs the budget, then kDecline once") {
  owners.silent = {"o1"};
  Asker a(&sched, &owners, "a", members);
  a.Claim();
  sched.RunFor(kBudgetMs - 1);
  CHECK(a.answers.empty());
  sched.RunFor(1);
  REQUIRE(a.answers.size() == 1);
  CHECK(a.answers[0].verdict == ClaimVerdict::kDecline);
  // The answer arriving after the budget changes nothing, and silence is no failure to avoid.
  owners.ReleaseSilent();
  sched.RunFor(kBudgetMs);
  CHECK(a.answers.size() == 1);
  CHECK_FALSE(a.Avoids("o1"));
  CHECK(owners.claims.size() == 1);
}

TEST_CASE_FIXTURE(Fixture, "claim client: failovers stop at owner_attempts and within the budget") {
  SUBCASE("attempts spent: two owners refuse, the third is never asked") {
    owners.refuse = {"o1", "o2"};
    Asker a(&sched, &owners, "a", members);
    a.Claim();
    sched.RunFor(2 * kLatencyMs);
    REQUIRE(a.answers.size() == 1);
    CHECK(a.answers[0].verdict == ClaimVerdict::kDecline);
    CHECK(owners.claims ==
          std::vector<std::pair<std::string, std::string>>{{"a", "o1"}, {"a", "o2"}});
    CHECK(a.client->stats().failovers == 1);
    CHECK(a.Avoids("o1"));
    CHECK_FALSE(a.Avoids("o2"));  // The last owner's failure ends the claim, not the owner.
  }
  SUBCASE("budget spent: the next owner is silent; the budget does not restart") {
    owners.refuse = {"o1"};
    owners.silent = {"o2"};
    Asker a(&sched, &owners, "a", members, 3);
    a.Claim();
    sched.RunFor(kBudgetMs - 1);
    CHECK(a.answers.empty());
    sched.RunFor(1);
    REQUIRE(a.answers.size() == 1);
    CHECK(a.answers[0].verdict == ClaimVerdict::kDecline);
    CHECK(owners.claims.size() == 2);
  }
  SUBCASE("one attempt: no failover at all") {
    owners.refuse = {"o1"};
    Asker a(&sched, &owners, "a", members, 1);
    a.Claim();
    sched.RunFor(kBudgetMs);
    REQUIRE(a.answers.size() == 1);
    CHECK(a.answers[0].verdict == ClaimVerdict::kDecline);
    CHECK(owners.claims.size() == 1);
    CHECK(a.client->stats().failovers == 0);
  }
}

TEST_CASE_FIXTURE(Fixture, "claim client: two views of a dead first owner end at one owner") {
  // o1 is down. `a` has not noticed yet; `b` already avoids it. Both end at o2, which makes one
  // of them the fetcher and the other its follower.
  owners.refuse = {"o1"};
  Asker a(&sched, &owners, "a", members);
  Asker b(&sched, &owners, "b", members);
  b.membership.ReportFailure("o1");
  CHECK(a.client->OwnerOf(kKey) == "o1");
  CHECK(b.client->OwnerOf(kKey) == "o2");
  a.Claim();
  b.Claim();
  sched.RunFor(kBudgetMs);
  REQUIRE(a.answers.size() == 1);
  REQUIRE(b.answers.size() == 1);
  CHECK(b.answers[0].verdict == ClaimVerdict::kFetch);  // It reached o2 first.
  REQUIRE(a.answers[0].verdict == ClaimVerdict::kFollow);
  CHECK(a.answers[0].nodes.front().node_id == "b");
  CHECK(owners.Fetches() == 1);
  CHECK(owners.tables["o1"].stats().keys == 0);
}

TEST_CASE_FIXTURE(Fixture, "claim client: this node as the owner answers itself, a turn later") {
  Asker o1(&sched, &owners, "o1", {"o2", "o3", "a"});
  Asker a(&sched, &owners, "a", members);
  o1.Claim();
  CHECK(o1.answers.empty());
  CHECK(o1.local_claims == 1);
  sched.RunFor(0);
  REQUIRE(o1.answers.size() == 1);
  CHECK(o1.answers[0].verdict == ClaimVerdict::kFetch);
  CHECK(owners.claims.empty());
  CHECK(o1.client->stats().messages == 0);
  // The same table answers the others: they follow the owner's own fetch.
  a.Claim();
  sched.RunFor(kLatencyMs);
  REQUIRE(a.answers.size() == 1);
  CHECK(a.answers[0].verdict == ClaimVerdict::kFollow);
  CHECK(a.answers[0].nodes.front().node_id == "o1");
}

TEST_CASE_FIXTURE(Fixture, "claim client: progress goes to the claim owners; revoked keys return") {
  ClaimOptions claim_options;
  claim_options.start_ms = 100;
  owners.tables.emplace("o1", ClaimTable(claim_options));
  Asker o1(&sched, &owners, "o1", {"o2", "o3", "a"});
  Asker a(&sched, &owners, "a", members);
  const std::string other = "sha256:" + std::string(64, 'd');
  std::vector<std::string> revoked;
  auto on_revoked = [&revoked](const std::string& key) { revoked.push_back(key); };
  // `a` fetches both keys (owner o1) and never starts: both leases miss their start deadline, and
  // its reports, one message for both keys, hear so.
  a.Claim();
  a.client->Claim(other, true, {}, [](const ClaimAnswer&) {});
  sched.RunFor(kLatencyMs + 200);
  a.client->ReportProgress({{kKey, ProgressState::kFetching, 0, 100},
                            {other, ProgressState::kFetching, 0, 100}},
                           on_revoked);
  CHECK(owners.progress == std::vector<std::pair<std::string, std::string>>{{"a", "o1"}});
  sched.RunFor(kLatencyMs);
  CHECK(revoked == std::vector<std::string>{kKey, other});
  // The owner's own reports go to its own table, and a revocation comes a turn later.
  revoked.clear();
  o1.Claim();
  sched.RunFor(200);
  o1.client->ReportProgress({{kKey, ProgressState::kFetching, 0, 100},
                             {other, ProgressState::kFollowing, 10, 100}},
                            on_revoked);
  CHECK(revoked.empty());
  sched.RunFor(0);
  CHECK(revoked == std::vector<std::string>{kKey});
  CHECK(owners.progress.size() == 1);
}

TEST_CASE_FIXTURE(Fixture, "claim client: the sources a claim avoids reach the owner") {
  // `a` fetches; `b` follows it, its stream stalls, and its re-claim names `a`: the owner bans
  // `a` and `b` fetches. The same complaint to a local owner (o1 claiming its own key).
  Asker a(&sched, &owners, "a", members);
  Asker b(&sched, &owners, "b", members);
  a.Claim();
  sched.RunFor(kLatencyMs);
  b.Claim();
  sched.RunFor(kLatencyMs);
  REQUIRE(b.answers.size() == 1);
  REQUIRE(b.answers[0].verdict == ClaimVerdict::kFollow);
  b.Claim({"a"});
  sched.RunFor(kLatencyMs);
  REQUIRE(b.answers.size() == 2);
  CHECK(b.answers[1].verdict == ClaimVerdict::kFetch);
  CHECK(owners.tables["o1"].stats().banned == 1);
  Asker o1(&sched, &owners, "o1", {"o2", "o3", "a", "b"});
  o1.Claim({"b"});
  sched.RunFor(kLatencyMs);
  REQUIRE(o1.answers.size() == 1);
  CHECK(o1.local_claims == 1);
  CHECK(o1.answers[0].verdict == ClaimVerdict::kFetch);
  CHECK(owners.tables["o1"].stats().banned == 2);
}

TEST_CASE_FIXTURE(Fixture, "claim client: once stopped, claims decline without a message") {
  Asker a(&sched, &owners, "a", members);
  a.client->Stop();
  a.Claim();
  a.client->ReportProgress({{kKey, ProgressState::kFetching, 10, 100}},
                           [](const std::string&) { FAIL("no report was sent"); });
  CHECK(a.answers.empty());
  sched.RunFor(0);
  REQUIRE(a.answers.size() == 1);
  CHECK(a.answers[0].verdict == ClaimVerdict::kDecline);
  CHECK(owners.claims.empty());
  CHECK(owners.progress.empty());
}

TEST_CASE_FIXTURE(Fixture, "claim client: nothing runs after the client is destroyed") {
  Asker a(&sched, &owners, "a", members);
  a.Claim();
  a.client.reset();
  sched.RunFor(kBudgetMs);
  CHECK(a.answers.empty());
}

}  // namespace
}  // namespace spegel::cluster
