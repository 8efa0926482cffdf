#include "membership/mdns_agent.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "fakes/loop_util.h"
#include "loop/loop.h"
#include "membership/membership.h"
#include "membership/scheduler.h"
#include "unit/membership/mdns_member.h"

namespace spegel::cluster {
namespace {

TEST_CASE("mdns_agent: without interfaces it does nothing; unknown interfaces are errors") {
  Loop loop;
  int seen = 0;
  {
    MdnsAgent idle(&loop, MdnsOptions{}, Node("node-a"),
                   [&](const MemberInfo&, uint32_t, const std::string&) { ++seen; });
    CHECK(idle.Start().ok());
    bool done = false;
    idle.Stop([&] { done = true; });
    CHECK_FALSE(done);  // never inline
    CHECK(testing::RunUntil(&loop, [&] { return done; }));
  }
  MdnsOptions options;
  options.interfaces = {"spegel-nonexistent0"};
  MdnsAgent bad(&loop, options, Node("node-a"),
                [&](const MemberInfo&, uint32_t, const std::string&) { ++seen; });
  Status s = bad.Start();
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("spegel-nonexistent0") != std::string::npos);
  CHECK(seen == 0);
}

// Runs shell commands for the namespace test; returns true on exit status 0.
bool Sh(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// Enters a named network namespace for socket creation and always returns to the original one.
class NetnsScope {
 public:
  NetnsScope() : original_(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {}
  ~NetnsScope() {
    if (original_ >= 0) {
      setns(original_, CLONE_NEWNET);
      close(original_);
    }
  }
  bool Enter(const std::string& name) {
    int fd = open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = setns(fd, CLONE_NEWNET) == 0;
    close(fd);
    return ok;
  }
  bool ok() const { return original_ >= 0; }

 private:
  int original_;
};

// Two agents on the two ends of a veth pair, each end in its own network namespace created
// here (10.213.0.1/24 and 10.213.0.2/24, no default route, nothing in the root namespace). The
// agents' sockets are created inside the namespaces (setns around Start(), back to the original
// namespace at once); the loop then runs in this process as usual. Multicast never leaves them.
TEST_CASE("mdns_agent: two agents in network namespaces see each other and the goodbye") {
  if (geteuid() != 0 || !Sh("ip netns list")) {
    MESSAGE("skipped: needs root and `ip netns`");
    return;
  }
  const std::string ns_a = "spegel-mdns-" + std::to_string(getpid()) + "-a";
  const std::string ns_b = "spegel-mdns-" + std::to_string(getpid()) + "-b";
  struct Cleanup {
    std::string a, b;
    ~Cleanup() {
      Sh("ip netns del " + a);
      Sh("ip netns del " + b);
    }
  } cleanup{ns_a, ns_b};
  REQUIRE(Sh("ip netns add " + ns_a));
  REQUIRE(Sh("ip netns add " + ns_b));
  REQUIRE(Sh("ip -n " + ns_a + " link add m0 type veth peer name m1 netns " + ns_b));
  REQUIRE(Sh("ip -n " + ns_a + " addr add 10.213.0.1/24 dev m0"));
  REQUIRE(Sh("ip -n " + ns_b + " addr add 10.213.0.2/24 dev m1"));
  REQUIRE(Sh("ip -n " + ns_a + " link set m0 up"));
  REQUIRE(Sh("ip -n " + ns_b + " link set m1 up"));

  Loop loop;
  std::map<std::string, std::vector<std::pair<MemberInfo, uint32_t>>> seen;  // by observer
  MdnsOptions oa;
  oa.interfaces = {"m0"};
  oa.announce_interval_ms = 1000;
  MdnsOptions ob = oa;
  ob.interfaces = {"m1"};
  MemberInfo a_info = Node("node-a", 11);
  MemberInfo b_info = Node("node-b", 22);
  b_info.registry_port = 6000;
  auto a = std::make_unique<MdnsAgent>(&loop, oa, a_info,
                                       [&](const MemberInfo& m, uint32_t ttl, const std::string&) {
                                         seen["a"].emplace_back(m, ttl);
                                       });
  MdnsAgent b(&loop, ob, b_info, [&](const MemberInfo& m, uint32_t ttl, const std::string&) {
    seen["b"].emplace_back(m, ttl);
  });
  {
    NetnsScope scope;
    REQUIRE(scope.ok());
    REQUIRE(scope.Enter(ns_a));
    Status sa = a->Start();
    REQUIRE_MESSAGE(sa.ok(), sa.ToString());
    REQUIRE(scope.Enter(ns_b));
    Status sb = b.Start();
    REQUIRE_MESSAGE(sb.ok(), sb.ToString());
  }
  auto saw = [&](const std::string& observer, const std::string& id, bool goodbye) {
    for (const auto& [m, ttl] : seen[observer]) {
      if (m.node_id == id && (ttl == 0) == goodbye) return true;
    }
    return false;
  };
  CHECK(testing::RunUntil(
      &loop, [&] { return saw("a", "node-b", false) && saw("b", "node-a", false); }, 8000));
  // Each agent also hears its own announcement, looped back: its Membership classifies that as
  // self (same id, same incarnation), the one decision for every source.
  ManualScheduler sched;
  MembershipOptions a_self, b_self;
  a_self.self_incarnation = 11;
  b_self.self_incarnation = 22;
  Membership a_members(&sched, "node-a", a_self);
  Membership b_members(&sched, "node-b", b_self);
  auto own = [](const Membership& members, const MemberInfo& m) {
    return members.Classify(m.node_id, m.incarnation) == Identity::kSelf;
  };
  for (const auto& [m, ttl] : seen["b"]) {
    if (own(b_members, m)) continue;
    CHECK(m.node_id == "node-a");
    CHECK(m.incarnation == 11);
    CHECK(m.addresses.at(0) == "10.213.0.1");
    CHECK(m.registry_port == 5000);
    CHECK(m.router_port == 5001);
  }
  for (const auto& [m, ttl] : seen["a"]) {
    if (own(a_members, m)) continue;
    CHECK(m.node_id == "node-b");
    CHECK(m.addresses.at(0) == "10.213.0.2");
    CHECK(m.registry_port == 6000);
    if (ttl != 0) CHECK(ttl == 120);
  }
  bool a_done = false;
  a->Stop([&] { a_done = true; });
  CHECK(testing::RunUntil(
      &loop, [&] { return a_done && saw("b", "node-a", true); }, 5000));
  a.reset();
  bool b_done = false;
  b.Stop([&] { b_done = true; });
  CHECK(testing::RunUntil(
      &loop, [&] { return b_done; }, 5000));
}

}  // namespace
}  // namespace spegel::cluster
