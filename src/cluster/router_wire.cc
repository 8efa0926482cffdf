#include "cluster/router_wire.h"

#include "base/ip_literal.h"
#include "base/lines.h"
#include "base/numbers.h"

namespace spegel::cluster {

std::string FormatAnnounce(const AnnounceBatch& batch) {
  std::string out = "ttl=" + std::to_string(batch.ttl_ms) + "\n";
  for (const auto& key : batch.add) out.append("+").append(key).append("\n");
  for (const auto& key : batch.remove) out.append("-").append(key).append("\n");
  return out;
}

Result<AnnounceBatch> ParseAnnounce(std::string_view body) {
  if (body.size() > kMaxAnnounceBodyBytes) {
    return Status::InvalidArgument("announce body larger than 1 MiB");
  }
  AnnounceBatch batch;
  std::string error;
  bool first = true;
  size_t keys = 0;
  ForEachLine(body, [&](std::string_view line) {
    if (first) {
      first = false;
      if (line.substr(0, 4) != "ttl=" || !ParseDecimal(line.substr(4), &batch.ttl_ms)) {
        error = "announce must start with ttl=<ms>";
        return false;
      }
      return true;
    }
    if (++keys > kMaxAnnounceKeys) {
      error = "announce with more than " + std::to_string(kMaxAnnounceKeys) + " keys";
      return false;
    }
    const std::string_view key = line.substr(1);
    if (key.size() > kMaxKeyBytes) {
      error = "announce key longer than " + std::to_string(kMaxKeyBytes) + " bytes";
      return false;
    }
    if (line[0] == '+') {
      batch.add.emplace_back(key);
    } else if (line[0] == '-') {
      batch.remove.emplace_back(key);
    } else {
      error = "announce line must start with + or -";
      return false;
    }
    return true;
  });
  if (first && error.empty()) error = "empty announce";
  if (!error.empty()) return Status::InvalidArgument(error);
  return batch;
}

std::string FormatProviders(const std::vector<Provider>& providers) {
  std::string out;
  size_t n = 0;
  for (const auto& p : providers) {
    if (++n > kMaxProvidersPerAnswer) break;
    out.append(p.node_id).append(" ").append(p.address).append(" ");
    out.append(std::to_string(p.registry_port)).append("\n");
  }
  return out;
}

void MarkSelfAddress(std::vector<Provider>* nodes) {
  for (Provider& node : *nodes) {
    if (node.address.empty()) node.address = std::string(kSelfAddress);
  }
}

void ResolveSelfAddress(std::vector<Provider>* nodes, std::string_view owner_id,
                        std::string_view owner_address) {
  std::erase_if(*nodes, [&](Provider& node) {
    if (node.address != kSelfAddress) return false;
    if (node.node_id != owner_id || owner_address.empty()) return true;
    node.address = std::string(owner_address);
    return false;
  });
}

Result<std::vector<Provider>> ParseProviders(std::string_view body) {
  std::vector<Provider> out;
  std::string error;
  ForEachLine(body, [&](std::string_view line) {
    if (out.size() >= kMaxProvidersPerAnswer) {
      error = "too many providers";
      return false;
    }
    const size_t a = line.find(' ');
    const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos) {
      error = "malformed provider line";
      return false;
    }
    Provider p;
    p.node_id = std::string(line.substr(0, a));
    p.address = std::string(line.substr(a + 1, b - a - 1));
    if (!IsValidNodeId(p.node_id) || !IsIpLiteral(p.address) ||
        !ParsePort(line.substr(b + 1), &p.registry_port)) {
      error = "malformed provider line";
      return false;
    }
    out.push_back(std::move(p));
    return true;
  });
  if (!error.empty()) return Status::InvalidArgument(error);
  return out;
}

std::string FormatClaimRequest(const ClaimRequest& request) {
  std::string out = "key=" + request.key + "\nserve=" + (request.can_serve ? "1" : "0") + "\n";
  for (size_t i = 0; i < request.avoid.size() && i < kMaxClaimAvoid; ++i) {
    out.append("avoid=").append(request.avoid[i]).append("\n");
  }
  return out;
}

Result<ClaimRequest> ParseClaimRequest(std::string_view body) {
  if (body.size() > kMaxClaimBytes) return Status::InvalidArgument("claim body too large");
  ClaimRequest request;
  bool has_key = false;
  std::string error;
  ForEachLine(body, [&](std::string_view line) {
    if (line.substr(0, 4) == "key=") {
      request.key = std::string(line.substr(4));
      has_key = IsValidRoutingKey(request.key);
      if (!has_key) error = "claim: invalid key";
    } else if (line == "serve=1" || line == "serve=0") {
      request.can_serve = line == "serve=1";
    } else if (line.substr(0, 6) == "serve=") {
      error = "claim: serve must be 0 or 1";
    } else if (line.substr(0, 6) == "avoid=") {
      if (request.avoid.size() >= kMaxClaimAvoid) {
        error = "claim: more than " + std::to_string(kMaxClaimAvoid) + " avoid lines";
      } else if (!IsValidNodeId(line.substr(6))) {
        error = "claim: invalid avoid node id";
      } else {
        request.avoid.emplace_back(line.substr(6));
      }
    }
    return error.empty();
  });
  if (!error.empty()) return Status::InvalidArgument(error);
  if (!has_key) return Status::InvalidArgument("claim: missing key");
  return request;
}

std::string FormatClaimAnswer(const ClaimAnswer& answer) {
  std::string out(ClaimVerdictName(answer.verdict));
  out.push_back('\n');
  if (answer.verdict == ClaimVerdict::kHave || answer.verdict == ClaimVerdict::kFollow) {
    out.append(FormatProviders(answer.nodes));
  }
  return out;
}

Result<ClaimAnswer> ParseClaimAnswer(std::string_view body) {
  const size_t nl = body.find('\n');
  std::string_view verdict = body.substr(0, nl);
  if (!verdict.empty() && verdict.back() == '\r') verdict.remove_suffix(1);
  ClaimAnswer answer;
  for (ClaimVerdict v :
       {ClaimVerdict::kHave, ClaimVerdict::kFollow, ClaimVerdict::kFetch, ClaimVerdict::kDecline}) {
    if (verdict == ClaimVerdictName(v)) answer.verdict = v;
  }
  if (verdict != ClaimVerdictName(answer.verdict)) {
    return Status::InvalidArgument("claim answer: unknown verdict");
  }
  const std::string_view rest = nl == std::string_view::npos ? std::string_view()
                                                             : body.substr(nl + 1);
  Result<std::vector<Provider>> nodes = ParseProviders(rest);
  if (!nodes.ok()) return nodes.status();
  const bool lists = answer.verdict == ClaimVerdict::kHave ||
                     answer.verdict == ClaimVerdict::kFollow;
  if (lists == nodes->empty()) {
    return Status::InvalidArgument(lists ? "claim answer: no nodes" : "claim answer: stray nodes");
  }
  answer.nodes = std::move(nodes).value();
  return answer;
}

std::string FormatProgress(const std::vector<ProgressReport>& reports) {
  std::string out;
  for (const auto& r : reports) {
    out.append(ProgressStateName(r.state)).append(" ").append(std::to_string(r.offset));
    out.append(" ").append(std::to_string(r.total)).append(" ").append(r.key);
    if (r.state == ProgressState::kReading) out.append(" ").append(r.source);
    out.append("\n");
  }
  return out;
}

Result<std::vector<ProgressReport>> ParseProgress(std::string_view body) {
  if (body.size() > kMaxProgressBodyBytes) {
    return Status::InvalidArgument("progress body larger than 1 MiB");
  }
  std::vector<ProgressReport> out;
  std::string error;
  ForEachLine(body, [&](std::string_view line) {
    if (out.size() >= kMaxProgressLines) {
      error = "progress with more than " + std::to_string(kMaxProgressLines) + " lines";
      return false;
    }
    std::string_view fields[4];
    for (int i = 0; i < 3; ++i) {
      const size_t sp = line.find(' ');
      if (sp == std::string_view::npos) {
        error = "malformed progress line";
        return false;
      }
      fields[i] = line.substr(0, sp);
      line.remove_prefix(sp + 1);
    }
    ProgressReport r;
    bool state_known = false;
    for (ProgressState s :
         {ProgressState::kFetching, ProgressState::kFollowing, ProgressState::kDone,
          ProgressState::kFailed, ProgressState::kReading}) {
      if (fields[0] == ProgressStateName(s)) {
        r.state = s;
        state_known = true;
      }
    }
    // A reading line names its source after the key (keys hold no space).
    bool source_ok = true;
    if (r.state == ProgressState::kReading) {
      const size_t sp = line.find(' ');
      source_ok = sp != std::string_view::npos && IsValidNodeId(line.substr(sp + 1));
      if (source_ok) r.source = std::string(line.substr(sp + 1));
      line = line.substr(0, sp);
    }
    fields[3] = line;
    r.key = std::string(fields[3]);
    if (!state_known || !source_ok || !ParseDecimal(fields[1], &r.offset) ||
        !ParseDecimal(fields[2], &r.total) || !IsValidRoutingKey(r.key) ||
        (r.total > 0 && r.offset > r.total)) {
      error = "malformed progress line";
      return false;
    }
    out.push_back(std::move(r));
    return true;
  });
  if (!error.empty()) return Status::InvalidArgument(error);
  return out;
}

std::string FormatRevoked(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& key : keys) out.append("revoked ").append(key).append("\n");
  return out;
}

Result<std::vector<std::string>> ParseRevoked(std::string_view body) {
  std::vector<std::string> out;
  std::string error;
  ForEachLine(body, [&](std::string_view line) {
    if (out.size() >= kMaxProgressLines || line.substr(0, 8) != "revoked " ||
        !IsValidRoutingKey(line.substr(8))) {
      error = "malformed progress answer";
      return false;
    }
    out.emplace_back(line.substr(8));
    return true;
  });
  if (!error.empty()) return Status::InvalidArgument(error);
  return out;
}

}  // namespace spegel::cluster
