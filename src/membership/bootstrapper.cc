#include "membership/bootstrapper.h"

#include <algorithm>

#include "base/log.h"

namespace spegel::cluster {

Bootstrapper::Bootstrapper(Loop* loop, Membership* membership, HelloClient* hello,
                           BootstrapOptions options)
    : loop_(loop), membership_(membership), hello_(hello), options_(options) {}

Bootstrapper::~Bootstrapper() { liveness_.Revoke(); }

void Bootstrapper::SetSeeds(MemberSource source,
                            const std::vector<std::pair<std::string, uint16_t>>& seeds) {
  const uint64_t now = loop_->NowMs();
  std::vector<std::string> listed;
  listed.reserve(seeds.size());
  for (const auto& seed : seeds) listed.push_back(seed.first);
  membership_->SetListed(source, std::move(listed));
  for (const auto& [ip, port] : seeds) {
    const std::string seed_key = ip + "|" + std::to_string(port);
    SeedState& state = seeds_[seed_key];
    if (state.is_self || state.in_flight) continue;
    const Member* known = membership_->FindByAddress(ip);
    if (known != nullptr && known->info.router_port == port && source == MemberSource::kDns &&
        !state.hello_again) {
      membership_->Observe(known->info, source, options_.member_ttl_ms, ip);
      continue;
    }
    if (now < state.next_hello_ms) continue;
    if (in_flight_ >= options_.max_hellos_in_flight) break;  // The next round continues.
    HelloSeed(source, ip, port);
  }
  // Forget seeds that are gone so the map stays the size of the current answers.
  if (seeds_.size() > 4 * seeds.size() + 64) {
    for (auto it = seeds_.begin(); it != seeds_.end();) {
      const bool listed = std::any_of(seeds.begin(), seeds.end(), [&](const auto& s) {
        return it->first == s.first + "|" + std::to_string(s.second);
      });
      it = (!listed && !it->second.in_flight) ? seeds_.erase(it) : std::next(it);
    }
  }
}

void Bootstrapper::HelloAgain() {
  for (auto& [key, state] : seeds_) {
    if (state.is_self) continue;
    state.hello_again = true;
    state.next_hello_ms = 0;
    state.backoff_ms = 0;
  }
}

void Bootstrapper::HelloSeed(MemberSource source, const std::string& ip, uint16_t port) {
  const std::string seed_key = ip + "|" + std::to_string(port);
  seeds_[seed_key].in_flight = true;
  ++in_flight_;
  hello_->Hello(
      ip, port, [this, alive = liveness_.token(), source, seed_key, ip](Result<MemberInfo> info) {
        if (!alive.alive()) return;
        --in_flight_;
        SeedState& state = seeds_[seed_key];
        state.in_flight = false;
        const uint64_t now = loop_->NowMs();
        if (!info.ok()) {
          state.backoff_ms = state.backoff_ms == 0
                                 ? options_.hello_retry_min_ms
                                 : std::min(state.backoff_ms * 2, options_.hello_retry_max_ms);
          state.next_hello_ms = now + state.backoff_ms;
          LOG_DEBUG("bootstrap: hello failed")
              .Str("seed", seed_key)
              .Str("error", info.status().message());
          return;
        }
        state.backoff_ms = 0;
        state.hello_again = false;
        state.next_hello_ms = now + options_.hello_retry_min_ms;
        switch (membership_->Classify(info->node_id, info->incarnation, ip)) {
          case Identity::kSelf:
            state.is_self = true;  // Our own address in the DNS answer or the static list.
            return;
          case Identity::kCollision:
            membership_->ReportCollision(*info, MemberSourceName(source));
            return;
          case Identity::kInvalid:
          case Identity::kMember:
          case Identity::kNew: break;
        }
        // The member is reached at the seed the source named, whatever else its answer lists.
        MemberInfo member = *info;
        member.addresses = {ip};
        membership_->Observe(member, source, options_.member_ttl_ms, ip);
      });
}

}  // namespace spegel::cluster
