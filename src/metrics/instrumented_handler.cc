#include "metrics/instrumented_handler.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "registry/request_context.h"

namespace spegel::metrics {
namespace {

using Clock = std::chrono::steady_clock;

// A registry request whose answer has started: reported to the StatusBoard when it ends. Shared
// by the server's done and abort callbacks (exactly one of them runs).
struct EndingRequest {
  RequestRecord record;  // All but seconds and complete, which End() sets.
  Clock::time_point start;

  void End(StatusBoard* board, bool complete) {
    record.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    record.complete = complete;
    board->RequestEnded(record);
  }
};

std::string_view SourceName(const registry::AnswerOrigin& origin, int status) {
  switch (origin.source) {
    case registry::AnswerSource::kPeer: return "peer";
    case registry::AnswerSource::kInflightPeer:
    case registry::AnswerSource::kInflightHere: return "inflight";
    case registry::AnswerSource::kUnset: break;
  }
  return status >= 200 && status < 300 ? "local" : "none";
}

// Forwards to the server's writer and records the metrics at the Respond* call. Heap-allocated
// per request; deletes itself right after forwarding the Respond* call, or when the exchange is
// aborted before one (whichever comes first).
class MeasuringWriter final : public http::ResponseWriter {
 public:
  MeasuringWriter(http::ResponseWriter* real, SpegelMetrics* metrics, StatusBoard* board,
                  const http::Request& request)
      : real_(real), metrics_(metrics), board_(board), start_(Clock::now()) {
    const std::string_view path = request.path();
    handler_ = InstrumentedHandler::HandlerLabel(path);
    method_ = request.method() == http::Method::kGet    ? "GET"
              : request.method() == http::Method::kHead ? "HEAD"
                                                        : "OTHER";
    head_ = request.method() == http::Method::kHead;
    // The same facts the registry handler acts on (derived once, kept with the request).
    const registry::RequestContext& context = registry::RequestContext::Of(request);
    if (context.api) {
      v2_ = true;
      const registry::Route& route = context.route.route;
      registry_ = route.registry;
      kind_ = route.kind == registry::RouteKind::kManifest     ? "manifest"
              : route.kind == registry::RouteKind::kBlob       ? "blob"
              : route.kind == registry::RouteKind::kApiVersion ? "version"
                                                               : "other";
      mirrored_ = context.mirrored;
      request_context_ = &context;
      if (board_ != nullptr) {
        context_ = &context;
        ending_ = std::make_shared<EndingRequest>();
        RequestRecord& r = ending_->record;
        r.method = std::string(method_);
        r.path = std::string(path);
        r.registry = route.registry;
        r.repository = route.repository;
        r.reference = route.digest ? route.digest->str() : route.tag;
        r.kind = std::string(kind_);
        r.mirrored = mirrored_;
        r.start_unix_ms = UnixMs();
        ending_->start = start_;
      }
    }
    metrics_->HttpStarted(handler_);
    real_->SetAbortCallback([this] { Aborted(); });
  }

  void Respond(int status, http::Headers headers, std::string body) override {
    http::ResponseWriter* real = Finish(status, head_ ? 0 : body.size());
    real->Respond(status, std::move(headers), std::move(body));
  }
  void RespondHead(int status, http::Headers headers, uint64_t content_length) override {
    http::ResponseWriter* real = Finish(status, head_ ? 0 : content_length);
    real->RespondHead(status, std::move(headers), content_length);
  }
  void RespondFile(int status, http::Headers headers, int fd, uint64_t offset,
                   uint64_t length) override {
    http::ResponseWriter* real = Finish(status, head_ ? 0 : length);
    real->RespondFile(status, std::move(headers), fd, offset, length);
  }
  void RespondStream(int status, http::Headers headers, uint64_t length,
                     std::unique_ptr<http::BodySource> source) override {
    http::ResponseWriter* real = Finish(status, head_ ? 0 : length);
    real->RespondStream(status, std::move(headers), length, std::move(source));
  }
  // The server's own: it dies when the exchange ends, before this writer is freed by the abort
  // callback, and stays valid after the Respond* call that frees it.
  Liveness::Token LivenessToken() override { return real_->LivenessToken(); }
  void SetAbortCallback(std::function<void()> callback) override {
    inner_abort_ = std::move(callback);
  }
  void SetDoneCallback(std::function<void()> callback) override {
    inner_done_ = std::move(callback);
  }

 private:
  ~MeasuringWriter() = default;

  // Records the metrics, hands the inner abort callback to the server, deletes this and returns
  // the server's writer for the forwarded call.
  http::ResponseWriter* Finish(int status, uint64_t body_bytes) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    metrics_->HttpFinished(handler_, method_, status, seconds, body_bytes);
    if (v2_) {
      RegistryRequest r;
      r.registry = registry_;
      r.kind = kind_;
      r.method = method_;
      r.code = status;
      r.mirrored = mirrored_;
      r.body_bytes = body_bytes;
      const registry::AnswerSource source = request_context_->origin.source;
      r.from_peer = source == registry::AnswerSource::kPeer ||
                    source == registry::AnswerSource::kInflightPeer;
      metrics_->RegistryRequestDone(r);
    }
    http::ResponseWriter* real = real_;
    if (ending_) {
      // The request (and its context) stays valid until the Respond* call this precedes.
      ending_->record.status = status;
      ending_->record.bytes = body_bytes;
      ending_->record.source = std::string(SourceName(context_->origin, status));
      ending_->record.peer = context_->origin.peer_id;
      real->SetAbortCallback([ending = ending_, board = board_, inner = std::move(inner_abort_)] {
        ending->End(board, false);
        if (inner) inner();
      });
      real->SetDoneCallback([ending = ending_, board = board_, inner = std::move(inner_done_)] {
        ending->End(board, true);
        if (inner) inner();
      });
    } else {
      real->SetAbortCallback(std::move(inner_abort_));
      real->SetDoneCallback(std::move(inner_done_));
    }
    delete this;
    return real;
  }

  // The exchange ended before any Respond* call: the request is no longer in flight.
  void Aborted() {
    metrics_->HttpFinished(handler_, method_, 499,
                           std::chrono::duration<double>(Clock::now() - start_).count(), 0);
    if (ending_) {
      ending_->record.status = 499;
      ending_->record.source = "none";
      ending_->End(board_, false);
    }
    std::function<void()> inner = std::move(inner_abort_);
    delete this;
    if (inner) inner();
  }

  http::ResponseWriter* real_;
  SpegelMetrics* metrics_;
  StatusBoard* board_;
  Clock::time_point start_;
  const registry::RequestContext* context_ = nullptr;  // with board_, for /v2/ requests
  // Every /v2/ request's context; valid until the Respond* call (Finish reads its origin).
  const registry::RequestContext* request_context_ = nullptr;
  std::shared_ptr<EndingRequest> ending_;  // reported to board_ when it ends
  std::string_view handler_;
  std::string_view method_;
  bool head_ = false;
  bool v2_ = false;
  bool mirrored_ = false;
  std::string registry_;
  std::string_view kind_ = "other";
  std::function<void()> inner_abort_;
  std::function<void()> inner_done_;
};

}  // namespace

std::string_view InstrumentedHandler::HandlerLabel(std::string_view path) {
  if (registry::IsApiPath(path)) return "/v2/*";
  if (path == "/readyz") return "/readyz";
  if (path == "/livez") return "/livez";
  if (path == "/debug/index") return "/debug/index";
  return "other";
}

void InstrumentedHandler::Handle(http::Request& request, http::ResponseWriter& writer) {
  // Owns itself from here (see MeasuringWriter); must not be touched after Handle returns.
  auto* measuring = new MeasuringWriter(&writer, metrics_, board_, request);
  inner_->Handle(request, *measuring);
}

}  // namespace spegel::metrics
