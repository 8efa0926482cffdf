#include "membership/membership.h"

#include <algorithm>
#include <utility>

#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"

namespace spegel::cluster {

namespace {

bool Contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

Membership::Membership(Scheduler* scheduler, std::string self_id, MembershipOptions options)
    : scheduler_(scheduler), self_id_(std::move(self_id)), options_(std::move(options)) {}

Membership::~Membership() { liveness_.Revoke(); }

std::string_view IdentityName(Identity identity) {
  switch (identity) {
    case Identity::kSelf: return "self";
    case Identity::kMember: return "member";
    case Identity::kNew: return "new";
    case Identity::kCollision: return "collision";
    case Identity::kInvalid: return "invalid";
  }
  return "invalid";
}

uint64_t Membership::WallNowMs() const {
  return options_.wall_clock_ms ? options_.wall_clock_ms() : UnixNowMs();
}

Identity Membership::Classify(std::string_view node_id, uint64_t incarnation,
                              std::string_view from) const {
  if (!IsValidNodeId(node_id)) return Identity::kInvalid;
  if (incarnation > WallNowMs() + options_.max_incarnation_ahead_ms) return Identity::kInvalid;
  if (node_id == self_id_) {
    const bool ours = incarnation != 0 &&
                      (options_.self_incarnation == 0 || incarnation == options_.self_incarnation);
    if (!ours) return Identity::kCollision;
    const bool from_here = from.empty() || !options_.is_local_address ||
                           options_.is_local_address(from);
    return from_here ? Identity::kSelf : Identity::kCollision;
  }
  if (incarnation == options_.self_incarnation && incarnation != 0 && !from.empty() &&
      options_.is_local_address && Contains(former_self_ids_, node_id) &&
      options_.is_local_address(from)) {
    return Identity::kSelf;
  }
  return members_.count(node_id) ? Identity::kMember : Identity::kNew;
}

void Membership::SetSelfId(std::string node_id) {
  constexpr size_t kMaxFormerSelfIds = 8;
  if (node_id == self_id_) return;
  if (former_self_ids_.size() == kMaxFormerSelfIds)
    former_self_ids_.erase(former_self_ids_.begin());
  former_self_ids_.push_back(std::move(self_id_));
  std::erase(former_self_ids_, node_id);
  self_id_ = std::move(node_id);
  auto it = members_.find(self_id_);
  if (it == members_.end()) return;
  members_.erase(it);
  challengers_.erase(self_id_);
  Changed(self_id_, false);
}

void Membership::ReportCollision(const MemberInfo& info, std::string_view how) {
  ++collisions_;
  if (collision_listener_ && !collision_task_) {
    collision_task_ = scheduler_->After(0, [this, other = info] {
      auto keep = std::move(collision_task_);  // Destroyed at the end of this call.
      if (collision_listener_) collision_listener_(other);
    });
  }
  const std::string address = info.addresses.empty() ? std::string() : info.addresses.front();
  const uint64_t now = scheduler_->NowMs();
  auto it = collision_logged_ms_.find(address);
  if (it != collision_logged_ms_.end() && now - it->second < options_.collision_log_interval_ms) {
    return;
  }
  if (collision_logged_ms_.size() >= 1024) collision_logged_ms_.clear();  // bounded memory
  collision_logged_ms_[address] = now;
  LOG_ERROR(
      "node id collision: another node uses this node's id; give each node its own "
      "--node-id (in Kubernetes, spec.nodeName)")
      .Str("node_id", self_id_)
      .Str("other_address", address)
      .Int("other_incarnation", static_cast<int64_t>(info.incarnation))
      .Int("our_incarnation", static_cast<int64_t>(options_.self_incarnation))
      .Str("seen_in", how)
      .Int("collisions", static_cast<int64_t>(collisions_));
}

namespace {

std::string_view EvidenceAddress(const MemberInfo& info, std::string_view from) {
  if (!from.empty()) return from;
  return info.addresses.empty() ? std::string_view() : std::string_view(info.addresses.front());
}

// The same record the member already gave (another interface of the same node sends it too).
bool SameRecord(const MemberInfo& a, const MemberInfo& b) {
  return a.incarnation == b.incarnation && a.addresses == b.addresses &&
         a.registry_port == b.registry_port && a.router_port == b.router_port;
}

std::vector<std::string> BoundAddresses(const MemberInfo& info, std::string_view from) {
  std::vector<std::string> bound = info.addresses;
  if (!from.empty() && !Contains(bound, from)) bound.emplace_back(from);
  return bound;
}

}  // namespace

void Membership::Insert(const MemberInfo& info, MemberSource source, uint64_t ttl_ms,
                        std::string_view from) {
  const uint64_t now = scheduler_->NowMs();
  if (!from.empty()) {
    // One live id per address: if another id is bound there, that node now goes by this id (it
    // was renamed, or restarted with another --node-id), or one host is making ids up. Nodes
    // that share a loopback address (several on one host) are told apart by their router port.
    const bool loopback = from.starts_with("127.") || from == "::1";
    for (auto it = members_.begin(); it != members_.end();) {
      const Member& old = it->second;
      const bool same_place = !old.info.addresses.empty() && old.info.addresses.front() == from &&
                              (!loopback || old.info.router_port == info.router_port);
      if (old.info.node_id != info.node_id && same_place) {
        ++replacements_;
        if (uint64_t suppressed = 0; ShouldLog(EventKind::kLeft, &suppressed)) {
          LOG_INFO("member replaced: another id now answers at its address")
              .Str("node", old.info.node_id)
              .Str("by", info.node_id)
              .Str("address", from)
              .Int("suppressed_since_last_log", static_cast<int64_t>(suppressed));
        }
        std::string gone = it->first;
        it = members_.erase(it);
        challengers_.erase(gone);
        Changed(gone, false);
      } else {
        ++it;
      }
    }
  }
  const bool restart = members_.count(info.node_id) > 0;
  ++joins_;
  if (uint64_t suppressed = 0; ShouldLog(EventKind::kJoined, &suppressed)) {
    LOG_INFO(restart ? "member restarted" : "member joined")
        .Str("node", info.node_id)
        .Str("address",
             from.empty() && !info.addresses.empty() ? info.addresses.front() : std::string(from))
        .Str("source", MemberSourceName(source))
        .Int("suppressed_since_last_log", static_cast<int64_t>(suppressed));
  }
  Member m;
  m.info = info;
  m.node_hash = HashString(info.node_id);
  m.expires_at_ms = now + ttl_ms;
  m.seen_since_ms = now;
  m.sources = static_cast<uint8_t>(1u << static_cast<unsigned>(source));
  m.bound_addresses = BoundAddresses(info, from);
  members_.insert_or_assign(info.node_id, std::move(m));
  challengers_.erase(info.node_id);
  Changed(info.node_id, true);
  ScheduleExpiry(now + ttl_ms);
}

bool Membership::ShouldLog(EventKind kind, uint64_t* suppressed) {
  EventLog& log = event_logs_[static_cast<size_t>(kind)];
  const uint64_t now = scheduler_->NowMs();
  if (log.in_window == 0 || now - log.window_start_ms >= options_.event_log_window_ms) {
    log.window_start_ms = now;
    log.in_window = 0;
  }
  if (log.in_window >= options_.event_log_burst) {
    ++log.suppressed;
    return false;
  }
  ++log.in_window;
  *suppressed = log.suppressed;
  log.suppressed = 0;
  return true;
}

void Membership::LogLeft(const std::string& id, const Member& m, std::string_view why) {
  if (uint64_t suppressed = 0; ShouldLog(EventKind::kLeft, &suppressed)) {
    LOG_INFO("member left")
        .Str("node", id)
        .Str("address", m.bound_addresses.empty() ? std::string() : m.bound_addresses.front())
        .Str("why", why)
        .Int("suppressed_since_last_log", static_cast<int64_t>(suppressed));
  }
}

void Membership::SetListed(MemberSource source, std::vector<std::string> addresses) {
  if (addresses.size() > kMaxListedAddresses) addresses.resize(kMaxListedAddresses);
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  listed_[static_cast<size_t>(source)] = std::move(addresses);
}

bool Membership::IsListed(std::string_view address) const {
  for (const auto& list : listed_) {
    if (std::binary_search(list.begin(), list.end(), address)) return true;
  }
  for (const auto& [id, m] : members_) {
    if (Contains(m.bound_addresses, address)) return true;
  }
  return false;
}

Observed Membership::Observe(const MemberInfo& info, MemberSource source, uint64_t ttl_ms,
                             std::string_view from) {
  switch (Classify(info.node_id, info.incarnation, from)) {
    case Identity::kSelf: return Observed::kIgnored;
    case Identity::kInvalid: return Observed::kRefused;
    case Identity::kCollision:
      ReportCollision(info, MemberSourceName(source));
      return Observed::kRefused;
    case Identity::kMember:
    case Identity::kNew: break;
  }
  const std::string_view sender = EvidenceAddress(info, from);
  auto it = members_.find(info.node_id);
  if (it == members_.end()) {
    if (source == MemberSource::kPeer && !options_.admit_unlisted_hellos && !IsListed(sender)) {
      ++unlisted_refused_;
      if (uint64_t suppressed = 0; ShouldLog(EventKind::kRefused, &suppressed)) {
        LOG_WARN("refused a hello from an address no discovery source names")
            .Str("node", info.node_id)
            .Str("from", sender)
            .Int("suppressed_since_last_log", static_cast<int64_t>(suppressed));
      }
      return Observed::kUnlisted;
    }
    if (members_.size() >= options_.max_members) {
      if (!full_logged_) {
        LOG_WARN("membership table full; ignoring new members")
            .Int("max", static_cast<int64_t>(options_.max_members));
        full_logged_ = true;
      }
      return Observed::kIgnored;
    }
    Insert(info, source, ttl_ms, sender);
    return Observed::kJoined;
  }
  Member& m = it->second;
  if (!Contains(m.bound_addresses, sender)) {
    if (SameRecord(m.info, info)) return Observed::kIgnored;
    if (info.incarnation > m.info.incarnation) Challenge(m, info, source, ttl_ms, sender);
    ReportForeign(info.node_id, sender, MemberSourceName(source));
    return Observed::kRefused;
  }
  if (info.incarnation < m.info.incarnation) return Observed::kIgnored;
  const uint64_t expires = scheduler_->NowMs() + ttl_ms;
  if (info.incarnation > m.info.incarnation) {
    Insert(info, source, ttl_ms, sender);  // A restart at a bound address.
    return Observed::kJoined;
  }
  // Same incarnation: addresses or ports may be learned better by another source; keep the
  // first address list unless the stored one is empty.
  if (m.info.addresses.empty()) m.info.addresses = info.addresses;
  if (m.info.registry_port == 0) m.info.registry_port = info.registry_port;
  if (m.info.router_port == 0) m.info.router_port = info.router_port;
  m.sources |= static_cast<uint8_t>(1u << static_cast<unsigned>(source));
  m.expires_at_ms = std::max(m.expires_at_ms, expires);
  ScheduleExpiry(m.expires_at_ms);
  return Observed::kRefreshed;
}

void Membership::ReportForeign(std::string_view node_id, std::string_view from,
                               std::string_view how) {
  ++foreign_refused_;
  const uint64_t now = scheduler_->NowMs();
  if (foreign_logged_ms_ != 0 && now - foreign_logged_ms_ < options_.collision_log_interval_ms) {
    ++foreign_suppressed_;
    return;
  }
  foreign_logged_ms_ = now;
  const Member* m = Find(node_id);
  LOG_WARN("refused a message naming a member from an address it is not bound to")
      .Str("node", node_id)
      .Str("from", from)
      .Str("bound_to",
           m != nullptr && !m->bound_addresses.empty() ? m->bound_addresses.front() : std::string())
      .Str("seen_in", how)
      .Int("suppressed_since_last_log", static_cast<int64_t>(foreign_suppressed_));
  foreign_suppressed_ = 0;
}

void Membership::Challenge(Member& bound, const MemberInfo& challenger, MemberSource source,
                           uint64_t ttl_ms, std::string_view from) {
  if (!prober_) return;
  const uint64_t now = scheduler_->NowMs();
  auto it = challengers_.find(bound.info.node_id);
  if (it == challengers_.end()) {
    if (challengers_.size() >= 1024) return;  // bounded: later messages try again
    it = challengers_.emplace(bound.info.node_id, Challenger{}).first;
  }
  Challenger& c = it->second;
  c.info = challenger;
  c.source = source;
  c.ttl_ms = ttl_ms;
  c.from = std::string(from);
  if (c.probing || now < c.holdoff_until_ms || probes_in_flight_ >= options_.max_probes_in_flight) {
    return;
  }
  c.probing = true;
  ++probes_in_flight_;
  prober_(bound.info, [this, alive = liveness_.token(), id = bound.info.node_id,
                       incarnation = bound.info.incarnation](bool still_there) {
    if (alive.alive()) OnProbeAnswer(id, incarnation, still_there);
  });
}

void Membership::OnProbeAnswer(const std::string& node_id, uint64_t probed_incarnation,
                               bool still_there) {
  --probes_in_flight_;
  auto it = challengers_.find(node_id);
  if (it == challengers_.end()) return;  // the member restarted or left meanwhile
  Challenger& c = it->second;
  c.probing = false;
  const Member* m = Find(node_id);
  if (still_there && m != nullptr) {
    c.holdoff_until_ms = scheduler_->NowMs() + options_.probe_holdoff_ms;
    LOG_WARN(
        "a newer incarnation of a member from another address was refused: the member "
        "still answers at its bound address")
        .Str("node", node_id)
        .Str("bound_to", m->bound_addresses.empty() ? std::string() : m->bound_addresses.front())
        .Str("claimed_from", c.from);
    return;
  }
  if (m != nullptr && m->info.incarnation != probed_incarnation) return;
  if (c.info.incarnation > WallNowMs() + options_.max_incarnation_ahead_ms) return;
  LOG_INFO("member moved: its bound address no longer answers under its id")
      .Str("node", node_id)
      .Str("from",
           m != nullptr && !m->bound_addresses.empty() ? m->bound_addresses.front() : std::string())
      .Str("to", c.from);
  Challenger moved = std::move(c);
  challengers_.erase(it);
  Insert(moved.info, moved.source, moved.ttl_ms, moved.from);
}

bool Membership::Leave(std::string_view node_id, uint64_t incarnation, std::string_view from) {
  auto it = members_.find(node_id);
  if (it == members_.end() || incarnation < it->second.info.incarnation) return false;
  if (!Contains(it->second.bound_addresses, from)) {
    ReportForeign(node_id, from, "goodbye");
    return false;
  }
  std::string id = it->first;
  ++goodbyes_;
  LogLeft(id, it->second, "goodbye");
  members_.erase(it);
  challengers_.erase(id);
  Changed(id, false);
  return true;
}

SenderCheck Membership::CheckSender(std::string_view node_id, std::string_view address) const {
  if (node_id == self_id_) return SenderCheck::kCollision;
  const Member* m = Find(node_id);
  if (m == nullptr) return SenderCheck::kUnknown;
  return Contains(m->bound_addresses, address) ? SenderCheck::kBound : SenderCheck::kForeign;
}

void Membership::ReportFailure(std::string_view node_id) {
  auto it = members_.find(node_id);
  if (it == members_.end()) return;
  it->second.avoid_until_ms = scheduler_->NowMs() + options_.avoid_ms;
}

bool Membership::IsAvoided(const Member& m) const { return m.avoid_until_ms > scheduler_->NowMs(); }

const Member* Membership::Find(std::string_view node_id) const {
  auto it = members_.find(node_id);
  return it == members_.end() ? nullptr : &it->second;
}

bool Membership::IsSelfOrMember(std::string_view node_id) const {
  return node_id == self_id_ || Find(node_id) != nullptr;
}

const Member* Membership::FindByAddress(std::string_view ip) const {
  for (const auto& [id, m] : members_) {
    for (const auto& a : m.info.addresses) {
      if (a == ip) return &m;
    }
  }
  return nullptr;
}

const std::vector<const Member*>& Membership::Live() const {
  if (live_dirty_) {
    live_.clear();
    live_hashes_.clear();
    live_.reserve(members_.size());
    live_hashes_.reserve(members_.size());
    for (const auto& [id, m] : members_) {
      live_.push_back(&m);
      live_hashes_.push_back(m.node_hash);
    }
    live_dirty_ = false;
  }
  return live_;
}

const std::vector<uint64_t>& Membership::LiveHashes() const {
  Live();
  return live_hashes_;
}

size_t Membership::MemoryBytes() const {
  size_t bytes = sizeof(*this) + live_.capacity() * sizeof(void*) + live_hashes_.capacity() * 8;
  for (const auto& [id, m] : members_) {
    // Map node (key + value + tree links) plus heap strings.
    bytes += sizeof(std::string) + sizeof(Member) + 32;
    if (id.size() > 15) bytes += 2 * (id.size() + 1);  // key and info.node_id
    for (const auto* list : {&m.info.addresses, &m.bound_addresses}) {
      bytes += list->capacity() * sizeof(std::string);
      for (const auto& a : *list) {
        if (a.size() > 15) bytes += a.size() + 1;
      }
    }
  }
  return bytes;
}

void Membership::Changed(const std::string& id, bool joined) {
  live_dirty_ = true;
  auto& same = joined ? joined_ : left_;
  auto& other = joined ? left_ : joined_;
  // A leave followed by a join in the same turn is a restart: report it as joined only.
  auto o = std::find(other.begin(), other.end(), id);
  if (o != other.end()) other.erase(o);
  if (std::find(same.begin(), same.end(), id) == same.end()) same.push_back(id);
  if (!notify_task_) {
    notify_task_ = scheduler_->After(0, [this] { Notify(); });
  }
}

void Membership::Notify() {
  std::vector<std::string> joined = std::move(joined_);
  std::vector<std::string> left = std::move(left_);
  joined_.clear();
  left_.clear();
  auto keep = std::move(notify_task_);  // Destroyed at the end of this call, after we ran.
  if (listener_ && (!joined.empty() || !left.empty())) listener_(joined, left);
}

void Membership::ScheduleExpiry(uint64_t candidate_ms) {
  // Only an expiry earlier than the scheduled check moves it.
  if (expiry_task_ && candidate_ms >= expiry_task_at_ms_) return;
  uint64_t now = scheduler_->NowMs();
  uint64_t at = std::max({candidate_ms, last_check_ms_ + options_.min_check_interval_ms, now});
  if (expiry_task_ && at >= expiry_task_at_ms_) return;
  expiry_task_at_ms_ = at;
  expiry_task_ = scheduler_->After(at - now, [this] { CheckExpiry(); });
}

void Membership::CheckExpiry() {
  auto keep = std::move(expiry_task_);
  uint64_t now = scheduler_->NowMs();
  last_check_ms_ = now;
  uint64_t earliest = UINT64_MAX;
  for (auto it = members_.begin(); it != members_.end();) {
    if (it->second.expires_at_ms <= now) {
      std::string id = it->first;
      ++expirations_;
      LogLeft(id, it->second, "expired");
      it = members_.erase(it);
      challengers_.erase(id);
      Changed(id, false);
    } else {
      earliest = std::min(earliest, it->second.expires_at_ms);
      ++it;
    }
  }
  if (earliest != UINT64_MAX) ScheduleExpiry(earliest);
}

}  // namespace spegel::cluster
