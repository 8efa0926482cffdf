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
//
// Binding: a member is bound to the addresses it was learned from (the address its hello, its
// mDNS record or the answer to our hello came from, and the addresses it listed). Every later
// message about it (refresh, restart, goodbye, and the router calls checked with CheckSender) must
// come from one of them, or it is refused: nothing sent from elsewhere moves, refreshes or drops
// a member. The binding ends when the entry expires because its own addresses stopped refreshing
// it. One exception keeps a node that restarted at a new address (a new pod IP) from waiting for
// that: a higher incarnation from an unbound address makes the membership probe the bound address
// (SetProber); the member moves only if nobody answers there under its id.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loop/liveness.h"
#include "membership/member.h"
#include "membership/scheduler.h"

namespace spegel::cluster {

struct Member {
  MemberInfo info;
  uint64_t node_hash = 0;       // HashString(info.node_id), computed once.
  uint64_t expires_at_ms = 0;   // Dropped after this unless refreshed.
  uint64_t seen_since_ms = 0;   // When this incarnation was first seen.
  uint64_t avoid_until_ms = 0;  // Avoided as owner/provider target before this time.
  uint8_t sources = 0;          // Bit (1 << MemberSource) for each source that reported it.
  // The addresses messages about this member may come from (see Binding above).
  std::vector<std::string> bound_addresses;
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
  // Admit a hello from any address. The node (ClusterNode) sets it only when it serves the HTTP
  // bootstrap document (the others find it; it learns them only from their hellos); otherwise
  // only listed addresses. True here for the table alone (unit tests, the simulation).
  bool admit_unlisted_hellos = true;
  // Joins, expiries, goodbyes and refusals are logged at most this many lines per kind per
  // event_log_window_ms; the next line after a quiet window says how many were left out.
  uint32_t event_log_burst = 20;
  uint64_t event_log_window_ms = 10'000;
  // Whether an address is one of this host's (base/IsLocalAddress in the daemon). Two nodes that
  // share an id and started in the same millisecond share an incarnation too: a message with
  // both, sent from an address that is not ours, is such a twin, not our own looped-back one.
  // Null: every address is taken for ours (the id and incarnation alone decide).
  std::function<bool(std::string_view address)> is_local_address;
  // A collision is logged at ERROR at most once per this long for each address it comes from.
  uint64_t collision_log_interval_ms = 60'000;
  // An incarnation (ms since the epoch at the sender's start) further than this ahead of our
  // wall clock is not believed: it would outrank every real restart of that node.
  uint64_t max_incarnation_ahead_ms = 3'600'000;
  // Milliseconds since the epoch; null: the system clock. Tests and the simulation set it.
  std::function<uint64_t()> wall_clock_ms;
  // After the bound address of a member answered a probe, challengers of that member are refused
  // without another probe for this long.
  uint64_t probe_holdoff_ms = 30'000;
  // Probes in flight at once (each is one hello); challengers beyond it wait for a later message.
  size_t max_probes_in_flight = 16;
};

// What a message that names a node says about its sender, decided in one place (Classify) for
// every source: mDNS, DNS and static hellos, the HTTP bootstrap and router calls.
enum class Identity : uint8_t {
  kSelf,       // this node: its id and its incarnation from one of its own addresses (a
               // looped-back packet, our own address in a DNS answer)
  kMember,     // a known member
  kNew,        // a valid id not known yet
  kCollision,  // this node's id with another incarnation, or with ours from an address that is
               // not ours: another node uses our id
  kInvalid,    // not a valid node id, or an incarnation far ahead of the clock
};
std::string_view IdentityName(Identity identity);

// What Observe did with a message.
enum class Observed : uint8_t {
  kJoined,     // a new member, or a member's restart (a higher incarnation)
  kRefreshed,  // a known member kept alive
  kIgnored,    // this node's own message, an older incarnation, a full table, or a copy of a
               // member's record from another of its interfaces
  kRefused,    // a collision, an invalid id or incarnation, or a member's id from an address it
               // is not bound to (a probe of its bound address may still move it later)
  kUnlisted,   // a hello for a new member from an address no configured source names
};

// Whether a router call naming `node_id` from `address` may speak for that node (CheckSender).
enum class SenderCheck : uint8_t {
  kBound,      // a member bound to that address
  kUnknown,    // no member has that id
  kForeign,    // a member bound to other addresses: refused
  kCollision,  // this node's own id: this node never calls itself
};

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

  // Who a message naming `node_id` with `incarnation`, received from `from` (the packet's source,
  // the address a hello went to; empty: not known), comes from. An incarnation of 0 (a message
  // that carries none, such as a router call) with this node's id is a collision: this node
  // never sends them to itself. So is our id and incarnation from an address is_local_address
  // says is not ours. A former id of ours (SetSelfId) with our incarnation from one of our
  // addresses is kSelf.
  Identity Classify(std::string_view node_id, uint64_t incarnation,
                    std::string_view from = {}) const;
  // Another node uses this node's id: counted, and logged at ERROR (with both addresses and the
  // fix) at most once per collision_log_interval_ms per `address`.
  void ReportCollision(const MemberInfo& info, std::string_view how);
  uint64_t collisions() const { return collisions_; }
  // Runs on the loop thread, never inline, after a collision was reported (at most once per
  // loop turn), with the other node's info. Replaces any previous one.
  void SetCollisionListener(std::function<void(const MemberInfo& other)> listener) {
    collision_listener_ = std::move(listener);
  }
  // This node now goes by `node_id` (a collision was resolved by renaming it). A member of that
  // id, if any, is dropped (it would be a collision now). The old id stays known as ours: a
  // message under it with our incarnation from one of our addresses (a hello answered by this
  // node just before the rename) is kSelf, not a new member.
  void SetSelfId(std::string node_id);
  // This node restarted its identity in place (its address changed): messages with the old
  // incarnation are no longer ours.
  void SetSelfIncarnation(uint64_t incarnation) { options_.self_incarnation = incarnation; }

  // Fresh evidence that `info` is alive, carried by a message from address `from` (empty: the
  // source reached the node at info.addresses[0] itself, as the answer to a hello we sent there).
  // Inserts it bound to `from` and its addresses (a member of another id at the same address and
  // router port is dropped: one node answers there, and it now says it is this one), or
  // refreshes it for ttl_ms (expiry only moves
  // later) when `from` is bound to it. A higher incarnation replaces the stored info; a lower one
  // is ignored. A collision is reported; an unbound `from` is refused (and, with a higher
  // incarnation, may start a probe). Join or restart is kJoined.
  Observed Observe(const MemberInfo& info, MemberSource source, uint64_t ttl_ms,
                   std::string_view from = {});
  // Goodbye from address `from`: drops the member now if `incarnation` >= the stored one and
  // `from` is bound to it. Returns whether it was dropped.
  bool Leave(std::string_view node_id, uint64_t incarnation, std::string_view from);
  // May a router call from `address` speak for `node_id`?
  SenderCheck CheckSender(std::string_view node_id, std::string_view address) const;
  // A message named member `node_id` from `from`, an address it is not bound to, and was refused:
  // counted, and logged at WARN at most once per collision_log_interval_ms.
  void ReportForeign(std::string_view node_id, std::string_view from, std::string_view how);
  // Messages refused because they named a member from an address it is not bound to.
  uint64_t foreign_refused() const { return foreign_refused_; }

  // Admission: the addresses a configured source names now (the last DNS answer, the static
  // list, the HTTP bootstrap document), replacing that source's previous list. A hello (kPeer)
  // for a new member is admitted only from such an address, or from one a member is already
  // bound to (an mDNS packet's source, a seed that answered): see Observed::kUnlisted. mDNS
  // admits by itself (a packet received on a configured interface). Lists longer than
  // kMaxListedAddresses are cut.
  static constexpr size_t kMaxListedAddresses = 4096;
  void SetListed(MemberSource source, std::vector<std::string> addresses);
  void set_admit_unlisted_hellos(bool admit) { options_.admit_unlisted_hellos = admit; }
  // `address` is named by a configured source, or bound to a live member.
  bool IsListed(std::string_view address) const;
  // Hellos refused because no configured source names their address.
  uint64_t unlisted_refused() const { return unlisted_refused_; }
  // Members that joined or restarted, expired (nothing from their addresses refreshed them),
  // said goodbye, or were replaced by another id at their address; since start.
  uint64_t joins() const { return joins_; }
  uint64_t expirations() const { return expirations_; }
  uint64_t goodbyes() const { return goodbyes_; }
  uint64_t replacements() const { return replacements_; }

  // Asks whether `bound` still answers under its id at its bound address; `done(true)` if it
  // does. `done` runs on the loop thread, never inline, at most once; it may never run if the
  // prober's owner is destroyed first.
  using Prober = std::function<void(const MemberInfo& bound, std::function<void(bool)> done)>;
  // Without a prober (the simulation, unit tests), a challenger waits for the bound entry to
  // expire.
  void SetProber(Prober prober) { prober_ = std::move(prober); }
  // A request to this member failed: avoid it for options.avoid_ms. Unknown ids are ignored.
  void ReportFailure(std::string_view node_id);
  bool IsAvoided(const Member& m) const;

  const Member* Find(std::string_view node_id) const;
  // `node_id` is this node (under its current id) or a live member: who may take part in
  // content routing and pull coalescing at this node.
  bool IsSelfOrMember(std::string_view node_id) const;
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
  uint64_t WallNowMs() const;
  void Challenge(Member& bound, const MemberInfo& challenger, MemberSource source, uint64_t ttl_ms,
                 std::string_view from);
  void OnProbeAnswer(const std::string& node_id, uint64_t probed_incarnation, bool still_there);
  void Insert(const MemberInfo& info, MemberSource source, uint64_t ttl_ms, std::string_view from);
  // Rate-limited per kind (options.event_log_burst per event_log_window_ms); false when this
  // line is to be left out (counted, and said on the next line of the kind).
  enum class EventKind : uint8_t { kJoined, kLeft, kRefused, kCount };
  struct EventLog {
    uint64_t window_start_ms = 0;
    uint32_t in_window = 0;
    uint64_t suppressed = 0;
  };
  bool ShouldLog(EventKind kind, uint64_t* suppressed);
  void LogLeft(const std::string& id, const Member& m, std::string_view why);

  Scheduler* scheduler_;
  std::string self_id_;
  std::vector<std::string> former_self_ids_;  // at most kMaxFormerSelfIds, oldest first
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
  std::function<void(const MemberInfo&)> collision_listener_;
  std::unique_ptr<ScheduledTask> collision_task_;
  std::map<std::string, uint64_t, std::less<>> collision_logged_ms_;  // by address
  uint64_t foreign_refused_ = 0;
  uint64_t unlisted_refused_ = 0;
  uint64_t joins_ = 0;
  uint64_t expirations_ = 0;
  uint64_t goodbyes_ = 0;
  uint64_t replacements_ = 0;
  std::vector<std::string> listed_[5];  // by MemberSource; sorted
  EventLog event_logs_[static_cast<size_t>(EventKind::kCount)];
  uint64_t foreign_logged_ms_ = 0;
  uint64_t foreign_suppressed_ = 0;
  struct Challenger {
    MemberInfo info;
    MemberSource source = MemberSource::kPeer;
    uint64_t ttl_ms = 0;
    std::string from;
    bool probing = false;
    uint64_t holdoff_until_ms = 0;  // The bound address answered: no probe before this.
  };
  std::map<std::string, Challenger, std::less<>> challengers_;  // by node id
  size_t probes_in_flight_ = 0;
  Prober prober_;
  Liveness liveness_;  // Probe answers after destruction do nothing.
  std::unique_ptr<ScheduledTask> expiry_task_;
  uint64_t expiry_task_at_ms_ = 0;
  uint64_t last_check_ms_ = 0;
  bool full_logged_ = false;
};

}  // namespace spegel::cluster
