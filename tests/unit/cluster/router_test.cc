#include "cluster/router.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/rendezvous.h"

namespace spegel::cluster {

namespace {

std::string Key(int i) {
  std::string hex = std::to_string(i);
  return "sha256:" + std::string(64 - hex.size(), '0') + hex;
}

MemberInfo Info(const std::string& id) {
  MemberInfo i;
  i.node_id = id;
  i.incarnation = 1;
  // One address per id (one live id per address): the id's hash as an IPv6 literal.
  const uint64_t h = HashString(id);
  char address[40];
  std::snprintf(address, sizeof(address), "fd00::%x:%x:%x:%x", static_cast<unsigned>(h >> 48),
                static_cast<unsigned>((h >> 32) & 0xffff),
                static_cast<unsigned>((h >> 16) & 0xffff), static_cast<unsigned>(h & 0xffff));
  i.addresses = {address};
  i.registry_port = 5000;
  return i;
}

Provider Self(const std::string& id) { return Provider{id, Info(id).addresses[0], 5000}; }

// In-process transport of one node: delivers to the target Router after `latency` ms on the fake
// clock. Owners in `fail` answer Unavailable; owners in `silent` never answer.
struct FakeNet : RouterTransport {
  ManualScheduler* sched;
  std::map<std::string, std::unique_ptr<Router>>* routers;
  Provider self;
  uint64_t latency = 1;
  std::set<std::string> fail;
  std::set<std::string> silent;
  std::vector<std::pair<std::string, AnnounceBatch>> announces;
  std::vector<std::pair<std::string, std::string>> lookups;
  std::vector<std::unique_ptr<ScheduledTask>> tasks;
  std::vector<std::function<void()>> held;  // Callbacks of silent owners (never run).

  void Announce(const Member& owner, const AnnounceBatch& batch,
                std::function<void(Status)> done) override {
    std::string id = owner.info.node_id;
    announces.emplace_back(id, batch);
    if (silent.count(id)) {
      held.push_back([done] { done(Status::Ok()); });
      return;
    }
    tasks.push_back(sched->After(latency, [this, id, batch, done] {
      auto it = routers->find(id);
      if (fail.count(id) || it == routers->end()) return done(Status::Unavailable("down"));
      done(it->second->HandleAnnounce(self, batch));
    }));
  }
  void Lookup(const Member& owner, const std::string& key,
              std::function<void(Result<std::vector<Provider>>)> done) override {
    std::string id = owner.info.node_id;
    lookups.emplace_back(id, key);
    if (silent.count(id)) {
      held.push_back([done] { done(std::vector<Provider>{}); });
      return;
    }
    tasks.push_back(sched->After(latency, [this, id, key, done] {
      auto it = routers->find(id);
      if (fail.count(id) || it == routers->end()) return done(Status::Unavailable("down"));
      done(it->second->HandleLookup(key));
    }));
  }
  // The router sends no claims or progress: both fail.
  void Claim(const Member&, const ClaimRequest&, uint64_t,
             std::function<void(Result<ClaimAnswer>)> done) override {
    tasks.push_back(sched->After(latency, [done] { done(Status::Unavailable("no claims")); }));
  }
  void Progress(const Member&, const std::vector<ProgressReport>&,
                std::function<void(Result<std::vector<std::string>>)> done) override {
    tasks.push_back(sched->After(latency, [done] { done(Status::Unavailable("no claims")); }));
  }
  size_t AnnouncesTo(const std::string& id) const {
    size_t n = 0;
    for (const auto& [o, b] : announces) n += o == id;
    return n;
  }
};

// N routers sharing one Membership (each skips its own entry), on one fake clock.
struct Cluster {
  ManualScheduler sched;
  Membership membership{&sched, ""};
  std::map<std::string, std::unique_ptr<Router>> routers;
  std::map<std::string, std::unique_ptr<FakeNet>> nets;
  RouterOptions options;

  Router* Add(const std::string& id) {
    auto net = std::make_unique<FakeNet>();
    net->sched = &sched;
    net->routers = &routers;
    net->self = Self(id);
    auto r = std::make_unique<Router>(&sched, &membership, net.get(), Self(id), options);
    Router* raw = r.get();
    routers[id] = std::move(r);
    nets[id] = std::move(net);
    membership.Observe(Info(id), MemberSource::kStatic, 3'600'000);
    return raw;
  }
  void Wire() {
    membership.SetListener(
        [this](const std::vector<std::string>& j, const std::vector<std::string>& l) {
          for (auto& [id, r] : routers) r->OnMembershipChanged(j, l);
        });
  }
  void Remove(const std::string& id) {
    routers.erase(id);
    membership.Leave(id, 1, Info(id).addresses[0]);
  }
  Router* operator[](const std::string& id) { return routers.at(id).get(); }
  FakeNet& net(const std::string& id) { return *nets.at(id); }
  void Settle() { sched.RunFor(200); }

  // Runs a lookup to completion; returns the provider ids.
  std::vector<std::string> Lookup(const std::string& from, const std::string& key,
                                  uint64_t timeout_ms = 20, uint64_t* took_ms = nullptr) {
    bool finished = false;
    std::vector<std::string> ids;
    uint64_t start = sched.NowMs();
    uint64_t end = 0;
    routers.at(from)->Lookup(key, timeout_ms, [&](std::vector<Provider> ps) {
      CHECK_FALSE(finished);
      finished = true;
      end = sched.NowMs();
      for (auto& p : ps) ids.push_back(p.node_id);
    });
    CHECK_FALSE(finished);  // Never inline.
    sched.RunUntil(start + timeout_ms);
    CHECK(finished);
    if (took_ms) *took_ms = end - start;
    return ids;
  }
};

}  // namespace

TEST_CASE("router: routing keys") {
  CHECK(IsValidRoutingKey(Key(1)));
  CHECK(IsValidRoutingKey("docker.io/library/nginx:latest"));
  CHECK_FALSE(IsValidRoutingKey(""));
  CHECK_FALSE(IsValidRoutingKey("a b"));
  CHECK_FALSE(IsValidRoutingKey("a\nb"));
  CHECK_FALSE(IsValidRoutingKey(std::string("a\0b", 3)));
  CHECK_FALSE(IsValidRoutingKey("a\x7f"));
  CHECK(IsValidRoutingKey(std::string(512, 'k')));
  CHECK_FALSE(IsValidRoutingKey(std::string(513, 'k')));
}

TEST_CASE("router: owners are stable, include self, and adding one member to 100 moves ~R/101") {
  ManualScheduler sched;
  Membership m(&sched, "");
  for (int i = 0; i < 100; ++i)
    m.Observe(Info("node-" + std::to_string(i)), MemberSource::kDns, 1e9);
  FakeNet net;
  Router a(&sched, &m, &net, Self("node-0"), {});
  Router b(&sched, &m, &net, Self("node-1"), {});
  constexpr int kKeys = 20'000;
  std::vector<std::vector<std::string>> before;
  bool self_seen = false;
  for (int k = 0; k < kKeys; ++k) {
    auto owners = a.OwnersOf(Key(k));
    REQUIRE(owners.size() == 3);
    CHECK(owners == b.OwnersOf(Key(k)));  // Every node computes the same owners.
    self_seen = self_seen || owners[0] == "node-0" || owners[1] == "node-0" ||
                owners[2] == "node-0";
    before.push_back(std::move(owners));
  }
  CHECK(self_seen);
  m.Observe(Info("node-new"), MemberSource::kDns, 1e9);
  int moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    auto after = a.OwnersOf(Key(k));
    if (after == before[k]) continue;
    ++moved;
    // Only the new member enters; exactly one old owner drops out.
    std::set<std::string> old_set(before[k].begin(), before[k].end());
    int new_ones = 0;
    for (auto& id : after) {
      if (!old_set.count(id)) {
        ++new_ones;
        CHECK(id == "node-new");
      }
    }
    CHECK(new_ones == 1);
  }
  double fraction = static_cast<double>(moved) / kKeys;
  CHECK(fraction > 3.0 / 101 * 0.8);
  CHECK(fraction < 3.0 / 101 * 1.2);
}

TEST_CASE("router: owner computation over 5,000 members is cheap") {
  ManualScheduler sched;
  Membership m(&sched, "");
  for (int i = 0; i < 5000; ++i) m.Observe(Info("n" + std::to_string(i)), MemberSource::kDns, 1e9);
  FakeNet net;
  Router r(&sched, &m, &net, Self("n0"), {});
  constexpr int kKeys = 2000;
  auto start = std::chrono::steady_clock::now();
  size_t total = 0;
  for (int k = 0; k < kKeys; ++k) total += r.OwnersOf(Key(k)).size();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  CHECK(total == 3 * kKeys);
  MESSAGE("owners of one key over 5,000 members: " << us / kKeys << " us");
#if defined(__SANITIZE_ADDRESS__) || defined(__has_feature)
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
  CHECK(us / kKeys < 1000);  // Sanitizers slow this down ~10x.
#else
  CHECK(us / kKeys < 100);
#endif
#else
  CHECK(us / kKeys < 100);
#endif
}

TEST_CASE("router: announce is batched per owner, lookups find the provider, withdraw removes it") {
  Cluster c;
  for (auto id : {"a", "b", "c", "d", "e"}) c.Add(id);
  c.Wire();
  c.Settle();
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) keys.push_back(Key(i));
  c["a"]->SetLocalKeys(keys);
  c.Settle();
  // One message per remote owner (at most 4 here), not one per key.
  CHECK(c.net("a").announces.size() <= 4);
  CHECK(c["a"]->stats().announce_messages == c.net("a").announces.size());
  CHECK(c["a"]->stats().local_keys == 200);
  uint64_t entries = 0;
  for (auto& [id, r] : c.routers) entries += r->stats().provider_entries;
  CHECK(entries == 200 * 3);  // Each key on its R owners (self included when it owns).
  for (int i = 0; i < 20; ++i) {
    std::string from = i % 2 ? "b" : "e";
    CHECK(c.Lookup(from, Key(i)) == std::vector<std::string>{"a"});
  }
  // Self never appears in its own lookup results.
  CHECK(c.Lookup("a", Key(0)).empty());
  // Remove half: withdrawn at once, the rest stays.
  c["a"]->SetLocalKeys(std::vector<std::string>(keys.begin(), keys.begin() + 100));
  c.sched.RunFor(5);
  entries = 0;
  for (auto& [id, r] : c.routers) entries += r->stats().provider_entries;
  CHECK(entries == 100 * 3);
  CHECK(c.Lookup("b", Key(150)).empty());
  CHECK(c.Lookup("b", Key(50)) == std::vector<std::string>{"a"});
  c["a"]->Withdraw();
  c.sched.RunFor(5);
  entries = 0;
  for (auto& [id, r] : c.routers) entries += r->stats().provider_entries;
  CHECK(entries == 0);
  CHECK(c["a"]->stats().local_keys == 0);
}

TEST_CASE("router: a tag is taken only from a member at its bound address; a digest from anyone") {
  Cluster c;
  for (auto id : {"a", "b", "c"}) c.Add(id);
  c.Wire();
  c.Settle();
  const std::string forged_tag = "registry.example/team/app:v1";
  const std::string real_tag = "registry.example/team/app:v2";
  const std::string digest = Key(7);
  // Every router owns every key here (3 members, 3 replicas): announce straight to all three.
  const Provider stranger{"stranger", "10.9.9.9", 5000};
  // A member's id at an address it is not bound to (the router service refuses such an announce
  // with 409; the lookup does not rely on it).
  const Provider c_elsewhere{"c", "10.9.9.8", 5000};
  for (auto& [id, r] : c.routers) {
    REQUIRE(r->HandleAnnounce(stranger, AnnounceBatch{{forged_tag, digest}, {}, 60'000}).ok());
    REQUIRE(r->HandleAnnounce(c_elsewhere, AnnounceBatch{{forged_tag}, {}, 60'000}).ok());
    REQUIRE(r->HandleAnnounce(Self("b"), AnnounceBatch{{real_tag, digest}, {}, 60'000}).ok());
  }
  auto lookup = [&](const std::string& from, const std::string& key) {
    std::vector<Provider> got;
    bool done = false;
    c[from]->Lookup(key, 20, [&](std::vector<Provider> ps) {
      got = std::move(ps);
      done = true;
    });
    c.sched.RunFor(20);
    CHECK(done);
    return got;
  };
  for (const char* from : {"a", "c"}) {
    CAPTURE(from);
    const uint64_t before = c[from]->stats().untrusted_tag_providers;
    CHECK(lookup(from, forged_tag).empty());
    CHECK(c[from]->stats().untrusted_tag_providers > before);  // once per owner that answered
    CHECK(lookup(from, real_tag) == std::vector<Provider>{Self("b")});
    // The digest: members first, then the stranger (the bytes are checked against the digest, so
    // a stranger can only waste an attempt, and eviction drops it first).
    const std::vector<Provider> ps = lookup(from, digest);
    REQUIRE(ps.size() == 2);
    CHECK(ps[0] == Self("b"));
    CHECK(ps[1] == stranger);
  }
}

TEST_CASE("router: large key sets are split into messages of at most max_batch_keys") {
  Cluster c;
  c.options.max_batch_keys = 100;
  c.Add("a");
  c.Add("b");
  c.Settle();
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(Key(i));
  c["a"]->SetLocalKeys(keys);
  c.Settle();
  // With 2 nodes and R = 3 both own every key: b gets 1000 keys in 10 messages.
  CHECK(c.net("a").announces.size() == 10);
  for (auto& [o, b] : c.net("a").announces) CHECK(b.add.size() <= 100);
  CHECK(c["b"]->stats().provider_keys == 1000);
  CHECK(c["a"]->stats().provider_keys == 1000);  // Its own share, applied without a message.
}

TEST_CASE("router: keys are refreshed before the TTL expires, and expire when not refreshed") {
  Cluster c;
  c.options.announce_ttl_ms = 4'000;
  c.options.refresh_slices = 4;
  c.options.sweep_interval_ms = 100;
  c.Add("a");
  c.Add("b");
  c.Wire();
  c.Settle();
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) keys.push_back(Key(i));
  c["a"]->SetLocalKeys(keys);
  c.Settle();
  size_t first = c.net("a").announces.size();
  for (int t = 0; t < 20; ++t) {
    c.sched.RunFor(1'000);
    CHECK(c["b"]->stats().provider_keys == 64);
  }
  // Spread: refreshes went out in several small messages, not one bulk re-send.
  CHECK(c.net("a").announces.size() > first + 20);
  for (size_t i = first; i < c.net("a").announces.size(); ++i) {
    CHECK(c.net("a").announces[i].second.add.size() < 64);
  }
  // a stops refreshing (gone without a goodbye, still a member): b's entries expire and are swept.
  c.routers.erase("a");
  c.sched.RunFor(5'000);
  CHECK(c["b"]->stats().provider_keys == 0);
  CHECK(c["b"]->HandleLookup(Key(1)).empty());
}

TEST_CASE("router: HandleAnnounce bounds and bad input") {
  ManualScheduler sched;
  Membership m(&sched, "");
  FakeNet net;
  RouterOptions o;
  o.max_keys = 10;
  o.max_providers_per_key = 2;
  Router r(&sched, &m, &net, Self("owner"), o);
  Provider p1 = Self("p1");

  AnnounceBatch big;
  for (int i = 0; i < 20'001; ++i) big.add.push_back("k" + std::to_string(i));
  CHECK(r.HandleAnnounce(p1, big).code() == Code::kInvalidArgument);
  CHECK(r.stats().provider_keys == 0);

  AnnounceBatch long_key{{Key(1), std::string(513, 'x')}, {}, 1000};
  CHECK(r.HandleAnnounce(p1, long_key).code() == Code::kInvalidArgument);
  CHECK(r.stats().provider_keys == 0);  // Nothing applied.

  CHECK(r.HandleAnnounce(Provider{"bad id", "10.0.0.1", 1}, AnnounceBatch{{Key(1)}, {}, 1000})
            .code() == Code::kInvalidArgument);
  CHECK(r.stats().rejected_batches == 3);

  AnnounceBatch mixed{{Key(1), "", "a b", "c\x01", Key(2)}, {"bad key"}, 1000};
  CHECK(r.HandleAnnounce(p1, mixed).ok());
  CHECK(r.stats().provider_keys == 2);
  CHECK(r.stats().bad_keys == 4);

  // max_keys: only 10 keys fit.
  AnnounceBatch many;
  for (int i = 100; i < 120; ++i) many.add.push_back(Key(i));
  CHECK(r.HandleAnnounce(p1, many).ok());
  CHECK(r.stats().provider_keys == 10);
  CHECK(r.stats().table_full_drops == 12);

  // max_providers_per_key: among members, the oldest expiry is evicted.
  for (const char* id : {"p1", "p2", "p3"}) m.Observe(Info(id), MemberSource::kStatic, 1e9);
  CHECK(r.HandleAnnounce(Self("p2"), AnnounceBatch{{Key(1)}, {}, 5000}).ok());
  CHECK(r.HandleAnnounce(Self("p3"), AnnounceBatch{{Key(1)}, {}, 3000}).ok());
  auto ps = r.HandleLookup(Key(1));
  REQUIRE(ps.size() == 2);
  std::set<std::string> ids{ps[0].node_id, ps[1].node_id};
  CHECK(ids == std::set<std::string>{"p2", "p3"});
  // A node that is no member cannot push a member out of a full key (provider_table_test.cc
  // has the eviction order).
  CHECK(r.HandleAnnounce(Self("stranger"), AnnounceBatch{{Key(1)}, {}, 3'600'000}).ok());
  CHECK(r.HandleLookup(Key(1)).size() == 2);
  CHECK(r.stats().stranger_drops == 1);

  // A remove only removes the sender's own entry.
  CHECK(r.HandleAnnounce(Self("p2"), AnnounceBatch{{}, {Key(2)}, 0}).ok());
  CHECK(r.HandleLookup(Key(2)).size() == 1);
  CHECK(r.HandleAnnounce(p1, AnnounceBatch{{}, {Key(2)}, 0}).ok());
  CHECK(r.HandleLookup(Key(2)).empty());
  CHECK(r.stats().provider_keys == 9);

  // The sender's address comes from the caller (the socket), and the latest one wins.
  Provider moved{"p2", "192.0.2.7", 6000};
  CHECK(r.HandleAnnounce(moved, AnnounceBatch{{Key(1)}, {}, 5000}).ok());
  bool found = false;
  for (auto& p : r.HandleLookup(Key(1))) {
    if (p.node_id == "p2") {
      found = true;
      CHECK(p.address == "192.0.2.7");
      CHECK(p.registry_port == 6000);
    }
  }
  CHECK(found);
}

TEST_CASE("router: requested TTLs are capped") {
  ManualScheduler sched;
  Membership m(&sched, "");
  FakeNet net;
  RouterOptions o;
  o.max_provider_ttl_ms = 10'000;
  Router r(&sched, &m, &net, Self("owner"), o);
  CHECK(r.HandleAnnounce(Self("p"), AnnounceBatch{{Key(1)}, {}, 1'000'000'000}).ok());
  sched.RunFor(9'999);
  CHECK(r.HandleLookup(Key(1)).size() == 1);
  sched.RunFor(2);
  CHECK(r.HandleLookup(Key(1)).empty());
}

TEST_CASE("router: local keys are validated") {
  Cluster c;
  c.Add("a");
  c["a"]->SetLocalKeys({Key(1), "", "has space", Key(1), std::string(600, 'k')});
  CHECK(c["a"]->stats().local_keys == 1);
  CHECK(c["a"]->stats().bad_keys == 3);
}

TEST_CASE("router: a lookup survives failing owners and times out on silent ones") {
  Cluster c;
  for (auto id : {"a", "b", "c", "d", "e", "f"}) c.Add(id);
  c.Wire();
  c.Settle();
  // Find a key that "a" provides and "f" does not own.
  std::string key;
  std::vector<std::string> owners;
  for (int i = 0; i < 1000 && key.empty(); ++i) {
    owners = c["f"]->OwnersOf(Key(i));
    bool ok = true;
    for (auto& o : owners) ok = ok && o != "f" && o != "a";
    if (ok) key = Key(i);
  }
  REQUIRE_FALSE(key.empty());
  c["a"]->SetLocalKeys({key});
  c.Settle();

  SUBCASE("one owner fails: the others answer, the failure is counted and avoided") {
    c.net("f").fail.insert(owners[0]);
    c.net("f").latency = 1;
    CHECK(c.Lookup("f", key) == std::vector<std::string>{"a"});
    c.sched.RunFor(5);
    CHECK(c.membership.IsAvoided(*c.membership.Find(owners[0])));
    CHECK(c["f"]->stats().lookup_failures >= 0);
    // The avoided owner is skipped next time.
    c.net("f").lookups.clear();
    CHECK(c.Lookup("f", key) == std::vector<std::string>{"a"});
    for (auto& [o, k] : c.net("f").lookups) CHECK(o != owners[0]);
  }
  SUBCASE("all owners silent: done once, empty, at the timeout") {
    for (auto& o : owners) c.net("f").silent.insert(o);
    uint64_t took = 0;
    CHECK(c.Lookup("f", key, 20, &took).empty());
    CHECK(took == 20);
    CHECK(c["f"]->stats().lookups_timed_out == 1);
    CHECK(c.net("f").lookups.size() == 3);
  }
  SUBCASE("all owners fail: empty at once, not negative-cached") {
    for (auto& o : owners) c.net("f").fail.insert(o);
    uint64_t took = 0;
    CHECK(c.Lookup("f", key, 20, &took).empty());
    CHECK(took < 20);
    CHECK(c["f"]->stats().lookup_failures == 3);
    c.net("f").fail.clear();
    c.sched.RunFor(20'000);  // Let the avoidance pass.
    CHECK(c.Lookup("f", key) == std::vector<std::string>{"a"});
  }
  SUBCASE("a provider that is avoided is not returned") {
    c.membership.ReportFailure("a");
    CHECK(c.Lookup("f", key).empty());
  }
}

TEST_CASE("router: negative cache answers a missing key without messages for a short time") {
  Cluster c;
  for (auto id : {"a", "b", "c", "d", "e"}) c.Add(id);
  c.Settle();
  std::string key;
  for (int i = 0; i < 1000 && key.empty(); ++i) {
    auto owners = c["a"]->OwnersOf(Key(i));
    if (std::find(owners.begin(), owners.end(), "a") == owners.end()) key = Key(i);
  }
  CHECK(c.Lookup("a", key).empty());
  size_t sent = c.net("a").lookups.size();
  CHECK(sent == 3);
  for (int i = 0; i < 10; ++i) CHECK(c.Lookup("a", key).empty());
  CHECK(c.net("a").lookups.size() == sent);
  CHECK(c["a"]->stats().negative_cache_hits == 10);
  c.sched.RunFor(600);
  CHECK(c.Lookup("a", key).empty());
  CHECK(c.net("a").lookups.size() == sent + 3);
  // An invalid key is answered empty without messages too.
  CHECK(c.Lookup("a", "bad key").empty());
  CHECK(c.net("a").lookups.size() == sent + 3);
}

TEST_CASE("router: membership changes re-announce only to new owners") {
  Cluster c;
  for (int i = 0; i < 20; ++i) c.Add("n" + std::to_string(i));
  c.Wire();
  c.Settle();
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i) keys.push_back(Key(i));
  c["n0"]->SetLocalKeys(keys);
  c.Settle();
  auto& net = c.net("n0");

  SUBCASE("join: only the joiner gets keys, exactly those it now owns") {
    net.announces.clear();
    Router* j = c.Add("joiner");
    c.Settle();
    REQUIRE_FALSE(net.announces.empty());
    size_t owned = 0;
    for (auto& k : keys) {
      auto o = c["n0"]->OwnersOf(k);
      owned += std::find(o.begin(), o.end(), "joiner") != o.end();
    }
    size_t sent = 0;
    for (auto& [o, b] : net.announces) {
      CHECK(o == "joiner");
      sent += b.add.size();
    }
    CHECK(sent == owned);
    CHECK(j->stats().provider_keys == owned);
    CHECK(owned > 0);
    // The owners that lost those keys to the joiner dropped their entries: every owner holds
    // exactly the keys it owns now, and the drops are counted with the bytes they freed.
    uint64_t disowned = 0;
    for (auto& [router_id, r] : c.routers) {
      // clang 14 cannot capture structured bindings (CAPTURE uses a lambda): copy first.
      const std::string id = router_id;
      size_t owns = 0;
      for (auto& k : keys) {
        auto o = c["n0"]->OwnersOf(k);
        owns += std::find(o.begin(), o.end(), id) != o.end();
      }
      CAPTURE(id);
      CHECK(r->stats().provider_keys == owns);
      disowned += r->stats().disowned_keys;
      if (r->stats().disowned_keys > 0) CHECK(r->stats().disowned_bytes > 0);
    }
    CHECK(disowned == owned);
  }
  SUBCASE("leave: the leaver's keys go to their new owners; lookups still work") {
    std::string leaver = "n7";
    std::vector<std::vector<std::string>> before;
    for (auto& k : keys) before.push_back(c["n0"]->OwnersOf(k));
    net.announces.clear();
    c.Remove(leaver);
    c.Settle();
    // Each key the leaver owned has exactly one new owner; it gets a message unless it is n0.
    size_t expected = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      auto after = c["n0"]->OwnersOf(keys[i]);
      if (after == before[i]) continue;
      CHECK(std::find(before[i].begin(), before[i].end(), leaver) != before[i].end());
      expected += std::find(before[i].begin(), before[i].end(), "n0") == before[i].end() &&
                          std::find(after.begin(), after.end(), "n0") != after.end()
                      ? 0
                      : 1;
    }
    size_t sent = 0;
    for (auto& [o, b] : net.announces) {
      CHECK(o != leaver);
      sent += b.add.size();
    }
    CHECK(expected > 0);
    CHECK(sent == expected);
    for (int i = 0; i < 50; ++i) CHECK(c.Lookup("n3", keys[i]) == std::vector<std::string>{"n0"});
  }
  SUBCASE("a provider that leaves is dropped from owners' tables") {
    c["n5"]->SetLocalKeys({keys[0]});
    c.Settle();
    CHECK(c.Lookup("n3", keys[0]).size() == 2);
    c.Remove("n5");
    c.Settle();
    CHECK(c.Lookup("n3", keys[0]) == std::vector<std::string>{"n0"});
  }
  SUBCASE("a restarted owner gets its keys again") {
    std::string owner;
    for (auto& o : c["n0"]->OwnersOf(keys[0])) {
      if (o != "n0") owner = o;
    }
    c.routers.erase(owner);  // Loses its table ...
    c.Add(owner);            // ... and comes back (same incarnation: no change reported).
    MemberInfo again = Info(owner);
    again.incarnation = 2;
    net.announces.clear();
    c.membership.Observe(again, MemberSource::kMdns, 3'600'000);
    c.Settle();
    CHECK(net.AnnouncesTo(owner) == 1);
    CHECK(c.Lookup("n3", keys[0]) == std::vector<std::string>{"n0"});
    CHECK(c[owner]->HandleLookup(keys[0]).size() == 1);
  }
}

TEST_CASE("router: failed announces are retried with backoff and the owner reported") {
  Cluster c;
  c.options.retry_initial_ms = 100;
  c.Add("a");
  c.Add("b");
  c.Wire();
  c.Settle();
  c.net("a").fail.insert("b");
  c["a"]->SetLocalKeys({Key(1), Key(2)});
  c.sched.RunFor(50);
  CHECK(c.net("a").announces.size() == 1);
  CHECK(c.membership.IsAvoided(*c.membership.Find("b")));
  c.sched.RunFor(100);
  CHECK(c.net("a").announces.size() == 2);  // First retry after 100 ms.
  c.net("a").fail.clear();
  c.sched.RunFor(300);  // Second retry after 200 ms more.
  CHECK(c.net("a").announces.size() == 3);
  CHECK(c["b"]->stats().provider_keys == 2);
  CHECK(c["a"]->stats().announce_failures == 2);
  c.sched.RunFor(10'000);
  CHECK(c.net("a").announces.size() == 3);  // Nothing more until the refresh.

  // A permanently failing owner gives up after max_attempts.
  c.net("a").fail.insert("b");
  c["a"]->SetLocalKeys({Key(1), Key(2), Key(3)});
  c.sched.RunFor(60'000);
  CHECK(c["a"]->stats().announce_failures == 2 + 5);
}

TEST_CASE("router: destroying a router with work in flight is safe") {
  Cluster c;
  for (auto id : {"a", "b", "c", "d"}) c.Add(id);
  c.Settle();
  c["a"]->SetLocalKeys({Key(1), Key(2)});
  c.sched.RunFor(20);  // Announces in flight.
  bool called = false;
  c["a"]->Lookup(Key(99), 20, [&](std::vector<Provider>) { called = true; });
  c.routers.erase("a");
  c.sched.RunFor(100);
  CHECK_FALSE(called);
  CHECK(c["b"]->stats().memory_bytes > 0);
}

}  // namespace spegel::cluster
