#include "cluster/claim_client.h"

#include <utility>

#include "base/log.h"

namespace spegel::cluster {

// One claim in flight: the owner's answer, a local answer, or the budget, whichever comes first,
// finishes it; the others find it gone.
struct ClaimClient::PendingClaim {
  std::string key;
  bool can_serve = false;
  std::vector<std::string> avoid;
  size_t owners_left = 0;  // Owners still to ask after the one asked now fails.
  std::function<void(ClaimAnswer)> done;
  std::unique_ptr<ScheduledTask> budget;        // kDecline once claim_timeout_ms is spent.
  std::unique_ptr<ScheduledTask> local_answer;  // An answer known now, handed over a turn later.
};

ClaimClient::ClaimClient(Scheduler* scheduler, Membership* membership, RouterTransport* transport,
                         std::string self_id, OwnersFn owners, LocalOwner local,
                         ClaimClientOptions options)
    : scheduler_(scheduler),
      membership_(membership),
      transport_(transport),
      self_id_(std::move(self_id)),
      owners_(std::move(owners)),
      local_(std::move(local)),
      options_(options) {}

ClaimClient::~ClaimClient() { liveness_.Revoke(); }

std::string ClaimClient::OwnerOf(std::string_view key) const {
  const std::vector<std::string> owners = owners_(key);
  for (const std::string& id : owners) {
    if (id == self_id_) return id;
    const Member* m = membership_->Find(id);
    if (m != nullptr && !membership_->IsAvoided(*m)) return id;
  }
  return owners.empty() ? std::string() : owners.front();
}

void ClaimClient::Claim(const std::string& key, bool can_serve,
                        const std::vector<std::string>& avoid,
                        std::function<void(ClaimAnswer)> done) {
  ++stats_.requests;
  const uint64_t id = next_claim_++;
  auto pending = std::make_unique<PendingClaim>();
  pending->key = key;
  pending->can_serve = can_serve;
  pending->avoid = avoid;
  pending->owners_left = options_.owner_attempts > 0 ? options_.owner_attempts - 1 : 0;
  pending->done = std::move(done);
  pending->budget = scheduler_->After(options_.claim_timeout_ms, [this, id] {
    LOG_DEBUG("claim not answered within the budget; no coalescing")
        .Str("key", pending_.at(id)->key);
    Finish(id, ClaimAnswer{});
  });
  pending_.emplace(id, std::move(pending));
  Ask(id);
}

void ClaimClient::Ask(uint64_t id) {
  PendingClaim& pending = *pending_.at(id);
  const std::string owner_id = stopped_ ? std::string() : OwnerOf(pending.key);
  if (!owner_id.empty() && owner_id == self_id_) {
    ClaimAnswer answer = local_.claim(pending.key, pending.can_serve, pending.avoid);
    pending.local_answer = scheduler_->After(0, [this, id, answer = std::move(answer)]() mutable {
      Finish(id, std::move(answer));
    });
    return;
  }
  const Member* owner = owner_id.empty() ? nullptr : membership_->Find(owner_id);
  if (owner == nullptr) {
    pending.local_answer = scheduler_->After(0, [this, id] { Finish(id, ClaimAnswer{}); });
    return;
  }
  ++stats_.messages;
  transport_->Claim(*owner, ClaimRequest{pending.key, pending.can_serve, pending.avoid},
                    options_.claim_timeout_ms,
                    [this, alive = liveness_.token(), id, owner_id](Result<ClaimAnswer> answer) {
                      if (alive.alive()) OnOwnerAnswer(id, owner_id, std::move(answer));
                    });
}

void ClaimClient::OnOwnerAnswer(uint64_t id, const std::string& owner_id,
                                Result<ClaimAnswer> answer) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // Finished already: the budget ran out.
  PendingClaim& pending = *it->second;
  if (answer.ok()) return Finish(id, std::move(answer).value());
  LOG_DEBUG("claim failed at the key's owner")
      .Str("key", pending.key)
      .Str("owner", owner_id)
      .Str("error", answer.status().message());
  if (pending.owners_left > 0) {
    membership_->ReportFailure(owner_id);
    if (OwnerOf(pending.key) != owner_id) {
      --pending.owners_left;
      ++stats_.failovers;
      return Ask(id);
    }
  }
  LOG_DEBUG("no claim owner answered; no coalescing for this pull").Str("key", pending.key);
  Finish(id, ClaimAnswer{});
}

void ClaimClient::Finish(uint64_t id, ClaimAnswer answer) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  std::function<void(ClaimAnswer)> done = std::move(it->second->done);
  // Destroys the budget and local-answer tasks, maybe the one running now: allowed (scheduler.h).
  pending_.erase(it);
  done(std::move(answer));
}

void ClaimClient::ReportProgress(std::vector<ProgressReport> reports,
                                 std::function<void(const std::string& key)> on_revoked) {
  if (stopped_) return;
  std::unordered_map<std::string, std::vector<ProgressReport>> by_owner;
  std::vector<std::string> revoked_here;
  for (ProgressReport& report : reports) {
    const std::string owner_id = OwnerOf(report.key);
    if (owner_id.empty()) continue;
    if (owner_id == self_id_) {
      if (!local_.report(report)) revoked_here.push_back(report.key);
    } else {
      by_owner[owner_id].push_back(std::move(report));
    }
  }
  auto shared_on_revoked = std::make_shared<std::function<void(const std::string&)>>(
      std::move(on_revoked));
  if (!revoked_here.empty()) {
    Later([shared_on_revoked, revoked_here = std::move(revoked_here)] {
      for (const std::string& key : revoked_here) (*shared_on_revoked)(key);
    });
  }
  for (auto& [owner_id, batch] : by_owner) {
    const Member* owner = membership_->Find(owner_id);
    if (owner == nullptr) continue;
    transport_->Progress(*owner, batch,
                         [alive = liveness_.token(),
                          shared_on_revoked](Result<std::vector<std::string>> revoked) {
                           // Best effort: a failed report is not retried; the next one tries again.
                           if (!alive.alive() || !revoked.ok()) return;
                           for (const std::string& key : *revoked) (*shared_on_revoked)(key);
                         });
  }
}

void ClaimClient::Later(std::function<void()> fn) {
  const uint64_t id = next_deferred_++;
  deferred_[id] = scheduler_->After(0, [this, id, fn = std::move(fn)]() mutable {
    auto run = std::move(fn);
    deferred_.erase(id);  // Destroys this task from its own callback: allowed (scheduler.h).
    run();
  });
}

}  // namespace spegel::cluster
