#include "membership/mdns_protocol.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "membership/dns_message.h"
#include "unit/membership/mdns_member.h"

namespace spegel::cluster {
namespace {

// Applies `edit` to the parsed announcement of node-a and returns the rebuilt packet.
template <typename Edit>
std::string EditedAnnouncement(Edit edit) {
  MdnsProtocol a(Node("node-a"), 5353, 120);
  Result<dns::Message> m = dns::ParseMessage(a.Announcement({"10.0.0.1"}, 120));
  REQUIRE(m.ok());
  edit(&*m);
  Result<std::string> wire = dns::BuildMessage(*m);
  REQUIRE(wire.ok());
  return *wire;
}

dns::ResourceRecord* Find(dns::Message* m, uint16_t type) {
  for (auto& rr : m->answers) {
    if (rr.type == type) return &rr;
  }
  return nullptr;
}

TEST_CASE("mdns_protocol: an announcement is understood by another node") {
  MdnsProtocol a(Node("node-a", 42), 5353, 120);
  MdnsProtocol b(Node("node-b"), 5353, 120);
  CHECK(a.instance_name() == "node-a._spegel._tcp.local");
  CHECK(a.host_name() == "spegel-node-a.local");
  const std::string packet = a.Announcement({"10.0.0.1", "fd00::1", "fe80::1", "not-an-ip"}, 120);

  // The records are what DNS-SD browsers expect.
  Result<dns::Message> m = dns::ParseMessage(packet);
  REQUIRE(m.ok());
  CHECK(m->is_response());
  CHECK(m->questions.empty());
  int ptr = 0, srv = 0, txt = 0, a4 = 0, a6 = 0, services = 0;
  for (const auto& rr : m->answers) {
    if (rr.type == dns::kTypePtr && rr.name == "_spegel._tcp.local") {
      ++ptr;
      CHECK(rr.target == a.instance_name());
      CHECK_FALSE(rr.cache_flush);
    }
    if (rr.type == dns::kTypePtr && rr.name == "_services._dns-sd._udp.local") {
      ++services;
      CHECK(rr.target == "_spegel._tcp.local");
    }
    if (rr.type == dns::kTypeSrv) {
      ++srv;
      CHECK(rr.port == 5000);
      CHECK(rr.target == a.host_name());
      CHECK(rr.cache_flush);
      CHECK(rr.ttl == 120);
    }
    if (rr.type == dns::kTypeTxt) {
      ++txt;
      CHECK(rr.txt ==
            std::vector<std::string>{"v=1", "id=node-a", "inc=42", "registry=5000", "router=5001"});
    }
    if (rr.type == dns::kTypeA) ++a4;
    if (rr.type == dns::kTypeAaaa) ++a6;
  }
  CHECK(ptr == 1);
  CHECK(srv == 1);
  CHECK(txt == 1);
  CHECK(a4 == 1);
  CHECK(a6 == 2);
  CHECK(services == 1);

  MdnsProtocol::Outcome out = b.Handle(packet, "10.0.0.9", 5353, {"10.0.0.2"});
  REQUIRE(out.error.ok());
  CHECK(out.rejected.empty());
  CHECK_FALSE(out.multicast_answer);
  REQUIRE(out.members.size() == 1);
  const MemberInfo& info = out.members[0].first;
  CHECK(out.members[0].second == 120);
  CHECK(info.node_id == "node-a");
  CHECK(info.incarnation == 42);
  CHECK(info.registry_port == 5000);
  CHECK(info.router_port == 5001);
  // From the records, IPv4 first; the link-local IPv6 is skipped; not the source address.
  CHECK(info.addresses == std::vector<std::string>{"10.0.0.1", "fd00::1"});

  // Its own announcement, looped back, is parsed like any other: Membership::Classify tells it
  // (same id, same incarnation: self) from another node using the same id (a collision).
  MdnsProtocol::Outcome own = a.Handle(packet, "10.0.0.1", 5353, {"10.0.0.1"});
  REQUIRE(own.members.size() == 1);
  CHECK(own.members[0].first.node_id == "node-a");
  CHECK(own.members[0].first.incarnation == 42);
  CHECK(own.rejected.empty());

  // The goodbye carries TTL 0 on every record.
  MdnsProtocol::Outcome bye = b.Handle(a.Announcement({"10.0.0.1"}, 0), "10.0.0.1", 5353, {});
  REQUIRE(bye.members.size() == 1);
  CHECK(bye.members[0].first.node_id == "node-a");
  CHECK(bye.members[0].second == 0);
}

TEST_CASE("mdns_protocol: node ids that are not host labels get a safe host name and round-trip") {
  MdnsProtocol a(Node("ip-10-0-0-1.eu-west-1.compute.internal"), 5353, 120);
  CHECK(a.instance_name() == "ip-10-0-0-1\\.eu-west-1\\.compute\\.internal._spegel._tcp.local");
  CHECK(a.host_name().rfind("spegel-ip-10-0-0-1-eu-west-1-compute-internal-", 0) == 0);
  CHECK(a.host_name().size() ==
        std::string("spegel-ip-10-0-0-1-eu-west-1-compute-internal-").size() + 8 + 6);
  MdnsProtocol similar(Node("ip-10-0-0-1-eu-west-1-compute-internal"), 5353, 120);
  CHECK(similar.host_name() != a.host_name());
  MdnsProtocol longest(Node(std::string(63, 'x')), 5353, 120);
  Result<std::vector<std::string>> labels = dns::SplitName(longest.host_name());
  REQUIRE(labels.ok());
  CHECK((*labels)[0].size() <= 63);

  MdnsProtocol b(Node("node-b"), 5353, 120);
  MdnsProtocol::Outcome out = b.Handle(a.Announcement({"10.1.2.3"}, 120), "10.1.2.3", 5353, {});
  REQUIRE(out.members.size() == 1);
  CHECK(out.members[0].first.node_id == "ip-10-0-0-1.eu-west-1.compute.internal");
}

TEST_CASE("mdns_protocol: announcements with bad or missing TXT keys are ignored") {
  MdnsProtocol b(Node("node-b"), 5353, 120);
  struct Case {
    const char* what;
    std::vector<std::string> txt;
  };
  const std::vector<Case> cases = {
      {"no id", {"v=1", "inc=1", "registry=5000", "router=5001"}},
      {"bad id", {"v=1", "id=-x", "inc=1", "registry=5000", "router=5001"}},
      {"id too long",
       {"v=1", "id=" + std::string(64, 'a'), "inc=1", "registry=5000", "router=5001"}},
      {"no version", {"id=node-a", "inc=1", "registry=5000", "router=5001"}},
      {"version 2", {"v=2", "id=node-a", "inc=1", "registry=5000", "router=5001"}},
      {"bad inc", {"v=1", "id=node-a", "inc=1x", "registry=5000", "router=5001"}},
      {"inc overflow",
       {"v=1", "id=node-a", "inc=18446744073709551616", "registry=5000", "router=5001"}},
      {"registry 0", {"v=1", "id=node-a", "inc=1", "registry=0", "router=5001"}},
      {"router too big", {"v=1", "id=node-a", "inc=1", "registry=5000", "router=65536"}},
      {"router empty", {"v=1", "id=node-a", "inc=1", "registry=5000", "router="}},
      {"no keys", {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::string packet = EditedAnnouncement(
        [&](dns::Message* m) { Find(m, dns::kTypeTxt)->txt = c.txt; });
    MdnsProtocol::Outcome out = b.Handle(packet, "10.0.0.1", 5353, {});
    CHECK(out.error.ok());
    CHECK(out.members.empty());
    CHECK(out.rejected.size() == 1);
  }
  // No TXT record at all.
  const std::string no_txt = EditedAnnouncement(
      [](dns::Message* m) { Find(m, dns::kTypeTxt)->type = 99; });
  MdnsProtocol::Outcome out = b.Handle(no_txt, "10.0.0.1", 5353, {});
  CHECK(out.members.empty());
  REQUIRE(out.rejected.size() == 1);
  CHECK(out.rejected[0].find("no TXT") != std::string::npos);
  // The first occurrence of a key wins; keys are case-insensitive; unknown keys are fine.
  const std::string dup = EditedAnnouncement([](dns::Message* m) {
    Find(m, dns::kTypeTxt)->txt = {"V=1",           "ID=node-a",   "id=other",   "inc=7",   "inc=8",
                                   "registry=5000", "router=5001", "future=yes", "noequals"};
  });
  out = b.Handle(dup, "10.0.0.1", 5353, {});
  REQUIRE(out.members.size() == 1);
  CHECK(out.members[0].first.node_id == "node-a");
  CHECK(out.members[0].first.incarnation == 7);
}

TEST_CASE("mdns_protocol: addresses come from the SRV target, else the source address") {
  MdnsProtocol b(Node("node-b"), 5353, 120);
  const std::string no_a = EditedAnnouncement(
      [](dns::Message* m) { Find(m, dns::kTypeA)->type = 99; });
  MdnsProtocol::Outcome out = b.Handle(no_a, "10.0.0.77", 5353, {});
  REQUIRE(out.members.size() == 1);
  CHECK(out.members[0].first.addresses == std::vector<std::string>{"10.0.0.77"});
  // An A record for another name is not ours to use.
  const std::string other = EditedAnnouncement(
      [](dns::Message* m) { Find(m, dns::kTypeA)->name = "x.local"; });
  out = b.Handle(other, "10.0.0.78", 5353, {});
  REQUIRE(out.members.size() == 1);
  CHECK(out.members[0].first.addresses == std::vector<std::string>{"10.0.0.78"});
  // Neither records nor a source address: ignored.
  out = b.Handle(no_a, "", 5353, {});
  CHECK(out.members.empty());
  CHECK(out.rejected.size() == 1);
  // Multicast and unspecified addresses are not addresses of a peer.
  const std::string bad = EditedAnnouncement([](dns::Message* m) {
    Find(m, dns::kTypeA)->ip = {224, 0, 0, 251};
  });
  out = b.Handle(bad, "10.0.0.79", 5353, {});
  REQUIRE(out.members.size() == 1);
  CHECK(out.members[0].first.addresses == std::vector<std::string>{"10.0.0.79"});
  // Many A records: at most 8 kept.
  const std::string many = EditedAnnouncement([](dns::Message* m) {
    dns::ResourceRecord a = *Find(m, dns::kTypeA);
    for (int i = 2; i < 40; ++i) {
      a.ip = {10, 0, 0, static_cast<uint8_t>(i)};
      m->additionals.push_back(a);
    }
  });
  out = b.Handle(many, "10.0.0.80", 5353, {});
  REQUIRE(out.members.size() == 1);
  CHECK(out.members[0].first.addresses.size() == 8);
  // A huge TTL is clamped.
  const std::string long_ttl = EditedAnnouncement(
      [](dns::Message* m) { Find(m, dns::kTypeSrv)->ttl = 0xFFFFFFFF; });
  out = b.Handle(long_ttl, "10.0.0.81", 5353, {});
  REQUIRE(out.members.size() == 1);
  CHECK(out.members[0].second == kMdnsMaxTtlS);
}

TEST_CASE("mdns_protocol: a QU question gets a unicast answer, not a multicast one") {
  MdnsProtocol b(Node("node-b"), 5353, 120);
  dns::Message qu;
  qu.questions.push_back({"_spegel._tcp.local", dns::kTypePtr, dns::kClassIn, true});
  MdnsProtocol::Outcome out = b.Handle(*dns::BuildMessage(qu), "10.0.0.1", 5353, {"10.0.0.2"});
  CHECK_FALSE(out.multicast_answer);
  REQUIRE_FALSE(out.unicast_reply.empty());
  Result<dns::Message> reply = dns::ParseMessage(out.unicast_reply);
  REQUIRE(reply.ok());
  CHECK(reply->is_response());
  CHECK(reply->id == 0);
  CHECK(reply->questions.empty());  // a regular mDNS response, sent to the querier
  bool has_ptr = false;
  for (const auto& rr : reply->answers) has_ptr = has_ptr || rr.type == dns::kTypePtr;
  CHECK(has_ptr);
  // QU and QM together: both answers.
  qu.questions.push_back({"spegel-node-b.local", dns::kTypeA, dns::kClassIn, false});
  out = b.Handle(*dns::BuildMessage(qu), "10.0.0.1", 5353, {"10.0.0.2"});
  CHECK(out.multicast_answer);
  CHECK_FALSE(out.unicast_reply.empty());
  // A QU question for a name we do not publish: nothing.
  dns::Message other;
  other.questions.push_back({"_other._tcp.local", dns::kTypePtr, dns::kClassIn, true});
  out = b.Handle(*dns::BuildMessage(other), "10.0.0.1", 5353, {"10.0.0.2"});
  CHECK_FALSE(out.multicast_answer);
  CHECK(out.unicast_reply.empty());
}

TEST_CASE("mdns_protocol: queries are answered by multicast, legacy ones also by unicast") {
  MdnsProtocol a(Node("node-a"), 5353, 120);
  MdnsProtocol b(Node("node-b"), 5353, 120);
  MdnsProtocol::Outcome out = b.Handle(a.Query(), "10.0.0.1", 5353, {"10.0.0.2"});
  CHECK(out.error.ok());
  CHECK(out.multicast_answer);
  CHECK(out.unicast_reply.empty());
  CHECK(out.members.empty());

  // A one-shot resolver (dig -p 5353 @224.0.0.251) asks from an ephemeral port.
  dns::Message q;
  q.id = 0xbeef;
  q.questions.push_back({"_spegel._tcp.local", dns::kTypePtr, dns::kClassIn, false});
  const std::string legacy = *dns::BuildMessage(q);
  out = b.Handle(legacy, "10.0.0.1", 40000, {"10.0.0.2"});
  CHECK(out.multicast_answer);
  REQUIRE_FALSE(out.unicast_reply.empty());
  Result<dns::Message> reply = dns::ParseMessage(out.unicast_reply);
  REQUIRE(reply.ok());
  CHECK(reply->id == 0xbeef);
  REQUIRE(reply->questions.size() == 1);
  CHECK(reply->questions[0].name == "_spegel._tcp.local");
  bool has_a = false;
  for (const auto& rr : reply->answers) {
    CHECK(rr.ttl <= 10);
    CHECK_FALSE(rr.cache_flush);
    has_a = has_a || (rr.type == dns::kTypeA && rr.ip[0] == 10 && rr.ip[3] == 2);
  }
  CHECK(has_a);

  // Other names we publish.
  for (const auto& [q_name, q_type] :
       std::vector<std::pair<std::string, uint16_t>>{{"_services._dns-sd._udp.local",
                                                      dns::kTypePtr},
                                                     {"node-b._spegel._tcp.local", dns::kTypeSrv},
                                                     {"NODE-B._spegel._tcp.local", dns::kTypeTxt},
                                                     {"spegel-node-b.local", dns::kTypeA},
                                                     {"spegel-node-b.local", dns::kTypeAny}}) {
    // clang 14 cannot capture structured bindings (CAPTURE uses a lambda): copy first.
    const std::string name = q_name;
    CAPTURE(name);
    dns::Message m;
    m.questions.push_back({name, q_type, dns::kClassIn, false});
    CHECK(b.Handle(*dns::BuildMessage(m), "10.0.0.1", 5353, {}).multicast_answer);
  }
  // Names and types we do not publish.
  for (const auto& [q_name, q_type] :
       std::vector<std::pair<std::string, uint16_t>>{{"_http._tcp.local", dns::kTypePtr},
                                                     {"node-a._spegel._tcp.local", dns::kTypeSrv},
                                                     {"spegel-node-b.local", dns::kTypeSrv},
                                                     {"_spegel._tcp.local", dns::kTypeA}}) {
    const std::string name = q_name;
    CAPTURE(name);
    dns::Message m;
    m.questions.push_back({name, q_type, dns::kClassIn, false});
    CHECK_FALSE(b.Handle(*dns::BuildMessage(m), "10.0.0.1", 5353, {}).multicast_answer);
  }

  // Known-answer suppression: the querier already has our PTR with most of its TTL.
  dns::Message known;
  known.questions.push_back({"_spegel._tcp.local", dns::kTypePtr, dns::kClassIn, false});
  dns::ResourceRecord ptr;
  ptr.name = "_spegel._tcp.local";
  ptr.type = dns::kTypePtr;
  ptr.target = b.instance_name();
  ptr.ttl = 100;
  known.answers.push_back(ptr);
  CHECK_FALSE(b.Handle(*dns::BuildMessage(known), "10.0.0.1", 5353, {}).multicast_answer);
  known.answers[0].ttl = 30;  // less than half left: answer again
  CHECK(b.Handle(*dns::BuildMessage(known), "10.0.0.1", 5353, {}).multicast_answer);
  known.answers[0].ttl = 100;
  known.answers[0].target = "node-a._spegel._tcp.local";  // someone else's record
  CHECK(b.Handle(*dns::BuildMessage(known), "10.0.0.1", 5353, {}).multicast_answer);
}

TEST_CASE("mdns_protocol: malformed datagrams are errors, never members or answers") {
  MdnsProtocol b(Node("node-b"), 5353, 120);
  const std::string good = MdnsProtocol(Node("node-a"), 5353, 120).Announcement({"10.0.0.1"}, 120);
  for (size_t n = 0; n < good.size(); ++n) {
    MdnsProtocol::Outcome out = b.Handle(std::string_view(good).substr(0, n), "10.0.0.1", 5353, {});
    CHECK_FALSE(out.error.ok());
    CHECK(out.members.empty());
    CHECK_FALSE(out.multicast_answer);
  }
  // A non-QUERY opcode is ignored.
  std::string update = good;
  update[2] = static_cast<char>(update[2] | 0x28);
  MdnsProtocol::Outcome out = b.Handle(update, "10.0.0.1", 5353, {});
  CHECK(out.error.ok());
  CHECK(out.members.empty());
}

}  // namespace
}  // namespace spegel::cluster
