#include "cluster/membership.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace spegel::cluster {

namespace {

MemberInfo Info(std::string id, uint64_t inc, std::string ip = "10.0.0.1") {
  MemberInfo i;
  i.node_id = std::move(id);
  i.incarnation = inc;
  i.addresses = {std::move(ip)};
  i.registry_port = 5000;
  i.router_port = 5001;
  return i;
}

struct Recorder {
  std::vector<std::vector<std::string>> joined;
  std::vector<std::vector<std::string>> left;
  void Attach(Membership* m) {
    m->SetListener([this](const std::vector<std::string>& j, const std::vector<std::string>& l) {
      joined.push_back(j);
      left.push_back(l);
    });
  }
};

}  // namespace

TEST_CASE("membership: observe, self and invalid ids ignored, listener coalesced and not inline") {
  ManualScheduler s;
  Membership m(&s, "self");
  Recorder r;
  r.Attach(&m);
  CHECK(m.Observe(Info("b", 1), MemberSource::kDns, 60'000));
  CHECK(m.Observe(Info("a", 1, "10.0.0.2"), MemberSource::kMdns, 60'000));
  CHECK_FALSE(m.Observe(Info("self", 9), MemberSource::kMdns, 60'000));
  CHECK_FALSE(m.Observe(Info("bad id", 1), MemberSource::kMdns, 60'000));
  CHECK_FALSE(m.Observe(Info("a", 1), MemberSource::kStatic, 60'000));  // refresh, no change
  CHECK(r.joined.empty());                                              // Never inline.
  s.RunFor(0);
  REQUIRE(r.joined.size() == 1);
  CHECK(r.joined[0] == std::vector<std::string>{"b", "a"});
  CHECK(r.left[0].empty());
  CHECK(m.size() == 2);
  REQUIRE(m.Live().size() == 2);
  CHECK(m.Live()[0]->info.node_id == "a");  // Sorted by id.
  CHECK(m.Live()[1]->info.node_id == "b");
  CHECK(m.Find("self") == nullptr);
  CHECK(m.FindByAddress("10.0.0.2") == m.Find("a"));
  CHECK(m.FindByAddress("10.0.0.9") == nullptr);
  CHECK(m.Find("a")->sources == ((1u << static_cast<int>(MemberSource::kMdns)) |
                                 (1u << static_cast<int>(MemberSource::kStatic))));
}

TEST_CASE("membership: one classification of self, member, new, collision and invalid") {
  ManualScheduler s;
  MembershipOptions o;
  o.self_incarnation = 100;
  Membership m(&s, "self", o);
  REQUIRE(m.Observe(Info("known", 5), MemberSource::kDns, 60'000));
  struct Row {
    const char* id;
    uint64_t incarnation;
    Identity want;
  };
  const Row table[] = {
      {"self", 100, Identity::kSelf},       // our own packet, looped back, or our address
      {"self", 99, Identity::kCollision},   // our id, an older incarnation: another node
      {"self", 101, Identity::kCollision},  // ...or a newer one
      {"self", 0, Identity::kCollision},    // a router call under our id (it has none)
      {"known", 5, Identity::kMember},      // same incarnation
      {"known", 4, Identity::kMember},      // older: Observe ignores it, still a member
      {"known", 6, Identity::kMember},      // newer: a restart
      {"other", 1, Identity::kNew},        {"bad id", 1, Identity::kInvalid},
      {"", 1, Identity::kInvalid},
  };
  for (const Row& r : table) {
    CAPTURE(r.id);
    CAPTURE(r.incarnation);
    CHECK(m.Classify(r.id, r.incarnation) == r.want);
  }
  // Without our own incarnation known, any message with one under our id is taken for ours.
  Membership unknown(&s, "self");
  CHECK(unknown.Classify("self", 7) == Identity::kSelf);
  CHECK(unknown.Classify("self", 0) == Identity::kCollision);
  CHECK(IdentityName(Identity::kCollision) == "collision");
}

TEST_CASE("membership: a collision is counted, never becomes a member") {
  ManualScheduler s;
  MembershipOptions o;
  o.self_incarnation = 100;
  Membership m(&s, "self", o);
  CHECK_FALSE(m.Observe(Info("self", 100), MemberSource::kMdns, 60'000));  // ourselves
  CHECK(m.collisions() == 0);
  CHECK_FALSE(m.Observe(Info("self", 7, "10.0.0.7"), MemberSource::kMdns, 60'000));
  CHECK_FALSE(m.Observe(Info("self", 7, "10.0.0.7"), MemberSource::kPeer, 60'000));
  CHECK(m.collisions() == 2);
  CHECK(m.Find("self") == nullptr);
  CHECK(m.size() == 0);
}

TEST_CASE("membership: higher incarnation replaces, lower is ignored") {
  ManualScheduler s;
  Membership m(&s, "self");
  Recorder r;
  r.Attach(&m);
  m.Observe(Info("a", 5, "10.0.0.1"), MemberSource::kMdns, 60'000);
  s.RunFor(0);
  CHECK_FALSE(m.Observe(Info("a", 4, "10.0.0.9"), MemberSource::kMdns, 60'000));
  CHECK(m.Find("a")->info.addresses[0] == "10.0.0.1");
  CHECK(m.Find("a")->info.incarnation == 5);
  CHECK(m.Observe(Info("a", 6, "10.0.0.7"), MemberSource::kMdns, 60'000));
  CHECK(m.Find("a")->info.addresses[0] == "10.0.0.7");
  s.RunFor(0);
  REQUIRE(r.joined.size() == 2);
  CHECK(r.joined[1] == std::vector<std::string>{"a"});  // A restart is reported as a join.
  // Goodbye of an older incarnation is ignored; the current one removes it.
  m.Leave("a", 5);
  CHECK(m.Find("a") != nullptr);
  m.Leave("a", 6);
  CHECK(m.Find("a") == nullptr);
  s.RunFor(0);
  REQUIRE(r.left.size() == 3);
  CHECK(r.left[2] == std::vector<std::string>{"a"});
}

TEST_CASE("membership: members not refreshed expire; refreshed ones stay") {
  ManualScheduler s;
  Membership m(&s, "self");
  Recorder r;
  r.Attach(&m);
  m.Observe(Info("a", 1), MemberSource::kDns, 10'000);
  m.Observe(Info("b", 1), MemberSource::kDns, 10'000);
  s.RunFor(6'000);
  m.Observe(Info("b", 1), MemberSource::kDns, 10'000);  // b refreshed until 16 s
  s.RunFor(5'000);                                      // t = 11 s
  CHECK(m.Find("a") == nullptr);
  CHECK(m.Find("b") != nullptr);
  REQUIRE(r.left.size() == 2);
  CHECK(r.left[1] == std::vector<std::string>{"a"});
  s.RunFor(6'000);  // t = 17 s
  CHECK(m.size() == 0);
  CHECK(m.Live().empty());
  // A shorter TTL than the pending check still expires on time (within the check interval).
  m.Observe(Info("c", 1), MemberSource::kDns, 60'000);
  m.Observe(Info("d", 1), MemberSource::kDns, 2'000);
  s.RunFor(3'100);
  CHECK(m.Find("d") == nullptr);
  CHECK(m.Find("c") != nullptr);
}

TEST_CASE("membership: a failure avoids the member for a while without removing it") {
  ManualScheduler s;
  MembershipOptions o;
  o.avoid_ms = 1'000;
  Membership m(&s, "self", o);
  m.Observe(Info("a", 1), MemberSource::kDns, 60'000);
  CHECK_FALSE(m.IsAvoided(*m.Find("a")));
  m.ReportFailure("a");
  m.ReportFailure("unknown");
  CHECK(m.IsAvoided(*m.Find("a")));
  s.RunFor(1'001);
  CHECK(m.Find("a") != nullptr);
  CHECK_FALSE(m.IsAvoided(*m.Find("a")));
}

TEST_CASE("membership: the table is bounded") {
  ManualScheduler s;
  MembershipOptions o;
  o.max_members = 3;
  Membership m(&s, "self", o);
  for (int i = 0; i < 10; ++i)
    m.Observe(Info("n" + std::to_string(i), 1), MemberSource::kDns, 1000);
  CHECK(m.size() == 3);
  CHECK(m.MemoryBytes() > 0);
}

}  // namespace spegel::cluster
