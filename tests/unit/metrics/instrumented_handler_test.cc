#include "metrics/instrumented_handler.h"

#include <doctest/doctest.h>

#include <optional>

#include "fakes/fake_writer.h"
#include "http/request_parser.h"
#include "registry/request_context.h"

namespace spegel::metrics {
namespace {

http::Request Parse(const std::string& raw) {
  http::RequestParser parser(http::ParserLimits{});
  auto r = parser.Feed(raw.data(), raw.size());
  REQUIRE(r.event == http::RequestParser::Event::kRequest);
  return parser.TakeRequest();
}

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

// Answers with a preset status and body, inline or (deferred) when Finish() is called.
class Inner : public http::Handler {
 public:
  void Handle(http::Request&, http::ResponseWriter& writer) override {
    if (defer) {
      pending = &writer;
      token.emplace(writer.LivenessToken());
      writer.SetAbortCallback([this] { aborted = true; });
      return;
    }
    writer.Respond(status, {}, body);
  }
  void Finish() { pending->Respond(status, {}, body); }
  int status = 200;
  std::string body = "hello";
  bool defer = false;
  bool aborted = false;
  http::ResponseWriter* pending = nullptr;
  std::optional<Liveness::Token> token;  // The deferred exchange's.
};

TEST_CASE("instrumented handler: handler labels are bounded") {
  CHECK(InstrumentedHandler::HandlerLabel("/v2/") == "/v2/*");
  CHECK(InstrumentedHandler::HandlerLabel("/v2") == "/v2/*");
  CHECK(InstrumentedHandler::HandlerLabel("/v2/a/blobs/x") == "/v2/*");
  CHECK(InstrumentedHandler::HandlerLabel("/readyz") == "/readyz");
  CHECK(InstrumentedHandler::HandlerLabel("/livez") == "/livez");
  CHECK(InstrumentedHandler::HandlerLabel("/debug/index") == "/debug/index");
  CHECK(InstrumentedHandler::HandlerLabel("/anything/else") == "other");
}

TEST_CASE("instrumented handler: records registry requests and forwards the response") {
  Registry r;
  SpegelMetrics m(&r);
  Inner inner;
  InstrumentedHandler h(&inner, &m);
  const std::string blob = "/v2/lib/a/blobs/sha256:" + std::string(64, 'a');

  auto run = [&](const std::string& method, const std::string& target,
                 const std::string& headers = "") {
    http::Request request = Parse(method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + headers +
                                  "\r\n");
    testing::FakeWriter writer;
    h.Handle(request, writer);
    return writer;
  };
  auto w = run("GET", blob + "?ns=docker.io");
  CHECK(w.calls == 1);
  CHECK(w.status == 200);
  CHECK(w.body == "hello");
  inner.status = 404;
  inner.body = "{}";
  run("GET", "/v2/lib/a/manifests/v1?ns=docker.io");
  run("HEAD", "/v2/lib/a/manifests/v1?ns=docker.io", "X-Spegel-Mirrored: true\r\n");
  inner.status = 200;
  run("GET", "/readyz");

  const std::string text = r.Expose();
  CHECK(Has(text,
            "spegel_registry_requests_total{registry=\"docker.io\",kind=\"blob\","
            "method=\"GET\",code=\"200\",cache=\"hit\"} 1"));
  CHECK(Has(text,
            "spegel_registry_requests_total{registry=\"docker.io\",kind=\"manifest\","
            "method=\"HEAD\",code=\"404\",cache=\"miss\"} 1"));
  // The peer's (mirrored) miss is not one upstream would forward.
  CHECK(Has(text, "spegel_mirror_requests_total{registry=\"docker.io\",cache=\"miss\"} 1"));
  CHECK(Has(text, "spegel_served_bytes_total{source=\"local\"} 5"));
  CHECK(Has(text,
            "http_request_duration_seconds_count{handler=\"/v2/*\",method=\"GET\","
            "code=\"404\"} 1"));
  CHECK(Has(text,
            "http_request_duration_seconds_count{handler=\"/readyz\",method=\"GET\","
            "code=\"200\"} 1"));
  CHECK(Has(text, "http_requests_inflight{handler=\"/v2/*\"} 0"));
  CHECK(m.requests_served() == 3);  // /readyz is not a registry request
}

TEST_CASE("instrumented handler: a mirrored request is what the registry handler takes for one") {
  // registry::RequestContext decides for both: the header name in any case, the value exactly
  // "true". A request the registry would forward to peers is a miss upstream would see too.
  Registry r;
  SpegelMetrics m(&r);
  Inner inner;
  inner.status = 404;
  inner.body = "{}";
  bool inner_saw_mirrored = false;
  InstrumentedHandler h(&inner, &m);
  auto miss = [&](const std::string& header) {
    http::Request request = Parse(
        "GET /v2/lib/a/manifests/v1?ns=docker.io HTTP/1.1\r\n"
        "Host: x\r\n" +
        header + "\r\n\r\n");
    testing::FakeWriter writer;
    h.Handle(request, writer);
    inner_saw_mirrored = registry::RequestContext::Of(request).mirrored;
    return Has(r.Expose(), "spegel_mirror_requests_total{registry=\"docker.io\",cache=\"miss\"} 1");
  };
  CHECK_FALSE(miss("x-spegel-mirrored: true"));
  CHECK(inner_saw_mirrored);
  CHECK_FALSE(miss("X-SPEGEL-MIRRORED: true"));
  CHECK(inner_saw_mirrored);
  CHECK(miss("X-Spegel-Mirrored: TRUE"));  // Not a peer's fetch: the registry forwards it.
  CHECK_FALSE(inner_saw_mirrored);
}

TEST_CASE("instrumented handler: deferred response, and an abort before any response") {
  Registry r;
  SpegelMetrics m(&r);
  Inner inner;
  inner.defer = true;
  InstrumentedHandler h(&inner, &m);
  http::Request request = Parse("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");

  testing::FakeWriter answered;
  h.Handle(request, answered);
  CHECK(answered.calls == 0);
  CHECK(Has(r.Expose(), "http_requests_inflight{handler=\"/v2/*\"} 1"));
  REQUIRE(inner.token);
  CHECK(inner.token->alive());
  inner.Finish();
  CHECK(answered.calls == 1);
  // The measuring writer is gone, the server's exchange is not: the token is the server's.
  CHECK(inner.token->alive());
  answered.Sent();
  CHECK_FALSE(inner.token->alive());
  CHECK(Has(r.Expose(), "http_requests_inflight{handler=\"/v2/*\"} 0"));
  // After the response the server holds the inner handler's abort callback.
  testing::FakeWriter cut;
  h.Handle(request, cut);
  inner.Finish();
  REQUIRE(cut.abort);
  cut.ClientGone();
  CHECK(inner.aborted);

  inner.aborted = false;
  testing::FakeWriter dropped;
  h.Handle(request, dropped);
  REQUIRE(dropped.abort);
  dropped.ClientGone();  // the client went away while the handler worked
  CHECK(inner.aborted);
  CHECK_FALSE(inner.token->alive());
  const std::string text = r.Expose();
  CHECK(Has(text, "http_requests_inflight{handler=\"/v2/*\"} 0"));
  CHECK(Has(text,
            "http_request_duration_seconds_count{handler=\"/v2/*\",method=\"GET\","
            "code=\"499\"} 1"));
}

}  // namespace
}  // namespace spegel::metrics
