#include "daemon/cleanup_command.h"

#include <netdb.h>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "base/log.h"
#include "cli/command.h"
#include "cli/configuration_options.h"
#include "http/address.h"
#include "http/client.h"
#include "http/server.h"
#include "loop/handle.h"
#include "loop/liveness.h"
#include "loop/loop.h"
#include "node/hosts_dir.h"

namespace spegel::daemon {
namespace {

constexpr uint64_t kProbeTimeoutMs = 1000;
constexpr size_t kProbesAtOnce = 10;
constexpr uint64_t kCleanupShutdownMs = 30'000;

// GET /readyz → 200 "ok"; everything else 404.
class ReadyHandler : public http::Handler {
 public:
  void Handle(http::Request& request, http::ResponseWriter& writer) override {
    if (request.path() == "/readyz") {
      writer.Respond(200, {{"Content-Type", "text/plain"}}, "ok\n");
    } else {
      writer.Respond(404, {{"Content-Type", "text/plain"}}, "not found\n");
    }
  }
};

int ServeReadiness(const http::Address& address) {
  Loop loop;
  ReadyHandler handler;
  http::Server server(&loop, &handler);
  auto bound = server.Listen(address);
  if (!bound.ok()) {
    fprintf(stderr, "spegel cleanup: --addr %s: %s\n", address.ToString().c_str(),
            bound.status().message().c_str());
    return cli::kExitRuntime;
  }
  LOG_INFO("cleanup done; answering /readyz until SIGTERM").Int("port", *bound);
  std::vector<std::unique_ptr<SignalWatcher>> signals;
  auto stop = [&] {
    signals.clear();
    server.Shutdown(kCleanupShutdownMs, [] {});
  };
  signals.push_back(std::make_unique<SignalWatcher>(&loop, SIGTERM, stop));
  signals.push_back(std::make_unique<SignalWatcher>(&loop, SIGINT, stop));
  loop.Run();
  return cli::kExitOk;
}

// One cleanup-wait: rounds of resolve + probe on the loop, until the threshold or the timeout.
class Waiter {
 public:
  Waiter(Loop* loop, const cli::CleanupWaitOptions& options) : loop_(loop), options_(options) {}
  // REQUIRES: Run() returned (its loop has no request of ours left).
  ~Waiter() { liveness_.Revoke(); }

  // Runs until done; the exit code.
  int Run() {
    deadline_ = std::make_unique<Timer>(loop_);
    deadline_->Start(static_cast<uint64_t>(options_.timeout.count()), 0, [this] {
      LOG_ERROR("cleanup-wait timed out").Int("ready_rounds", static_cast<int64_t>(streak_));
      Finish(cli::kExitRuntime);
    });
    round_timer_ = std::make_unique<Timer>(loop_);
    Round();
    loop_->Run();
    return code_;
  }

 private:
  void Round() {
    if (done_) return;
    resolve_.data = this;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    resolving_ = true;
    const int rc = uv_getaddrinfo(loop_->uv(), &resolve_, &Waiter::OnResolved,
                                  options_.probe_host.c_str(), nullptr, &hints);
    if (rc != 0) {
      resolving_ = false;
      EndRound(false, std::string("resolve: ") + uv_strerror(rc));
    }
  }

  static void OnResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
    auto* self = static_cast<Waiter*>(req->data);
    self->resolving_ = false;
    std::vector<std::string> ips;
    std::set<std::string> seen;
    for (addrinfo* a = res; status == 0 && a != nullptr; a = a->ai_next) {
      sockaddr_storage storage{};
      memcpy(&storage, a->ai_addr, std::min<size_t>(a->ai_addrlen, sizeof(storage)));
      char text[INET6_ADDRSTRLEN];
      http::FormatPeerAddress(storage, text);
      if (text[0] != '\0' && seen.insert(text).second) ips.emplace_back(text);
    }
    if (res != nullptr) uv_freeaddrinfo(res);
    if (status == UV_ECANCELED || self->done_) return;  // Finished meanwhile.
    if (status != 0) return self->EndRound(false, std::string("resolve: ") + uv_strerror(status));
    if (ips.empty()) return self->EndRound(false, "no addresses");
    self->pending_ = std::move(ips);
    self->answered_ = 0;
    self->total_ = self->pending_.size();
    self->ok_ = true;
    self->StartProbes();
  }

  void StartProbes() {
    while (!pending_.empty() && probes_.size() < kProbesAtOnce) {
      const std::string ip = pending_.back();
      pending_.pop_back();
      http::ClientRequest request;
      request.host = ip;
      request.port = options_.probe_port;
      request.target = "/readyz";
      http::ClientOptions client;
      client.connect_timeout_ms = kProbeTimeoutMs;
      client.head_timeout_ms = kProbeTimeoutMs;
      client.idle_timeout_ms = kProbeTimeoutMs;
      const size_t slot = next_probe_id_++;
      probes_[slot] = http::Fetch(
          loop_, std::move(request), client, 4096,
          [this, alive = liveness_.token(), slot, ip](Result<http::FetchResult> r) {
            if (!alive.alive()) return;
            const bool ready = r.ok() && r->response.status == 200;
            if (!ready) {
              ok_ = false;
              failed_ip_ = ip;
            }
            ++answered_;
            loop_->Post([this, alive, slot] {  // Not from inside the exchange's own callback.
              if (!alive.alive()) return;
              probes_.erase(slot);
              if (answered_ == total_) return EndRound(ok_, ok_ ? "" : failed_ip_ + " not ready");
              StartProbes();
            });
          });
    }
  }

  void EndRound(bool ready, const std::string& why) {
    if (done_) return;
    streak_ = ready ? streak_ + 1 : 0;
    LOG_INFO("cleanup-wait round")
        .Bool("ready", ready)
        .Int("addresses", static_cast<int64_t>(total_))
        .Int("ready_rounds", static_cast<int64_t>(streak_))
        .Str("why", why);
    if (streak_ >= static_cast<size_t>(options_.threshold)) return Finish(cli::kExitOk);
    round_timer_->Start(static_cast<uint64_t>(options_.period.count()), 0, [this] { Round(); });
  }

  void Finish(int code) {
    if (done_) return;
    done_ = true;
    code_ = code;
    deadline_.reset();
    round_timer_.reset();
    probes_.clear();
    if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_));
  }

  Loop* loop_;
  const cli::CleanupWaitOptions& options_;
  std::unique_ptr<Timer> deadline_;
  std::unique_ptr<Timer> round_timer_;
  uv_getaddrinfo_t resolve_{};
  bool resolving_ = false;
  std::vector<std::string> pending_;
  std::map<size_t, std::unique_ptr<http::ClientExchange>> probes_;
  size_t next_probe_id_ = 0;
  size_t answered_ = 0;
  size_t total_ = 0;
  bool ok_ = true;
  std::string failed_ip_;
  size_t streak_ = 0;
  bool done_ = false;
  int code_ = cli::kExitRuntime;
  Liveness liveness_;
};

}  // namespace

int RunCleanupCommand(const std::vector<std::string>& args) {
  return cli::RunCommand("cleanup", args, cli::ProcessEnv(), &cli::ParseCleanupOptions,
                         [](cli::CleanupOptions& options) {
                           SetLogLevel(options.level);
                           auto result = node::RestoreMirrorConfig(
                               options.containerd_registry_config_path);
                           if (!result.ok()) {
                             fprintf(stderr, "spegel cleanup: %s\n",
                                     result.status().message().c_str());
                             return cli::kExitRuntime;
                           }
                           if (!result->had_backup) {
                             LOG_INFO("no backup to restore, skipping cleanup")
                                 .Str("path", options.containerd_registry_config_path);
                           }
                           return options.address ? ServeReadiness(*options.address) : cli::kExitOk;
                         });
}

int RunCleanupWaitCommand(const std::vector<std::string>& args) {
  return cli::RunCommand("cleanup-wait", args, cli::ProcessEnv(), &cli::ParseCleanupWaitOptions,
                         [](cli::CleanupWaitOptions& options) {
                           SetLogLevel(options.level);
                           Loop loop;
                           Waiter waiter(&loop, options);
                           return waiter.Run();
                         });
}

}  // namespace spegel::daemon
