// InstrumentedHandler: wraps the registry-address handler and records, for every request, the
// HTTP metrics (duration, response size, in-flight) and, for /v2/ requests, the registry request
// metrics (see spegel_metrics.h). The wrapped handler does not know it is measured.
//
// Duration is measured from Handle() to the Respond* call (the response head), not to the last
// body byte: a blob's transfer time depends on the client. Response size is the body length
// handed to the server (0 for HEAD), so bytes counted for a response cut short are those promised.
// An exchange aborted before any response (client gone while the handler worked) is recorded with
// code "499" (nginx's "client closed request"), so in-flight always returns to zero.
//
// With a StatusBoard, every /v2/ request is also reported to it when its answer ended (the last
// byte handed to the kernel, or the exchange aborted), with its duration to that moment and where
// the answer came from: registry::RequestContext::origin, else "local" for a 2xx and "none"
// otherwise (the board's access log, request history and last pulls).
//
// Contract on the wrapped handler (which RegistryHandler meets): it makes exactly one Respond*
// call and uses the writer no more after it (SetAbortCallback and SetDoneCallback only before it).
// The writer it sees hands out the server's LivenessToken: the token dies when the server's
// exchange ends, whereas that writer itself is freed at the Respond* call or the abort.
//
// Ownership and threading: owned by the daemon; `inner`, `metrics` and `board` must outlive it
// and its server. Loop thread only.
#pragma once

#include <string_view>

#include "http/handler.h"
#include "metrics/spegel_metrics.h"
#include "metrics/status.h"

namespace spegel::metrics {

class InstrumentedHandler : public http::Handler {
 public:
  InstrumentedHandler(http::Handler* inner, SpegelMetrics* metrics, StatusBoard* board = nullptr)
      : inner_(inner), metrics_(metrics), board_(board) {}

  void Handle(http::Request& request, http::ResponseWriter& writer) override;

  // The bounded `handler` label of a path: "/v2/*", "/readyz", "/livez", "/debug/index", "other".
  static std::string_view HandlerLabel(std::string_view path);

 private:
  http::Handler* inner_;
  SpegelMetrics* metrics_;
  StatusBoard* board_;
};

}  // namespace spegel::metrics
