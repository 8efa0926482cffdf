#include "membership/dns_message.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace spegel::cluster::dns {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}

// Wire form of a name made of plain labels, no compression.
std::string WireName(std::initializer_list<std::string_view> labels) {
  std::string s;
  for (std::string_view l : labels) {
    s.push_back(static_cast<char>(l.size()));
    s.append(l);
  }
  s.push_back('\0');
  return s;
}

// A response as an mDNS responder sends it, written byte by byte: PTR _spegel._tcp.local ->
// node-1._spegel._tcp.local, then SRV, TXT and A, every later name compressed.
std::string CapturedResponse() {
  std::string p = Bytes({0x00, 0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00});
  // offset 12: _spegel._tcp.local
  p += WireName({"_spegel", "_tcp", "local"});                   // 12 .. 32
  p += Bytes({0x00, 0x0c, 0x00, 0x01, 0x00, 0x00, 0x11, 0x94});  // PTR IN ttl 4500
  p += Bytes({0x00, 0x09});                                      // rdlength: 1+6 + pointer
  // offset 42: node-1 + pointer to 12
  p += Bytes({0x06}) + "node-1" + Bytes({0xc0, 0x0c});
  // offset 51: SRV, name = pointer to 42, class IN with cache flush
  p += Bytes({0xc0, 0x2a, 0x00, 0x21, 0x80, 0x01, 0x00, 0x00, 0x00, 0x78});
  p += Bytes({0x00, 0x16, 0x00, 0x00, 0x00, 0x00, 0x13,
              0x88});  // rdlength 22, prio 0, weight 0, port 5000
  // offset 69: target spegel-node-1.local, "local" compressed to offset 25
  p += Bytes({0x0d}) + "spegel-node-1" + Bytes({0xc0, 0x19});
  // TXT
  p += Bytes({0xc0, 0x2a, 0x00, 0x10, 0x80, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x0e});
  p += Bytes({0x03}) + "v=1" + Bytes({0x09}) + "id=node-1";
  // A for the SRV target (the label at offset 69)
  p += Bytes({0xc0, 0x45, 0x00, 0x01, 0x80, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x04});
  p += Bytes({10, 0, 0, 7});
  return p;
}

TEST_CASE("dns_message: parses a hand-built compressed mDNS response") {
  const std::string p = CapturedResponse();
  Result<Message> m = ParseMessage(p);
  REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  CHECK(m->is_response());
  CHECK(m->flags == 0x8400);
  CHECK(m->questions.empty());
  REQUIRE(m->answers.size() == 4);
  const ResourceRecord& ptr = m->answers[0];
  CHECK(ptr.name == "_spegel._tcp.local");
  CHECK(ptr.type == kTypePtr);
  CHECK(ptr.ttl == 4500);
  CHECK_FALSE(ptr.cache_flush);
  CHECK(ptr.target == "node-1._spegel._tcp.local");
  const ResourceRecord& srv = m->answers[1];
  CHECK(srv.name == "node-1._spegel._tcp.local");
  CHECK(srv.type == kTypeSrv);
  CHECK(srv.cache_flush);
  CHECK(srv.rclass == kClassIn);
  CHECK(srv.ttl == 120);
  CHECK(srv.port == 5000);
  CHECK(srv.target == "spegel-node-1.local");
  const ResourceRecord& txt = m->answers[2];
  CHECK(txt.type == kTypeTxt);
  CHECK(txt.txt == std::vector<std::string>{"v=1", "id=node-1"});
  const ResourceRecord& a = m->answers[3];
  CHECK(a.name == "spegel-node-1.local");
  CHECK(a.type == kTypeA);
  CHECK(a.ip[0] == 10);
  CHECK(a.ip[3] == 7);
}

TEST_CASE("dns_message: every truncation of a valid packet fails cleanly") {
  const std::string p = CapturedResponse();
  REQUIRE(ParseMessage(p).ok());
  for (size_t n = 0; n < p.size(); ++n) {
    Result<Message> m = ParseMessage(std::string_view(p).substr(0, n));
    CHECK_MESSAGE(!m.ok(), "prefix of " << n << " bytes parsed");
    if (!m.ok()) CHECK(m.status().code() == Code::kInvalidArgument);
  }
  // Trailing bytes after the counted records are ignored.
  CHECK(ParseMessage(p + "xyz").ok());
}

TEST_CASE("dns_message: round trip of every decoded type, with and without compression") {
  Message m;
  m.id = 0x1234;
  m.flags = kFlagResponse | kFlagAuthoritative;
  m.questions.push_back({"_spegel._tcp.local", kTypePtr, kClassIn, true});
  ResourceRecord ptr;
  ptr.name = "_spegel._tcp.local";
  ptr.type = kTypePtr;
  ptr.ttl = 4500;
  ptr.target = "node\\.a._spegel._tcp.local";  // instance label with a dot in it
  m.answers.push_back(ptr);
  ResourceRecord srv;
  srv.name = ptr.target;
  srv.type = kTypeSrv;
  srv.cache_flush = true;
  srv.ttl = 120;
  srv.priority = 1;
  srv.weight = 2;
  srv.port = 5000;
  srv.target = "spegel-node-a.local";
  m.answers.push_back(srv);
  ResourceRecord txt;
  txt.name = ptr.target;
  txt.type = kTypeTxt;
  txt.txt = {"v=1", "id=node.a", "", std::string(255, 'x')};
  m.answers.push_back(txt);
  ResourceRecord a;
  a.name = "spegel-node-a.local";
  a.type = kTypeA;
  a.ip = {192, 168, 1, 2};
  m.additionals.push_back(a);
  ResourceRecord aaaa;
  aaaa.name = "spegel-node-a.local";
  aaaa.type = kTypeAaaa;
  for (int i = 0; i < 16; ++i) aaaa.ip[i] = static_cast<uint8_t>(0xf0 + i);
  m.additionals.push_back(aaaa);
  ResourceRecord other;
  other.name = "spegel-node-a.local";
  other.type = 47;  // NSEC: kept raw
  other.raw = Bytes({0xc0, 0x0c, 0x00, 0x04, 0x40, 0x00, 0x00, 0x08});
  m.authorities.push_back(other);

  std::string sizes[2];
  for (bool compress : {false, true}) {
    CAPTURE(compress);
    Result<std::string> wire = BuildMessage(m, compress);
    REQUIRE_MESSAGE(wire.ok(), wire.status().ToString());
    sizes[compress ? 1 : 0] = *wire;
    Result<Message> back = ParseMessage(*wire);
    REQUIRE_MESSAGE(back.ok(), back.status().ToString());
    CHECK(back->id == 0x1234);
    CHECK(back->flags == m.flags);
    REQUIRE(back->questions.size() == 1);
    CHECK(back->questions[0].name == "_spegel._tcp.local");
    CHECK(back->questions[0].unicast_response);
    CHECK(back->questions[0].qclass == kClassIn);
    REQUIRE(back->answers.size() == 3);
    CHECK(back->answers[0].target == "node\\.a._spegel._tcp.local");
    CHECK(back->answers[1].name == "node\\.a._spegel._tcp.local");
    CHECK(back->answers[1].priority == 1);
    CHECK(back->answers[1].weight == 2);
    CHECK(back->answers[1].port == 5000);
    CHECK(back->answers[1].target == "spegel-node-a.local");
    CHECK(back->answers[1].cache_flush);
    CHECK(back->answers[2].txt == txt.txt);
    REQUIRE(back->additionals.size() == 2);
    CHECK(back->additionals[0].ip == a.ip);
    CHECK(back->additionals[1].ip == aaaa.ip);
    REQUIRE(back->authorities.size() == 1);
    CHECK(back->authorities[0].type == 47);
    CHECK(back->authorities[0].raw == other.raw);
    // Rebuilding the parsed message gives the same bytes.
    Result<std::string> again = BuildMessage(*back, compress);
    REQUIRE(again.ok());
    CHECK(*again == *wire);
  }
  CHECK(sizes[1].size() < sizes[0].size());
}

TEST_CASE("dns_message: compression never rewrites a later name's case") {
  Message m;
  m.questions.push_back({"a.local", kTypeA, kClassIn, false});
  m.questions.push_back({"b.LOCAL", kTypeA, kClassIn, false});
  m.questions.push_back({"A.local", kTypeA, kClassIn, false});
  Result<std::string> wire = BuildMessage(m, /*compress=*/true);
  REQUIRE(wire.ok());
  Result<Message> back = ParseMessage(*wire);
  REQUIRE(back.ok());
  REQUIRE(back->questions.size() == 3);
  CHECK(back->questions[0].name == "a.local");
  CHECK(back->questions[1].name == "b.LOCAL");
  CHECK(back->questions[2].name == "A.local");
  // An exact repeat is still compressed: 2 bytes of pointer instead of 9 of name.
  m.questions.push_back({"a.local", kTypeA, kClassIn, false});
  Result<std::string> longer = BuildMessage(m, /*compress=*/true);
  REQUIRE(longer.ok());
  CHECK(longer->size() == wire->size() + 2 + 4);
}

TEST_CASE("dns_message: compression pointer loops and forward pointers are rejected") {
  const std::string header = Bytes({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});
  const std::string qtail = Bytes({0, 1, 0, 1});
  // A pointer to itself.
  CHECK_FALSE(ParseMessage(header + Bytes({0xc0, 12}) + qtail).ok());
  // A pointer forward.
  CHECK_FALSE(ParseMessage(header + Bytes({0xc0, 14, 0}) + qtail).ok());
  // Backwards, but the label it lands on leads into the same pointer again: "a" then a pointer
  // to the start of this very name.
  CHECK_FALSE(ParseMessage(header + Bytes({1, 'a', 0xc0, 12}) + qtail).ok());
  // Two names pointing at each other (the second points back into the first, whose pointer
  // points forward to the second).
  {
    std::string h2 = Bytes({0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0});
    std::string p = h2 + Bytes({1, 'a', 0xc0, 18}) + qtail + Bytes({1, 'b', 0xc0, 12}) + qtail;
    Result<Message> m = ParseMessage(p);
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().message().find("backwards") != std::string::npos);
  }
  // A pointer into the header area past the message start is fine as long as it points back
  // and ends: name "x" at 12, then a question "y" + pointer to 12.
  {
    std::string h2 = Bytes({0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0});
    std::string p = h2 + Bytes({1, 'x', 0}) + qtail + Bytes({1, 'y', 0xc0, 12}) + qtail;
    Result<Message> m = ParseMessage(p);
    REQUIRE_MESSAGE(m.ok(), m.status().ToString());
    CHECK(m->questions[1].name == "y.x");
  }
  // Reserved label types (0x40, 0x80).
  CHECK_FALSE(ParseMessage(header + Bytes({0x40, 0}) + qtail).ok());
  CHECK_FALSE(ParseMessage(header + Bytes({0x80, 0}) + qtail).ok());
}

TEST_CASE("dns_message: names longer than 255 bytes are rejected, also through pointers") {
  // 4 labels of 63 bytes = 256 wire bytes with the root.
  std::string name;
  for (int i = 0; i < 4; ++i) name += WireName({std::string(63, 'a')}).substr(0, 64);
  name.push_back('\0');
  const std::string header = Bytes({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});
  CHECK_FALSE(ParseMessage(header + name + Bytes({0, 1, 0, 1})).ok());
  // 3 labels + 61-byte label = 254 + root = 255: accepted.
  std::string ok_name;
  for (int i = 0; i < 3; ++i) ok_name += WireName({std::string(63, 'a')}).substr(0, 64);
  ok_name += WireName({std::string(61, 'b')});
  CHECK(ParseMessage(header + ok_name + Bytes({0, 1, 0, 1})).ok());
  // The same 255-byte name plus one more label reached through a pointer: too long.
  std::string h2 = Bytes({0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0});
  CHECK_FALSE(
      ParseMessage(h2 + ok_name + Bytes({0, 1, 0, 1}) + Bytes({1, 'z', 0xc0, 12, 0, 1, 0, 1}))
          .ok());
  // Builder side.
  Message m;
  m.questions.push_back({std::string(64, 'a') + ".local", kTypeA, kClassIn, false});
  CHECK_FALSE(BuildMessage(m).ok());
  m.questions[0].name = std::string(63, 'a') + "." + std::string(63, 'a') + "." +
                        std::string(63, 'a') + "." + std::string(62, 'a');
  CHECK_FALSE(BuildMessage(m).ok());
  m.questions[0].name = "a..local";
  CHECK_FALSE(BuildMessage(m).ok());
  m.questions[0].name = "bad\\";
  CHECK_FALSE(BuildMessage(m).ok());
  m.questions[0].name = "bad\\25";
  CHECK_FALSE(BuildMessage(m).ok());
  m.questions[0].name = "ok\\032space.local";
  Result<std::string> wire = BuildMessage(m);
  REQUIRE(wire.ok());
  CHECK(ParseMessage(*wire)->questions[0].name == "ok\\032space.local");
}

TEST_CASE("dns_message: counts that cannot fit fail before any allocation") {
  std::string p = Bytes({0, 0, 0x84, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  p += std::string(88, '\0');
  Result<Message> m = ParseMessage(p);
  REQUIRE_FALSE(m.ok());
  CHECK(m.status().message().find("counts") != std::string::npos);
  // One answer claimed, none present.
  CHECK_FALSE(ParseMessage(Bytes({0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0})).ok());
  // Header only, all counts zero: an empty but valid message.
  CHECK(ParseMessage(Bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})).ok());
}

TEST_CASE("dns_message: rdata lengths are checked per type") {
  const std::string header = Bytes({0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0});
  const std::string rr = Bytes({0}) + Bytes({0, 1, 0, 1, 0, 0, 0, 10});  // root name, A, IN, ttl
  CHECK(ParseMessage(header + rr + Bytes({0, 4, 1, 2, 3, 4})).ok());
  CHECK_FALSE(ParseMessage(header + rr + Bytes({0, 5, 1, 2, 3, 4, 5})).ok());
  CHECK_FALSE(ParseMessage(header + rr + Bytes({0, 4, 1, 2, 3})).ok());
  // PTR whose name is longer than its rdlength.
  const std::string ptr = Bytes({0, 0, 12, 0, 1, 0, 0, 0, 10});
  CHECK_FALSE(ParseMessage(header + ptr + Bytes({0, 2, 1, 'a', 0})).ok());
  // PTR with bytes after its name.
  CHECK_FALSE(ParseMessage(header + ptr + Bytes({0, 4, 1, 'a', 0, 0})).ok());
  CHECK(ParseMessage(header + ptr + Bytes({0, 3, 1, 'a', 0})).ok());
  // TXT string running past the rdata (but not past the message).
  const std::string txt = Bytes({0, 0, 16, 0, 1, 0, 0, 0, 10});
  CHECK_FALSE(ParseMessage(header + txt + Bytes({0, 2, 5, 'a'}) + "bcdef").ok());
  // SRV shorter than its fixed part.
  const std::string srv = Bytes({0, 0, 33, 0, 1, 0, 0, 0, 10});
  CHECK_FALSE(ParseMessage(header + srv + Bytes({0, 3, 0, 0, 0})).ok());
  // TXT string longer than 255 cannot be built.
  Message m;
  ResourceRecord t;
  t.name = "x.local";
  t.type = kTypeTxt;
  t.txt = {std::string(256, 'a')};
  m.answers.push_back(t);
  CHECK_FALSE(BuildMessage(m).ok());
}

TEST_CASE("dns_message: name helpers") {
  CHECK(NameEquals("_Spegel._TCP.Local", "_spegel._tcp.local"));
  CHECK_FALSE(NameEquals("a.local", "b.local"));
  CHECK(NameHasSuffix("node-1._spegel._tcp.local", "_spegel._tcp.local"));
  CHECK(NameHasSuffix("_spegel._tcp.local", "_spegel._tcp.local"));
  CHECK_FALSE(NameHasSuffix("x_spegel._tcp.local", "_spegel._tcp.local"));
  // An escaped dot is part of a label, not a separator.
  CHECK_FALSE(NameHasSuffix("a\\._spegel._tcp.local", "_spegel._tcp.local"));
  CHECK(NameHasSuffix("a\\\\._spegel._tcp.local", "_spegel._tcp.local"));
  CHECK(EscapeLabel("a.b\\c d") == "a\\.b\\\\c\\032d");
  Result<std::vector<std::string>> labels = SplitName("a\\.b\\\\c\\032d.local");
  REQUIRE(labels.ok());
  CHECK(*labels == std::vector<std::string>{"a.b\\c d", "local"});
  CHECK(SplitName("")->empty());
}

}  // namespace
}  // namespace spegel::cluster::dns
