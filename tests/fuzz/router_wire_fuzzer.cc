// Fuzzes the router API's body parsers (src/cluster/router_wire.h, and the hello's in
// src/membership/hello.h), whose input comes from other nodes over the network: ParseAnnounce,
// ParseProviders, ParseHello, and the claim and progress parsers of pull coalescing, each on every
// input.
// Invariants checked: no crash; errors are InvalidArgument with a short message; a parsed value
// respects the limits (keys, key length, providers per answer, valid ids and addresses), and
// formatting it gives a body that parses back to the same value.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/ip_literal.h"
#include "cluster/router.h"
#include "cluster/router_wire.h"
#include "membership/hello.h"
#include "membership/member.h"

namespace {

namespace cluster = spegel::cluster;

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckError(const spegel::Status& status) {
  Check(status.code() == spegel::Code::kInvalidArgument);
  Check(status.message().size() < 256);
}

void FuzzAnnounce(std::string_view input) {
  auto batch = cluster::ParseAnnounce(input);
  if (!batch.ok()) {
    CheckError(batch.status());
    return;
  }
  Check(input.size() <= cluster::kMaxAnnounceBodyBytes);
  Check(batch->add.size() + batch->remove.size() <= cluster::kMaxAnnounceKeys);
  bool ends_in_cr = false;
  for (const auto* list : {&batch->add, &batch->remove}) {
    for (const std::string& key : *list) {
      Check(key.size() <= cluster::kMaxKeyBytes);
      Check(key.find('\n') == std::string::npos);
      if (!key.empty() && key.back() == '\r') ends_in_cr = true;
    }
  }
  // A key ending in CR cannot survive a round trip ("+k\r\n" is the CRLF line of "k"); such a
  // key is no valid routing key either, so the router drops it.
  if (ends_in_cr) return;
  const std::string wire = cluster::FormatAnnounce(*batch);
  auto again = cluster::ParseAnnounce(wire);
  Check(again.ok());
  Check(again->ttl_ms == batch->ttl_ms);
  Check(again->add == batch->add);
  Check(again->remove == batch->remove);
}

void FuzzProviders(std::string_view input) {
  auto providers = cluster::ParseProviders(input);
  if (!providers.ok()) {
    CheckError(providers.status());
    return;
  }
  Check(providers->size() <= cluster::kMaxProvidersPerAnswer);
  for (const cluster::Provider& p : *providers) {
    Check(cluster::IsValidNodeId(p.node_id));
    Check(spegel::IsIpLiteral(p.address));
    Check(p.registry_port != 0);
  }
  auto again = cluster::ParseProviders(cluster::FormatProviders(*providers));
  Check(again.ok());
  Check(*again == *providers);
}

void FuzzHello(std::string_view input) {
  auto info = cluster::ParseHello(input);
  if (!info.ok()) {
    CheckError(info.status());
    return;
  }
  Check(cluster::IsValidNodeId(info->node_id));
  Check(info->registry_port != 0 && info->router_port != 0);
  Check(info->addresses.empty());  // Never taken from a body.
  auto again = cluster::ParseHello(cluster::FormatHello(*info));
  Check(again.ok());
  Check(again->node_id == info->node_id);
  Check(again->incarnation == info->incarnation);
  Check(again->registry_port == info->registry_port);
  Check(again->router_port == info->router_port);
}

void FuzzClaim(std::string_view input) {
  auto request = cluster::ParseClaimRequest(input);
  if (request.ok()) {
    Check(cluster::IsValidRoutingKey(request->key));
    Check(request->avoid.size() <= cluster::kMaxClaimAvoid);
    for (const std::string& id : request->avoid) Check(cluster::IsValidNodeId(id));
    auto again = cluster::ParseClaimRequest(cluster::FormatClaimRequest(*request));
    Check(again.ok() && again->key == request->key && again->can_serve == request->can_serve &&
          again->avoid == request->avoid);
  } else {
    CheckError(request.status());
  }
  auto answer = cluster::ParseClaimAnswer(input);
  if (answer.ok()) {
    const bool lists = answer->verdict == cluster::ClaimVerdict::kHave ||
                       answer->verdict == cluster::ClaimVerdict::kFollow;
    Check(lists != answer->nodes.empty());
    auto again = cluster::ParseClaimAnswer(cluster::FormatClaimAnswer(*answer));
    Check(again.ok() && again->verdict == answer->verdict && again->nodes == answer->nodes);
  } else {
    CheckError(answer.status());
  }
}

void FuzzProgress(std::string_view input) {
  auto reports = cluster::ParseProgress(input);
  if (reports.ok()) {
    Check(reports->size() <= cluster::kMaxProgressLines);
    for (const auto& r : *reports) {
      Check(cluster::IsValidRoutingKey(r.key));
      Check(r.total == 0 || r.offset <= r.total);
      Check((r.state == cluster::ProgressState::kReading) == !r.source.empty());
      Check(r.source.empty() || cluster::IsValidNodeId(r.source));
    }
    auto again = cluster::ParseProgress(cluster::FormatProgress(*reports));
    Check(again.ok() && again->size() == reports->size());
    for (size_t i = 0; i < reports->size(); ++i) {
      Check((*again)[i].key == (*reports)[i].key && (*again)[i].state == (*reports)[i].state &&
            (*again)[i].offset == (*reports)[i].offset &&
            (*again)[i].total == (*reports)[i].total && (*again)[i].source == (*reports)[i].source);
    }
  } else {
    CheckError(reports.status());
  }
  auto revoked = cluster::ParseRevoked(input);
  if (revoked.ok()) {
    auto again = cluster::ParseRevoked(cluster::FormatRevoked(*revoked));
    Check(again.ok() && *again == *revoked);
  } else {
    CheckError(revoked.status());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  FuzzAnnounce(input);
  FuzzProviders(input);
  FuzzHello(input);
  FuzzClaim(input);
  FuzzProgress(input);
  return 0;
}
