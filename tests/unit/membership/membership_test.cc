#include "membership/membership.h"

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace spegel::cluster {

namespace {

// `ip` defaults to an address of the id's own (one node listens at an address and router port).
MemberInfo Info(std::string id, uint64_t inc, std::string ip = "") {
  if (ip.empty() && !id.empty()) {
    ip = "10.0." + std::to_string(id.size()) + "." +
         std::to_string(static_cast<unsigned char>(id.back()));
  }
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
  CHECK(m.Observe(Info("b", 1), MemberSource::kDns, 60'000) == Observed::kJoined);
  CHECK(m.Observe(Info("a", 1, "10.0.0.2"), MemberSource::kMdns, 60'000) == Observed::kJoined);
  CHECK(m.Observe(Info("self", 9), MemberSource::kMdns, 60'000) == Observed::kIgnored);
  CHECK(m.Observe(Info("bad id", 1), MemberSource::kMdns, 60'000) == Observed::kRefused);
  // A refresh from the address it is bound to: no change.
  CHECK(m.Observe(Info("a", 1, "10.0.0.2"), MemberSource::kStatic, 60'000) == Observed::kRefreshed);
  CHECK(r.joined.empty());  // Never inline.
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
  REQUIRE(m.Observe(Info("known", 5), MemberSource::kDns, 60'000) == Observed::kJoined);
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

TEST_CASE("membership: our id and incarnation from an address not ours is a twin, not us") {
  // Two nodes that default to one host name and start in the same millisecond share id and
  // incarnation; only where a message comes from tells the twin from our own looped-back copy.
  ManualScheduler s;
  MembershipOptions o;
  o.self_incarnation = 100;
  o.is_local_address = [](std::string_view a) { return a == "10.0.0.1" || a == "127.0.0.1"; };
  Membership m(&s, "self", o);
  CHECK(m.Classify("self", 100, "10.0.0.1") == Identity::kSelf);
  CHECK(m.Classify("self", 100, "127.0.0.1") == Identity::kSelf);
  CHECK(m.Classify("self", 100, "") == Identity::kSelf);  // no address known: id and incarnation
  CHECK(m.Classify("self", 100, "10.0.0.2") == Identity::kCollision);
  CHECK(m.Classify("self", 99, "10.0.0.1") == Identity::kCollision);
  CHECK(m.Classify("other", 100, "10.0.0.2") == Identity::kNew);
  CHECK(m.Observe(Info("self", 100, "10.0.0.1"), MemberSource::kMdns, 60'000, "10.0.0.1") ==
        Observed::kIgnored);
  CHECK(m.collisions() == 0);
  CHECK(m.Observe(Info("self", 100, "10.0.0.2"), MemberSource::kMdns, 60'000, "10.0.0.2") ==
        Observed::kRefused);
  CHECK(m.collisions() == 1);
  CHECK(m.Find("self") == nullptr);
  // After a rename, a hello this node answered under its old id just before is still ours when
  // it comes from our address; from another address the old id is just another node's.
  m.SetSelfId("self-2");
  CHECK(m.Classify("self", 100, "10.0.0.1") == Identity::kSelf);
  CHECK(m.Observe(Info("self", 100, "10.0.0.1"), MemberSource::kDns, 60'000, "10.0.0.1") ==
        Observed::kIgnored);
  CHECK(m.Find("self") == nullptr);
  CHECK(m.Classify("self", 100, "10.0.0.2") == Identity::kNew);
  CHECK(m.Classify("self", 99, "10.0.0.1") == Identity::kNew);
  CHECK(m.Classify("self-2", 100, "10.0.0.2") == Identity::kCollision);
}

TEST_CASE("membership: a collision is counted, never becomes a member") {
  ManualScheduler s;
  MembershipOptions o;
  o.self_incarnation = 100;
  Membership m(&s, "self", o);
  CHECK(m.Observe(Info("self", 100), MemberSource::kMdns, 60'000) == Observed::kIgnored);
  CHECK(m.collisions() == 0);
  CHECK(m.Observe(Info("self", 7, "10.0.0.7"), MemberSource::kMdns, 60'000) == Observed::kRefused);
  CHECK(m.Observe(Info("self", 7, "10.0.0.7"), MemberSource::kPeer, 60'000) == Observed::kRefused);
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
  CHECK(m.Observe(Info("a", 4, "10.0.0.1"), MemberSource::kMdns, 60'000) == Observed::kIgnored);
  CHECK(m.Find("a")->info.incarnation == 5);
  CHECK(m.Observe(Info("a", 6, "10.0.0.1"), MemberSource::kMdns, 60'000) == Observed::kJoined);
  CHECK(m.Find("a")->info.incarnation == 6);
  s.RunFor(0);
  REQUIRE(r.joined.size() == 2);
  CHECK(r.joined[1] == std::vector<std::string>{"a"});  // A restart is reported as a join.
  // Goodbye of an older incarnation is ignored; the current one removes it.
  CHECK_FALSE(m.Leave("a", 5, "10.0.0.1"));
  CHECK(m.Find("a") != nullptr);
  CHECK(m.Leave("a", 6, "10.0.0.1"));
  CHECK(m.Find("a") == nullptr);
  s.RunFor(0);
  REQUIRE(r.left.size() == 3);
  CHECK(r.left[2] == std::vector<std::string>{"a"});
}

TEST_CASE("membership: the classification table over incarnation and address") {
  // Each row starts from member "a" (incarnation 5, bound to 10.0.0.1) and this node "self"
  // (incarnation 100), and sends one message.
  struct Row {
    const char* id;
    uint64_t incarnation;
    const char* from;
    Observed want;
    uint64_t stored_incarnation;  // a's incarnation afterwards (0: not a member)
    uint64_t collisions;
    uint64_t foreign;
  };
  const Row table[] = {
      {"a", 4, "10.0.0.1", Observed::kIgnored, 5, 0, 0},       // older, bound address
      {"a", 5, "10.0.0.1", Observed::kRefreshed, 5, 0, 0},     // same, bound address
      {"a", 6, "10.0.0.1", Observed::kJoined, 6, 0, 0},        // newer, bound address: restart
      {"a", 4, "10.0.0.9", Observed::kRefused, 5, 0, 1},       // older, other address
      {"a", 5, "10.0.0.9", Observed::kRefused, 5, 0, 1},       // same, other address
      {"a", 6, "10.0.0.9", Observed::kRefused, 5, 0, 1},       // newer, other address: not moved
      {"self", 100, "10.0.0.9", Observed::kIgnored, 5, 0, 0},  // our own record
      {"self", 99, "10.0.0.9", Observed::kRefused, 5, 1, 0},   // collision, older
      {"self", 101, "10.0.0.9", Observed::kRefused, 5, 1, 0},  // collision, newer
      {"b", 1, "10.0.0.2", Observed::kJoined, 5, 0, 0},        // new
  };
  for (const Row& row : table) {
    CAPTURE(row.id);
    CAPTURE(row.incarnation);
    CAPTURE(row.from);
    ManualScheduler s;
    MembershipOptions o;
    o.self_incarnation = 100;
    Membership m(&s, "self", o);
    REQUIRE(m.Observe(Info("a", 5, "10.0.0.1"), MemberSource::kMdns, 60'000, "10.0.0.1") ==
            Observed::kJoined);
    MemberInfo message = Info(row.id, row.incarnation, row.from);
    CHECK(m.Observe(message, MemberSource::kPeer, 60'000, row.from) == row.want);
    REQUIRE(m.Find("a") != nullptr);
    CHECK(m.Find("a")->info.incarnation == row.stored_incarnation);
    CHECK(m.Find("a")->info.addresses == std::vector<std::string>{"10.0.0.1"});
    CHECK(m.collisions() == row.collisions);
    CHECK(m.foreign_refused() == row.foreign);
  }
}

TEST_CASE("membership: one live id per address; a new id at a member's address replaces it") {
  ManualScheduler s;
  Membership m(&s, "self");
  REQUIRE(m.Observe(Info("host", 5, "10.0.0.1"), MemberSource::kPeer, 60'000) == Observed::kJoined);
  REQUIRE(m.Observe(Info("other", 5, "10.0.0.2"), MemberSource::kPeer, 60'000) ==
          Observed::kJoined);
  // The node at 10.0.0.1 was renamed (a collision resolved): its hello under the new id.
  CHECK(m.Observe(Info("host-1a2b3c4d", 5, "10.0.0.1"), MemberSource::kPeer, 60'000) ==
        Observed::kJoined);
  CHECK(m.Find("host") == nullptr);
  CHECK(m.Find("host-1a2b3c4d") != nullptr);
  CHECK(m.Find("other") != nullptr);
  // Made-up ids from one address, on any router port, leave one member there: the last.
  for (int i = 0; i < 100; ++i) {
    MemberInfo fake = Info("fake-" + std::to_string(i), 5, "10.0.0.1");
    fake.router_port = static_cast<uint16_t>(6000 + i);
    CHECK(m.Observe(fake, MemberSource::kPeer, 60'000) == Observed::kJoined);
  }
  CHECK(m.Find("host-1a2b3c4d") == nullptr);
  CHECK(m.Find("fake-99") != nullptr);
  CHECK(m.Find("other") != nullptr);
  CHECK(m.size() == 2);
  CHECK(m.replacements() == 101);  // host, then host-1a2b3c4d, then each fake but the last
  // Nodes sharing a loopback address (several on one host) are told apart by router port.
  for (int i = 0; i < 3; ++i) {
    MemberInfo local = Info("local-" + std::to_string(i), 5, "127.0.0.1");
    local.router_port = static_cast<uint16_t>(7000 + i);
    CHECK(m.Observe(local, MemberSource::kStatic, 60'000) == Observed::kJoined);
  }
  CHECK(m.size() == 5);
}

TEST_CASE("membership: a hello is admitted only from an address a configured source names") {
  ManualScheduler s;
  MembershipOptions o;
  o.admit_unlisted_hellos = false;
  Membership m(&s, "self", o);
  m.SetListed(MemberSource::kDns, {"10.0.0.2", "10.0.0.1"});
  m.SetListed(MemberSource::kStatic, {"10.0.1.1"});
  CHECK(m.IsListed("10.0.0.1"));
  CHECK(m.IsListed("10.0.1.1"));
  CHECK_FALSE(m.IsListed("10.0.0.3"));
  CHECK(m.Observe(Info("a", 5, "10.0.0.1"), MemberSource::kPeer, 60'000) == Observed::kJoined);
  CHECK(m.Observe(Info("b", 5, "10.0.1.1"), MemberSource::kPeer, 60'000) == Observed::kJoined);
  CHECK(m.Observe(Info("x", 5, "10.0.0.3"), MemberSource::kPeer, 60'000) == Observed::kUnlisted);
  CHECK(m.Find("x") == nullptr);
  CHECK(m.unlisted_refused() == 1);
  // mDNS admits by itself (a packet on a configured interface), and binds its source: a hello
  // from there is then a known address.
  CHECK(m.Observe(Info("c", 5, "10.0.2.1"), MemberSource::kMdns, 60'000) == Observed::kJoined);
  CHECK(m.IsListed("10.0.2.1"));
  // A new DNS answer replaces the old one: 10.0.0.1 is no longer listed, but member a stays
  // bound there until it expires, so its refreshes go on.
  m.SetListed(MemberSource::kDns, {"10.0.0.2"});
  CHECK(m.IsListed("10.0.0.1"));
  CHECK(m.Observe(Info("a", 5, "10.0.0.1"), MemberSource::kPeer, 60'000) == Observed::kRefreshed);
  // Hellos from everywhere, where the node serves the HTTP bootstrap document.
  m.set_admit_unlisted_hellos(true);
  CHECK(m.Observe(Info("x", 5, "10.0.0.3"), MemberSource::kPeer, 60'000) == Observed::kJoined);
  // Counters of what happened, for the metrics.
  CHECK(m.joins() == 4);
  CHECK(m.Leave("c", 5, "10.0.2.1"));
  CHECK(m.goodbyes() == 1);
  s.RunFor(61'000);
  CHECK(m.expirations() == 3);
  CHECK(m.size() == 0);
}

TEST_CASE("membership: renaming self drops a member of the new id; collisions are announced") {
  ManualScheduler s;
  MembershipOptions o;
  o.self_incarnation = 100;
  Membership m(&s, "host", o);
  std::vector<MemberInfo> seen;
  m.SetCollisionListener([&](const MemberInfo& other) { seen.push_back(other); });
  CHECK(m.Observe(Info("host", 7, "10.0.0.7"), MemberSource::kPeer, 60'000) == Observed::kRefused);
  CHECK(m.Observe(Info("host", 7, "10.0.0.7"), MemberSource::kMdns, 60'000) == Observed::kRefused);
  CHECK(seen.empty());  // Never inline ...
  s.RunFor(0);
  REQUIRE(seen.size() == 1);  // ... and once per loop turn.
  CHECK(seen[0].addresses[0] == "10.0.0.7");
  REQUIRE(m.Observe(Info("host-b", 1, "10.0.0.8"), MemberSource::kPeer, 60'000) ==
          Observed::kJoined);
  m.SetSelfId("host-b");
  CHECK(m.self_id() == "host-b");
  CHECK(m.Find("host-b") == nullptr);
  // The old id is now another node's: a member like any other.
  CHECK(m.Observe(Info("host", 7, "10.0.0.7"), MemberSource::kPeer, 60'000) == Observed::kJoined);
}

TEST_CASE("membership: an incarnation far ahead of the clock is not believed") {
  ManualScheduler s;
  MembershipOptions o;
  o.wall_clock_ms = [] { return uint64_t{1'700'000'000'000}; };
  o.max_incarnation_ahead_ms = 3'600'000;
  Membership m(&s, "self", o);
  CHECK(m.Classify("a", 1'700'003'600'000) == Identity::kNew);
  CHECK(m.Classify("a", 1'700'003'600'001) == Identity::kInvalid);
  CHECK(m.Observe(Info("a", 99'999'999'999'999), MemberSource::kPeer, 60'000) ==
        Observed::kRefused);
  CHECK(m.Find("a") == nullptr);
  REQUIRE(m.Observe(Info("a", 1'700'000'000'000), MemberSource::kPeer, 60'000) ==
          Observed::kJoined);
  CHECK(m.Observe(Info("a", 99'999'999'999'999), MemberSource::kPeer, 60'000) ==
        Observed::kRefused);
  CHECK(m.Find("a")->info.incarnation == 1'700'000'000'000);
}

TEST_CASE("membership: a goodbye or a router call from an unbound address is refused") {
  ManualScheduler s;
  Membership m(&s, "self");
  MemberInfo a = Info("a", 5, "10.0.0.1");
  // Learned from an mDNS packet whose source (a link-local address) is not in the record.
  REQUIRE(m.Observe(a, MemberSource::kMdns, 60'000, "fe80::1") == Observed::kJoined);
  CHECK(m.Find("a")->bound_addresses == std::vector<std::string>{"10.0.0.1", "fe80::1"});
  CHECK(m.CheckSender("a", "10.0.0.1") == SenderCheck::kBound);
  CHECK(m.CheckSender("a", "fe80::1") == SenderCheck::kBound);
  CHECK(m.CheckSender("a", "10.0.0.66") == SenderCheck::kForeign);
  CHECK(m.CheckSender("b", "10.0.0.66") == SenderCheck::kUnknown);
  CHECK(m.CheckSender("self", "10.0.0.66") == SenderCheck::kCollision);
  // The same record from another interface of the node is dropped quietly, not counted.
  CHECK(m.Observe(a, MemberSource::kMdns, 60'000, "10.1.0.1") == Observed::kIgnored);
  CHECK(m.foreign_refused() == 0);
  CHECK_FALSE(m.Leave("a", 5, "10.0.0.66"));
  CHECK(m.Find("a") != nullptr);
  CHECK(m.foreign_refused() == 1);
  CHECK(m.Leave("a", 5, "fe80::1"));
  CHECK(m.Find("a") == nullptr);
}

TEST_CASE("membership: the binding holds until the entry expires unrefreshed") {
  ManualScheduler s;
  Membership m(&s, "self");
  REQUIRE(m.Observe(Info("a", 5, "10.0.0.1"), MemberSource::kPeer, 10'000) == Observed::kJoined);
  s.RunFor(6'000);
  // Refreshed from its own address; an impostor's newer incarnation never refreshes or moves it.
  CHECK(m.Observe(Info("a", 5, "10.0.0.1"), MemberSource::kPeer, 10'000) == Observed::kRefreshed);
  CHECK(m.Observe(Info("a", 9, "10.0.0.66"), MemberSource::kPeer, 10'000) == Observed::kRefused);
  s.RunFor(6'000);  // t = 12 s: refreshed until 16 s
  CHECK(m.Find("a")->info.addresses[0] == "10.0.0.1");
  CHECK(m.Observe(Info("a", 9, "10.0.0.66"), MemberSource::kPeer, 10'000) == Observed::kRefused);
  s.RunFor(5'000);  // t = 17 s: expired, nobody refreshed it
  CHECK(m.Find("a") == nullptr);
  CHECK(m.Observe(Info("a", 9, "10.0.0.66"), MemberSource::kPeer, 10'000) == Observed::kJoined);
  CHECK(m.CheckSender("a", "10.0.0.66") == SenderCheck::kBound);
  CHECK(m.CheckSender("a", "10.0.0.1") == SenderCheck::kForeign);
}

TEST_CASE("membership: a newer incarnation at a new address moves only when the old is silent") {
  ManualScheduler s;
  MembershipOptions o;
  o.probe_holdoff_ms = 30'000;
  Membership m(&s, "self", o);
  std::vector<std::pair<MemberInfo, std::function<void(bool)>>> probes;
  m.SetProber([&](const MemberInfo& bound, std::function<void(bool)> done) {
    probes.emplace_back(bound, std::move(done));
  });
  REQUIRE(m.Observe(Info("a", 5, "10.0.0.1"), MemberSource::kPeer, 60'000) == Observed::kJoined);
  // A challenger: refused now, and the bound address is probed once.
  CHECK(m.Observe(Info("a", 6, "10.0.0.2"), MemberSource::kPeer, 60'000) == Observed::kRefused);
  CHECK(m.Observe(Info("a", 6, "10.0.0.2"), MemberSource::kPeer, 60'000) == Observed::kRefused);
  REQUIRE(probes.size() == 1);
  CHECK(probes[0].first.addresses[0] == "10.0.0.1");
  probes[0].second(true);  // The real node still answers there.
  CHECK(m.Find("a")->info.addresses[0] == "10.0.0.1");
  CHECK(m.Find("a")->info.incarnation == 5);
  // Within the hold-off no new probe; after it, one more, and this time nobody answers.
  CHECK(m.Observe(Info("a", 7, "10.0.0.2"), MemberSource::kPeer, 60'000) == Observed::kRefused);
  CHECK(probes.size() == 1);
  s.RunFor(30'001);
  CHECK(m.Observe(Info("a", 7, "10.0.0.2"), MemberSource::kPeer, 60'000) == Observed::kRefused);
  REQUIRE(probes.size() == 2);
  probes[1].second(false);
  REQUIRE(m.Find("a") != nullptr);
  CHECK(m.Find("a")->info.addresses[0] == "10.0.0.2");
  CHECK(m.Find("a")->info.incarnation == 7);
  CHECK(m.CheckSender("a", "10.0.0.1") == SenderCheck::kForeign);
  CHECK(m.CheckSender("a", "10.0.0.2") == SenderCheck::kBound);
}

TEST_CASE("membership: a probe answer after the membership is gone does nothing") {
  ManualScheduler s;
  std::function<void(bool)> late;
  {
    Membership m(&s, "self");
    m.SetProber([&](const MemberInfo&, std::function<void(bool)> done) { late = std::move(done); });
    REQUIRE(m.Observe(Info("a", 5, "10.0.0.1"), MemberSource::kPeer, 60'000) == Observed::kJoined);
    CHECK(m.Observe(Info("a", 6, "10.0.0.2"), MemberSource::kPeer, 60'000) == Observed::kRefused);
  }
  REQUIRE(late);
  late(false);  // Must not touch the destroyed table (ASan would say so).
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
