// ProviderTable (provider_table.h): the owner side of content routing on a manual clock. The
// Router's owner-side API over it is covered in router_test.cc.
#include "cluster/provider_table.h"

#include <doctest/doctest.h>

#include <string>
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
