// ProviderTable (provider_table.h): the owner side of content routing on a manual clock. The
// Router's owner-side API over it is covered in router_test.cc.
#include "cluster/provider_table.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace spegel::cluster {
namespace {

std::string Key(int i) {
  std::string n = std::to_string(i);
  return "sha256:" + std::string(64 - n.size(), '0') + n;
}

Provider Node(const std::string& id) { return Provider{id, "10.0.0.1", 5000}; }

std::vector<std::string> Ids(const std::vector<Provider>& providers) {
  std::vector<std::string> ids;
  for (const auto& p : providers) ids.push_back(p.node_id);
  return ids;
}

TEST_CASE("provider table: a batch with a bad sender or over the limits is refused whole") {
  ManualScheduler sched;
  ProviderTable table(&sched, {});
  CHECK(table.Apply(Provider{"bad id", "10.0.0.1", 1}, {{Key(1)}, {}, 0}).code() ==
        Code::kInvalidArgument);
  AnnounceBatch too_many;
  too_many.add.assign(kMaxAnnounceKeys + 1, Key(1));
  CHECK(table.Apply(Node("a"), too_many).code() == Code::kInvalidArgument);
  CHECK(table.Apply(Node("a"), {{Key(1)}, {std::string(kMaxKeyBytes + 1, 'k')}, 0}).code() ==
        Code::kInvalidArgument);
  CHECK(table.stats().rejected_batches == 3);
  CHECK(table.keys() == 0);
  CHECK(table.entries() == 0);
}

TEST_CASE("provider table: entries expire at the requested TTL, capped, and are swept") {
  ManualScheduler sched;
  ProviderTableOptions o;
  o.default_ttl_ms = 1'000;
  o.max_provider_ttl_ms = 5'000;
  ProviderTable table(&sched, o);
  REQUIRE(table.Apply(Node("default"), {{Key(1)}, {}, 0}).ok());
  REQUIRE(table.Apply(Node("capped"), {{Key(2)}, {}, 1'000'000}).ok());
  sched.RunFor(999);
  CHECK(Ids(table.Find(Key(1))) == std::vector<std::string>{"default"});
  sched.RunFor(1);
  CHECK(table.Find(Key(1)).empty());  // Expired: never answered, swept or not.
  sched.RunFor(3'999);
  CHECK(Ids(table.Find(Key(2))) == std::vector<std::string>{"capped"});
  sched.RunFor(2'000);
  CHECK(table.Find(Key(2)).empty());
  CHECK(table.keys() == 0);  // The sweep removed both keys.
  CHECK(table.entries() == 0);
}

TEST_CASE("provider table: bounded keys and providers per key") {
  ManualScheduler sched;
  ProviderTableOptions o;
  o.max_keys = 2;
  o.max_providers_per_key = 2;
  ProviderTable table(&sched, o);
  REQUIRE(table.Apply(Node("a"), {{Key(1), Key(2), Key(3)}, {}, 1'000}).ok());
  CHECK(table.keys() == 2);
  CHECK(table.stats().table_full_drops == 1);
  REQUIRE(table.Apply(Node("b"), {{Key(1)}, {}, 9'000}).ok());
  REQUIRE(table.Apply(Node("c"), {{Key(1)}, {}, 8'000}).ok());  // Evicts a (expires first).
  CHECK(Ids(table.Find(Key(1))).size() == 2);
  for (const auto& id : Ids(table.Find(Key(1)))) CHECK(id != "a");
  CHECK(table.entries() == 3);
}

// Members are the ids in `members`; everyone else announcing is a stranger on the network.
struct MemberTable {
  explicit MemberTable(ProviderTableOptions o, std::set<std::string> m)
      : members(std::move(m)),
        table(&sched, o, [this](std::string_view id) { return members.count(std::string(id)); }) {}
  Status Add(const std::string& id, const std::string& address, uint64_t ttl_ms) {
    return table.Apply(Provider{id, address, 5000}, {{Key(1)}, {}, ttl_ms});
  }
  std::vector<std::string> Held() {
    std::vector<std::string> ids = Ids(table.Find(Key(1)));
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  ManualScheduler sched;
  std::set<std::string> members;
  ProviderTable table;
};

TEST_CASE(
    "provider table: a full key evicts strangers first, the newest id of the busiest address") {
  ProviderTableOptions o;
  o.max_providers_per_key = 4;
  MemberTable t(o, {"m1", "m2", "m3"});
  REQUIRE(t.Add("m1", "10.0.0.1", 1'000).ok());  // Expires first of all.
  REQUIRE(t.Add("x1", "10.6.6.6", 9'000).ok());
  REQUIRE(t.Add("x2", "10.6.6.6", 9'000).ok());
  REQUIRE(t.Add("y1", "10.7.7.7", 9'000).ok());
  // A member's add: not m1 (expiring first, but a member) but a stranger's entry, from the
  // address with the most of them (10.6.6.6), its newest id.
  REQUIRE(t.Add("m2", "10.0.0.2", 5'000).ok());
  CHECK(t.Held() == std::vector<std::string>{"m1", "m2", "x1", "y1"});
  // 10.6.6.6 and 10.7.7.7 hold one each now: the newest of the two ids goes.
  REQUIRE(t.Add("m3", "10.0.0.3", 5'000).ok());
  CHECK(t.Held() == std::vector<std::string>{"m1", "m2", "m3", "x1"});
  // A stranger's add pushes out a stranger (itself from another address), never a member.
  REQUIRE(t.Add("z1", "10.8.8.8", 9'000).ok());
  CHECK(t.Held() == std::vector<std::string>{"m1", "m2", "m3", "z1"});
  // With only members' entries left, a member evicts the entry expiring first, as before.
  t.members.insert("z1");
  t.members.insert("m4");
  REQUIRE(t.Add("m4", "10.0.0.4", 5'000).ok());
  CHECK(t.Held() == std::vector<std::string>{"m2", "m3", "m4", "z1"});
  CHECK(t.table.stats().stranger_drops == 0);
}

TEST_CASE("provider table: a stranger announcing under many ids cannot evict a member (issue 30)") {
  ProviderTableOptions o;
  o.max_providers_per_key = 32;
  MemberTable t(o, {"real"});
  REQUIRE(t.Add("real", "10.0.0.1", 600'000).ok());
  // The outsider announces the key under 32 made-up ids with a 1 h TTL from one address, then
  // 32 more from another: each full key loses one of the outsider's own entries, never the
  // member's.
  for (int i = 0; i < 32; ++i) {
    REQUIRE(t.Add("fake" + std::to_string(i), "10.6.6.6", 3'600'000).ok());
  }
  for (int i = 0; i < 32; ++i) {
    REQUIRE(t.Add("other" + std::to_string(i), "10.6.6.7", 3'600'000).ok());
  }
  std::vector<std::string> held = t.Held();
  CHECK(held.size() == 32);
  CHECK(std::count(held.begin(), held.end(), "real") == 1);
  // Members fill the key: every stranger's entry gives way, then a stranger's add is dropped and
  // counted, and the members stay.
  for (int i = 0; i < 31; ++i) {
    t.members.insert("m" + std::to_string(i));
    REQUIRE(t.Add("m" + std::to_string(i), "10.1.0." + std::to_string(i), 600'000).ok());
  }
  held = t.Held();
  CHECK(std::count_if(held.begin(), held.end(),
                      [&](const std::string& id) { return t.members.count(id) > 0; }) == 32);
  REQUIRE(t.Add("late", "10.6.6.8", 3'600'000).ok());
  CHECK(t.Held() == held);
  CHECK(t.table.stats().stranger_drops == 1);
  // Its record was never kept: nothing refers to it.
  CHECK(t.table.entries() == 32);
}

TEST_CASE("provider table: removes, Drop, and the latest address of a provider") {
  ManualScheduler sched;
  ProviderTable table(&sched, {});
  REQUIRE(table.Apply(Node("a"), {{Key(1), Key(2), "bad key"}, {}, 0}).ok());
  CHECK(table.stats().bad_keys == 1);
  REQUIRE(table.Apply(Node("b"), {{Key(1)}, {}, 0}).ok());
  REQUIRE(table.Apply(Provider{"b", "192.0.2.9", 6000}, {{Key(3)}, {}, 0}).ok());
  for (const auto& p : table.Find(Key(1))) {
    if (p.node_id == "b") {
      CHECK(p.address == "192.0.2.9");  // Every key of b answers its latest address.
      CHECK(p.registry_port == 6000);
    }
  }
  REQUIRE(table.Apply(Node("b"), {{}, {Key(2)}, 0}).ok());  // Not b's: nothing happens.
  CHECK(Ids(table.Find(Key(2))) == std::vector<std::string>{"a"});
  REQUIRE(table.Apply(Node("a"), {{}, {Key(2)}, 0}).ok());
  CHECK(table.Find(Key(2)).empty());
  CHECK(table.keys() == 2);
  table.Drop({"b"});
  CHECK(Ids(table.Find(Key(1))) == std::vector<std::string>{"a"});
  CHECK(table.Find(Key(3)).empty());
  CHECK(table.keys() == 1);
  CHECK(table.entries() == 1);
}

}  // namespace
}  // namespace spegel::cluster
