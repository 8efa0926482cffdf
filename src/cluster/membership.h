// Membership: the table of known Spegel nodes, fed by every discovery source (mDNS, DNS + hello,
// static peers, peers that talk to us), keyed by node id. Self is never a member.
//
// Owned by the node wiring (lead); the routing simulation shares one instance among all simulated
// routers. Loop thread only (every method, and the listener runs there).
//
// Rules: an entry with a higher incarnation replaces the current one (a restart); a lower one is
// ignored; an entry not refreshed by any source within its ttl expires; Leave (a goodbye) drops it
// at once; ReportFailure only marks it as avoided for a while (it stays a member, so routing does
// not churn because of one slow request).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/member.h"
#include "cluster/scheduler.h"

namespace spegel::cluster {

struct Member {
  MemberInfo info;
  uint64_t node_hash = 0;       // HashString(info.node_id), computed once.
  uint64_t expires_at_ms = 0;   // Dropped after this unless refreshed.
  uint64_t seen_since_ms = 0;   // When this incarnation was first seen.
  uint64_t avoid_until_ms = 0;  // Avoided as owner/provider target before this time.
  uint8_t sources = 0;          // Bit (1 << MemberSource) for each source that reported it.
};

struct MembershipOptions {
  // How long a member is avoided after a failed request.
  uint64_t avoid_ms = 10'000;
  // Expiry checks run at most this often (each is O(members)).
  uint64_t min_check_interval_ms = 1'000;
  // Hard bound on the table; Observe of a new node beyond it is ignored (and logged once).
  size_t max_members = 100'000;
  // This node's own incarnation: a message with this node's id and another incarnation comes
  // from a second node using the same id (a collision). 0 = unknown (every use of our id is
  // then taken for our own).
  uint64_t self_incarnation = 0;
  // A collision is logged at ERROR at most once per this long for each address it comes from.
  uint64_t collision_log_interval_ms = 60'000;
};

// What a message that names a node says about its sender, decided in one place (Classify) for
// every source: mDNS, DNS and static hellos, the HTTP bootstrap and router calls.
enum class Identity : uint8_t {
  kSelf,       // this node: its id and its incarnation (a looped-back packet, our own address)
  kMember,     // a known member
  kNew,        // a valid id not known yet
  kCollision,  // this node's id with another incarnation: another node uses our id
  kInvalid,    // not a valid node id
};
std::string_view IdentityName(Identity identity);

class Membership {
 public:
  // Joined: node ids that appeared or restarted (higher incarnation). Left: node ids that
  // expired or said goodbye. The same id is never in both lists.
  using Listener = std::function<void(const std::vector<std::string>& joined,
                                      const std::vector<std::string>& left)>;

  // REQUIRES: `scheduler` outlives this object.
  Membership(Scheduler* scheduler, std::string self_id, MembershipOptions options = {});
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Who a message naming `node_id` with `incarnation` comes from. An incarnation of 0 (a message
  // that carries none, such as a router call) with this node's id is a collision: this node
  // never sends them to itself.
  Identity Classify(std::string_view node_id, uint64_t incarnation) const;
  // Another node uses this node's id: counted, and logged at ERROR (with both addresses and the
  // fix) at most once per collision_log_interval_ms per `address`.
  void ReportCollision(const MemberInfo& info, std::string_view how);
  uint64_t collisions() const { return collisions_; }

  // Fresh evidence that `info` is alive: inserts it, or refreshes it for ttl_ms (expiry only moves
  // later). A higher incarnation replaces the stored info; a lower one is ignored. Self and
  // invalid node ids are ignored; a collision is reported. Returns true if the live set changed
  // (join or restart).
  bool Observe(const MemberInfo& info, MemberSource source, uint64_t ttl_ms);
  // Goodbye: drops the member now if `incarnation` >= the stored one.
  void Leave(std::string_view node_id, uint64_t incarnation);
  // A request to this member failed: avoid it for options.avoid_ms. Unknown ids are ignored.
  void ReportFailure(std::string_view node_id);
  bool IsAvoided(const Member& m) const;

  const Member* Find(std::string_view node_id) const;
  // The member one of whose addresses is `ip` (exact text match), or nullptr. O(members).
  const Member* FindByAddress(std::string_view ip) const;
  // Live members sorted by node id. The reference and the pointers stay valid until the next
  // Observe/Leave/expiry (do not keep them across loop turns).
  const std::vector<const Member*>& Live() const;
  // node_hash of each Live() entry, same order: a contiguous array for fast owner computation.
  const std::vector<uint64_t>& LiveHashes() const;
  size_t size() const { return members_.size(); }
  const std::string& self_id() const { return self_id_; }
  // Approximate bytes held by the table.
  size_t MemoryBytes() const;

  // The listener runs on the loop thread, never inline: changes made during one loop turn are
  // coalesced into one call a moment later (After(0)). Replaces any previous listener.
  void SetListener(Listener listener) { listener_ = std::move(listener); }

 private:
  void Changed(const std::string& id, bool joined);
  void Notify();
  void ScheduleExpiry(uint64_t candidate_ms);
  void CheckExpiry();

  Scheduler* scheduler_;
  std::string self_id_;
  MembershipOptions options_;
  std::map<std::string, Member, std::less<>> members_;
  mutable std::vector<const Member*> live_;
  mutable std::vector<uint64_t> live_hashes_;
  mutable bool live_dirty_ = true;
  Listener listener_;
  std::vector<std::string> joined_;  // Pending notification.
  std::vector<std::string> left_;
  std::unique_ptr<ScheduledTask> notify_task_;
  uint64_t collisions_ = 0;
  std::map<std::string, uint64_t, std::less<>> collision_logged_ms_;  // by address
  std::unique_ptr<ScheduledTask> expiry_task_;
  uint64_t expiry_task_at_ms_ = 0;
  uint64_t last_check_ms_ = 0;
  bool full_logged_ = false;
};

}  // namespace spegel::cluster
