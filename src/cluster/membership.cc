#include "cluster/membership.h"

#include <algorithm>
#include <utility>

#include "base/log.h"
#include "cluster/rendezvous.h"

namespace spegel::cluster {

Membership::Membership(Scheduler* scheduler, std::string self_id, MembershipOptions options)
    : scheduler_(scheduler), self_id_(std::move(self_id)), options_(options) {}

Membership::~Membership() = default;

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

Identity Membership::Classify(std::string_view node_id, uint64_t incarnation) const {
  if (!IsValidNodeId(node_id)) return Identity::kInvalid;
  if (node_id == self_id_) {
    const bool ours = incarnation != 0 &&
                      (options_.self_incarnation == 0 || incarnation == options_.self_incarnation);
    return ours ? Identity::kSelf : Identity::kCollision;
  }
  return members_.count(node_id) ? Identity::kMember : Identity::kNew;
}

void Membership::ReportCollision(const MemberInfo& info, std::string_view how) {
  ++collisions_;
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

bool Membership::Observe(const MemberInfo& info, MemberSource source, uint64_t ttl_ms) {
  switch (Classify(info.node_id, info.incarnation)) {
    case Identity::kSelf:
    case Identity::kInvalid: return false;
    case Identity::kCollision: ReportCollision(info, MemberSourceName(source)); return false;
    case Identity::kMember:
    case Identity::kNew: break;
  }
  uint64_t now = scheduler_->NowMs();
  uint64_t expires = now + ttl_ms;
  uint8_t bit = static_cast<uint8_t>(1u << static_cast<unsigned>(source));
  auto it = members_.find(info.node_id);
  if (it == members_.end()) {
    if (members_.size() >= options_.max_members) {
      if (!full_logged_) {
        LOG_WARN("membership table full; ignoring new members")
            .Int("max", static_cast<int64_t>(options_.max_members));
        full_logged_ = true;
      }
      return false;
    }
    Member m;
    m.info = info;
    m.node_hash = HashString(info.node_id);
    m.expires_at_ms = expires;
    m.seen_since_ms = now;
    m.sources = bit;
    members_.emplace(info.node_id, std::move(m));
    Changed(info.node_id, true);
    ScheduleExpiry(expires);
    return true;
  }
  Member& m = it->second;
  if (info.incarnation < m.info.incarnation) return false;
  bool restarted = info.incarnation > m.info.incarnation;
  if (restarted) {
    m.info = info;
    m.sources = bit;
    m.avoid_until_ms = 0;
    m.expires_at_ms = expires;
    m.seen_since_ms = now;
    Changed(info.node_id, true);
  } else {
    // Same incarnation: addresses or ports may be learned better by another source; keep the
    // first address list unless the stored one is empty.
    if (m.info.addresses.empty()) m.info.addresses = info.addresses;
    if (m.info.registry_port == 0) m.info.registry_port = info.registry_port;
    if (m.info.router_port == 0) m.info.router_port = info.router_port;
    m.sources |= bit;
    m.expires_at_ms = std::max(m.expires_at_ms, expires);
  }
  ScheduleExpiry(m.expires_at_ms);
  return restarted;
}

void Membership::Leave(std::string_view node_id, uint64_t incarnation) {
  auto it = members_.find(node_id);
  if (it == members_.end() || incarnation < it->second.info.incarnation) return;
  std::string id = it->first;
  members_.erase(it);
  Changed(id, false);
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
    bytes += m.info.addresses.capacity() * sizeof(std::string);
    for (const auto& a : m.info.addresses) {
      if (a.size() > 15) bytes += a.size() + 1;
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
      it = members_.erase(it);
      Changed(id, false);
    } else {
      earliest = std::min(earliest, it->second.expires_at_ms);
      ++it;
    }
  }
  if (earliest != UINT64_MAX) ScheduleExpiry(earliest);
}

}  // namespace spegel::cluster
