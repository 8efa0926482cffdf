// Router wire format tests (router_wire.h): every body round-trips, and every limit and
// malformed line is refused.
#include "cluster/router_wire.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "unit/cluster/announce_bodies.h"

namespace spegel::cluster {
namespace {

using spegel::cluster::testing::AnnounceBodyOfSize;
using spegel::cluster::testing::AnnounceBodyWithKeys;

const std::string kKey = "sha256:" + std::string(64, 'c');

TEST_CASE("router wire: announce format round trip") {
  AnnounceBatch batch;
  batch.ttl_ms = 600000;
  batch.add = {kKey, "docker.io/library/nginx:1.27"};
  batch.remove = {"sha256:" + std::string(64, 'd')};
  const std::string wire = FormatAnnounce(batch);
  CHECK(wire.rfind("ttl=600000\n", 0) == 0);
  auto parsed = ParseAnnounce(wire);
  REQUIRE(parsed.ok());
  CHECK(parsed->ttl_ms == batch.ttl_ms);
  CHECK(parsed->add == batch.add);
  CHECK(parsed->remove == batch.remove);
  // CRLF lines and blank lines are accepted; a ttl alone is an empty batch.
  auto crlf = ParseAnnounce("ttl=5\r\n\r\n+a\r\n-b\r\n");
  REQUIRE(crlf.ok());
  CHECK(crlf->ttl_ms == 5);
  CHECK(crlf->add == std::vector<std::string>{"a"});
  CHECK(crlf->remove == std::vector<std::string>{"b"});
  auto empty = ParseAnnounce("ttl=0\n");
  REQUIRE(empty.ok());
  CHECK(empty->add.empty());
  CHECK(empty->remove.empty());
}

TEST_CASE("router wire: announce limits and malformed bodies") {
  SUBCASE("key count") {
    auto at_limit = ParseAnnounce(AnnounceBodyWithKeys(kMaxAnnounceKeys));
    REQUIRE(at_limit.ok());
    CHECK(at_limit->add.size() == kMaxAnnounceKeys);
    auto over = ParseAnnounce(AnnounceBodyWithKeys(kMaxAnnounceKeys + 1));
    REQUIRE(!over.ok());
    CHECK(over.status().code() == Code::kInvalidArgument);
    CHECK(over.status().message().find("20000") != std::string::npos);
  }
  SUBCASE("key length") {
    CHECK(ParseAnnounce("ttl=1\n+" + std::string(kMaxKeyBytes, 'k') + "\n").ok());
    CHECK(ParseAnnounce("ttl=1\n-" + std::string(kMaxKeyBytes, 'k') + "\n").ok());
    CHECK(!ParseAnnounce("ttl=1\n+" + std::string(kMaxKeyBytes + 1, 'k') + "\n").ok());
    CHECK(!ParseAnnounce("ttl=1\n-" + std::string(kMaxKeyBytes + 1, 'k') + "\n").ok());
  }
  SUBCASE("body size") {
    const std::string at_limit = AnnounceBodyOfSize(kMaxAnnounceBodyBytes);
    REQUIRE(at_limit.size() == kMaxAnnounceBodyBytes);
    CHECK(ParseAnnounce(at_limit).ok());
    const std::string over = AnnounceBodyOfSize(kMaxAnnounceBodyBytes + 1);
    REQUIRE(over.size() == kMaxAnnounceBodyBytes + 1);
    auto r = ParseAnnounce(over);
    CHECK(!r.ok());
    // Refused before looking at lines: blank lines do not get past the limit either.
    CHECK(!ParseAnnounce("ttl=1\n" + std::string(kMaxAnnounceBodyBytes, '\n')).ok());
  }
  SUBCASE("ttl line") {
    for (const char* body :
         {"", "\n\n", "+a\n", "-a\n", "ttl\n+a\n", "ttl=\n+a\n", "ttl=x\n", "ttl=-1\n", "ttl=1 \n",
          "TTL=1\n", "+a\nttl=1\n", "ttl=99999999999999999999999\n"}) {
      CAPTURE(body);
      CHECK(!ParseAnnounce(body).ok());
    }
  }
  SUBCASE("line prefix") {
    for (const char* body : {"ttl=1\na\n", "ttl=1\n*a\n", "ttl=1\n+a\nttl=2\n", "ttl=1\n a\n"}) {
      CAPTURE(body);
      CHECK(!ParseAnnounce(body).ok());
    }
  }
}

TEST_CASE("router wire: providers format round trip and bad lines") {
  std::vector<Provider> providers{{"n1", "10.0.0.1", 5000}, {"n2", "fd00::2", 30021}};
  const std::string wire = FormatProviders(providers);
  CHECK(wire == "n1 10.0.0.1 5000\nn2 fd00::2 30021\n");
  auto parsed = ParseProviders(wire);
  REQUIRE(parsed.ok());
  CHECK(*parsed == providers);
  auto none = ParseProviders("");
  REQUIRE(none.ok());
  CHECK(none->empty());
  for (const char* bad :
       {"n1", "n1 10.0.0.1", "n1 10.0.0.1 ", "n1  10.0.0.1 5000", "n1 10.0.0.1 5000 extra",
        "n1 10.0.0.1 0", "n1 10.0.0.1 65536", "n1 10.0.0.1 50x0", "n1 host.example 5000",
        "n1 [::1] 5000", "bad/id 10.0.0.1 5000", " 10.0.0.1 5000", "n1 10.0.0.256 5000",
        "n1 10.0.0.1 5000\nn2 nope 1"}) {
    CAPTURE(bad);
    auto r = ParseProviders(bad);
    CHECK(!r.ok());
  }
  // At most kMaxProvidersPerAnswer: Format truncates, Parse refuses more.
  std::vector<Provider> many;
  for (size_t i = 0; i < kMaxProvidersPerAnswer + 5; ++i) {
    many.push_back({"n" + std::to_string(i), "10.0.0.1", 5000});
  }
  auto truncated = ParseProviders(FormatProviders(many));
  REQUIRE(truncated.ok());
  CHECK(truncated->size() == kMaxProvidersPerAnswer);
  std::string too_many;
  for (const auto& p : many) too_many += p.node_id + " 10.0.0.1 5000\n";
  CHECK(!ParseProviders(too_many).ok());
}

TEST_CASE("router wire: claim requests and answers round-trip; bad ones are refused") {
  const std::string key = "sha256:" + std::string(64, 'c');
  auto request = ParseClaimRequest(FormatClaimRequest({key, true}));
  REQUIRE(request.ok());
  CHECK(request->key == key);
  CHECK(request->can_serve);
  CHECK(ParseClaimRequest("key=" + key + "\n")->can_serve == false);
  for (const std::string& bad :
       std::vector<std::string>{"", "serve=1\n", "key=x y\n", "key=" + key + "\nserve=2\n",
                                std::string(5000, 'k')}) {
    CAPTURE(bad);
    CHECK(ParseClaimRequest(bad).status().code() == Code::kInvalidArgument);
  }
  ClaimAnswer follow{ClaimVerdict::kFollow, {{"n1", "10.0.0.1", 5000}, {"n2", "fd00::2", 5001}}};
  auto parsed = ParseClaimAnswer(FormatClaimAnswer(follow));
  REQUIRE(parsed.ok());
  CHECK(parsed->verdict == ClaimVerdict::kFollow);
  CHECK(parsed->nodes == follow.nodes);
  CHECK(ParseClaimAnswer("fetch\n")->verdict == ClaimVerdict::kFetch);
  CHECK(ParseClaimAnswer("decline\n")->verdict == ClaimVerdict::kDecline);
  // Complaints: avoid lines, at most kMaxClaimAvoid; an owner that predates them reads the rest.
  ClaimRequest complaint{key, true, {"n1", "n2"}};
  CHECK(FormatClaimRequest(complaint) == "key=" + key + "\nserve=1\navoid=n1\navoid=n2\n");
  auto with_avoid = ParseClaimRequest(FormatClaimRequest(complaint));
  REQUIRE(with_avoid.ok());
  CHECK(with_avoid->avoid == std::vector<std::string>{"n1", "n2"});
  CHECK(ParseClaimRequest("key=" + key + "\nserve=1\nlater=field\n").ok());
  complaint.avoid.assign(kMaxClaimAvoid + 3, "n1");
  CHECK(ParseClaimRequest(FormatClaimRequest(complaint))->avoid.size() == kMaxClaimAvoid);
  std::string too_many = "key=" + key + "\n";
  for (size_t i = 0; i <= kMaxClaimAvoid; ++i) too_many += "avoid=n" + std::to_string(i) + "\n";
  for (const std::string& bad :
       {too_many, "key=" + key + "\navoid=\n", "key=" + key + "\navoid=a b\n"}) {
    CAPTURE(bad);
    CHECK(ParseClaimRequest(bad).status().code() == Code::kInvalidArgument);
  }
  for (const char* bad :
       {"", "maybe\n", "have\n", "fetch\nn1 10.0.0.1 5000\n", "follow\nn1 10.0.0.1\n"}) {
    CAPTURE(bad);
    CHECK(ParseClaimAnswer(bad).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("router wire: progress lines and revoked keys round-trip; bad ones are refused") {
  const std::string key = "sha256:" + std::string(64, 'd');
  const std::vector<ProgressReport> reports{{key, ProgressState::kFetching, 1 << 20, 5 << 20},
                                            {key, ProgressState::kFollowing, 0, 0},
                                            {key, ProgressState::kDone, 5, 5},
                                            {key, ProgressState::kFailed, 0, 9}};
  auto parsed = ParseProgress(FormatProgress(reports));
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 4);
  CHECK((*parsed)[0].state == ProgressState::kFetching);
  CHECK((*parsed)[0].offset == 1u << 20);
  CHECK((*parsed)[0].total == 5u << 20);
  CHECK((*parsed)[3].state == ProgressState::kFailed);
  // A reader's line names the source its bytes came from, after the key.
  const ProgressReport reading{key, ProgressState::kReading, 10, 5 << 20, "fetcher-1"};
  CHECK(FormatProgress({reading}) == "reading 10 5242880 " + key + " fetcher-1\n");
  auto read_back = ParseProgress(FormatProgress({reading, reports[0]}));
  REQUIRE(read_back.ok());
  REQUIRE(read_back->size() == 2);
  CHECK((*read_back)[0].state == ProgressState::kReading);
  CHECK((*read_back)[0].offset == 10);
  CHECK((*read_back)[0].source == "fetcher-1");
  CHECK((*read_back)[1].source.empty());
  for (const std::string& bad :
       std::vector<std::string>{"sleeping 0 0 " + key, "done 5 4 " + key, "done 5 " + key,
                                "done -1 5 " + key, "done 1 1 bad key", "reading 1 5 " + key,
                                "reading 1 5 " + key + " a b", "done 1 5 " + key + " n1"}) {
    CAPTURE(bad);
    CHECK(ParseProgress(bad).status().code() == Code::kInvalidArgument);
  }
  std::string many;
  for (size_t i = 0; i <= kMaxProgressLines; ++i) many += "failed 0 0 " + key + "\n";
  CHECK_FALSE(ParseProgress(many).ok());
  auto revoked = ParseRevoked(FormatRevoked({key, key}));
  REQUIRE(revoked.ok());
  CHECK(*revoked == std::vector<std::string>{key, key});
  CHECK(ParseRevoked("")->empty());
  CHECK_FALSE(ParseRevoked("ok " + key).ok());
}

}  // namespace
}  // namespace spegel::cluster

namespace spegel::cluster {
namespace {

TEST_CASE("router wire: an owner's own entry travels as kSelfAddress and only it is resolved") {
  std::vector<Provider> nodes{{"owner", "", 5000}, {"peer", "10.0.0.2", 5000}};
  MarkSelfAddress(&nodes);
  CHECK(nodes[0].address == kSelfAddress);
  CHECK(nodes[1].address == "10.0.0.2");
  auto parsed = ParseProviders(FormatProviders(nodes));
  REQUIRE(parsed.ok());
  parsed->push_back({"other", std::string(kSelfAddress), 5000});  // speaks for another's address
  ResolveSelfAddress(&*parsed, "owner", "10.0.0.1");
  CHECK(*parsed == std::vector<Provider>{{"owner", "10.0.0.1", 5000}, {"peer", "10.0.0.2", 5000}});
}

}  // namespace
}  // namespace spegel::cluster
