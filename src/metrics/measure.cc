#include "metrics/measure.h"

#include <unistd.h>

#include <utility>

#include "http/request_parser.h"
#include "oci/manifest.h"
#include "registry/request_context.h"
#include "registry/route.h"

namespace spegel::metrics {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kManifestAccept[] =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

#if defined(__aarch64__)
constexpr char kArchitecture[] = "arm64";
#else
constexpr char kArchitecture[] = "amd64";
#endif

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Result<std::optional<oci::Reference>> ParseMeasureQuery(std::string_view query) {
  auto image = http::QueryParam(query, "image");
  if (!image.ok()) return image.status();
  if (!image->has_value() || (*image)->empty()) return std::optional<oci::Reference>();
  auto ref = oci::ParseNormalizedName(**image);
  if (!ref.ok()) return Status::InvalidArgument("image: " + ref.status().message());
  return std::optional<oci::Reference>(std::move(*ref));
}

// One part in flight: the request the PeerFetcher serves and the writer it answers, which counts
// and discards the body. Destroyed by the Measure only after the fetch let go of it (its answer
// ended, or its abort callback ran).
struct Measure::Fetch final : public http::ResponseWriter, public http::BodySink {
  Fetch(Measure* owner, MeasuredPart part, http::Request request)
      : owner(owner), part(std::move(part)), request(std::move(request)), start(Clock::now()) {}

  void Respond(int status, http::Headers headers, std::string b) override {
    Answered(status, headers);
    part.bytes = b.size();
    body = std::move(b);
    if (status != 200) part.error = "answered " + std::to_string(status);
    Complete();
  }
  void RespondHead(int status, http::Headers headers, uint64_t) override {
    Answered(status, headers);
    part.error = "a head without a body";
    Complete();
  }
  void RespondFile(int status, http::Headers headers, int fd, uint64_t, uint64_t) override {
    ::close(fd);
    Answered(status, headers);
    part.error = "answered from a file";
    Complete();
  }
  void RespondStream(int status, http::Headers headers, uint64_t length,
                     std::unique_ptr<http::BodySource> s) override {
    Answered(status, headers);
    if (status != 200) part.error = "answered " + std::to_string(status);
    source = std::move(s);
    remaining = length;
    if (remaining == 0) return EndBody();
    AskMore();
  }
  Liveness::Token LivenessToken() override { return exchange.token(); }
  void SetAbortCallback(std::function<void()> callback) override { abort = std::move(callback); }
  void SetDoneCallback(std::function<void()> callback) override { done = std::move(callback); }

  void Write(std::string_view data) override { Took(data.size()); }
  void Lend(std::string_view data) override { Took(data.size()); }
  void SendFile(int, uint64_t, uint64_t length) override { Took(length); }
  void Fail(std::string_view reason) override {
    part.error = std::string(reason);
    pending = false;
    // As the server does: the source is destroyed without Stop(), then the exchange aborted.
    source.reset();
    Aborted();
  }

  void Answered(int status, const http::Headers& headers) {
    part.status = status;
    part.first_byte_seconds = Since(start);
    for (const auto& h : headers) {
      if (http::EqualsIgnoreCase(h.name, "Content-Type")) content_type = h.value;
    }
    part.source = registry::RequestContext::Of(request).origin.peer_id;
  }
  void AskMore() {
    pending = true;
    // Proceed may answer inline; the next one is asked in a later loop turn, never recursively.
    owner->loop_->Post([this, alive = liveness.token()] {
      if (alive.alive() && source) source->Proceed(*this);
    });
  }
  void Took(uint64_t n) {
    pending = false;
    part.bytes += n;
    remaining -= std::min(remaining, n);
    if (remaining == 0) return EndBody();
    AskMore();
  }
  void EndBody() {
    source.reset();
    exchange.Revoke();
    if (auto d = std::move(done)) d();
    abort = nullptr;
    Complete();
  }
  void Aborted() {
    exchange.Revoke();
    done = nullptr;
    if (auto a = std::move(abort)) a();
    Complete();
  }
  // Stops a part still in flight (the time limit): like a client going away.
  void Abandon() {
    if (completed) return;
    part.error = "abandoned at the time limit";
    if (source) {
      source->Stop();
      source.reset();
    }
    Aborted();
  }
  // The exchange ended. An answer without a body ends it here, inside its Respond* call.
  void Complete() {
    exchange.Revoke();
    if (completed) return;
    completed = true;
    part.seconds = Since(start);
    owner->loop_->Post(
        [owner = owner, alive = owner->liveness_.token(), p = part, b = std::move(body)]() mutable {
          if (alive.alive()) owner->PartDone(std::move(p), b);
        });
  }

  Measure* owner;
  MeasuredPart part;
  http::Request request;
  Clock::time_point start;
  std::string body;  // manifests: the document
  std::string content_type;
  std::unique_ptr<http::BodySource> source;
  uint64_t remaining = 0;
  bool pending = false;  // a Proceed() is unanswered
  bool completed = false;
  std::function<void()> abort;
  std::function<void()> done;
  Liveness exchange;  // LivenessToken(): revoked when the exchange ends, before its callbacks.
  Liveness liveness;  // This object's own posted Proceed().
};

struct Measure::Run_ {
  MeasureResult result;
  oci::Reference image;
  std::function<void(MeasureResult)> done;
  Clock::time_point start;
  std::unique_ptr<Timer> deadline;
  std::unique_ptr<Fetch> fetch;
  std::vector<std::unique_ptr<Fetch>> spent;  // fetches let go of, freed with the run
  std::vector<std::pair<std::string, oci::Descriptor>> blobs;  // {kind, blob}, in order
  size_t next_blob = 0;
  bool saw_index = false;
};

Measure::Measure(Loop* loop, registry::PeerFetcher* fetcher) : loop_(loop), fetcher_(fetcher) {}

Measure::~Measure() {
  if (run_ && run_->fetch) run_->fetch->Abandon();
  liveness_.Revoke();
}

void Measure::Run(const oci::Reference& image, std::function<void(MeasureResult)> done) {
  run_ = std::make_unique<Run_>();
  run_->image = image;
  run_->result.image = image.ToString();
  run_->done = std::move(done);
  run_->start = Clock::now();
  run_->deadline = std::make_unique<Timer>(loop_);
  run_->deadline->Start(std::chrono::milliseconds(kTimeLimit).count(), 0, [this] {
    if (run_->fetch) run_->fetch->Abandon();  // Its PartDone ends the run.
  });
  if (image.digest) {
    FetchPart("manifest", image, image.digest->str(), image.digest);
  } else {
    FetchPart("manifest", image, image.tag, std::nullopt);
  }
}

void Measure::FetchPart(std::string kind, const oci::Reference& image, const std::string& reference,
                        std::optional<oci::Digest> digest) {
  const bool manifest = kind == "manifest" || kind == "index";
  registry::Route route;
  route.kind = manifest ? registry::RouteKind::kManifest : registry::RouteKind::kBlob;
  route.registry = image.registry;
  route.repository = image.repository;
  if (digest) {
    route.digest = digest;
  } else {
    route.tag = reference;
  }
  const std::string target = "/v2/" + image.repository + (manifest ? "/manifests/" : "/blobs/") +
                             reference + "?ns=" + http::PercentEncode(image.registry);
  std::string raw = "GET " + target + " HTTP/1.1\r\nHost: spegel-measure\r\n";
  if (manifest) raw += std::string("Accept: ") + kManifestAccept + "\r\n";
  raw += "\r\n";
  http::RequestParser parser(http::ParserLimits{});
  auto fed = parser.Feed(raw.data(), raw.size());
  MeasuredPart part;
  part.kind = std::move(kind);
  part.digest = digest ? digest->str() : image.TagKey();
  if (fed.event != http::RequestParser::Event::kRequest) {
    part.error = "cannot form the request";
    return PartDone(std::move(part), std::string());
  }
  run_->fetch = std::make_unique<Fetch>(this, std::move(part), parser.TakeRequest());
  Fetch* fetch = run_->fetch.get();
  fetcher_->Serve(fetch->request, *fetch, route, digest ? digest->str() : image.TagKey());
}

void Measure::PartDone(MeasuredPart part, const std::string& body) {
  if (!run_) return;
  if (run_->fetch) {
    // Its answer ended or was aborted: the fetch holds no reference to it any more, but a
    // callback of this loop turn may still be on its stack; freed with the run.
    run_->spent.push_back(std::move(run_->fetch));
  }
  const bool failed = !part.error.empty();
  const bool manifest = part.kind == "manifest" || part.kind == "index";
  MeasureResult& result = run_->result;
  result.bytes += part.bytes;
  const std::string content_type = run_->spent.empty() ? "" : run_->spent.back()->content_type;
  if (manifest && !failed) {
    auto parsed = oci::ParseManifest(body, content_type);
    if (!parsed.ok()) {
      part.error = parsed.status().message();
    } else if (parsed->kind == oci::ManifestKind::kIndex) {
      part.kind = "index";
      result.parts.push_back(std::move(part));
      const oci::Descriptor* pick = nullptr;
      for (const oci::Descriptor& d : parsed->manifests) {
        if (d.platform && d.platform->os == "linux" && d.platform->architecture == kArchitecture) {
          pick = &d;
          break;
        }
      }
      if (pick == nullptr && !parsed->manifests.empty()) pick = &parsed->manifests.front();
      if (pick == nullptr || run_->saw_index) return Finish("an index without a usable manifest");
      run_->saw_index = true;
      return FetchPart("manifest", run_->image, pick->digest.str(), pick->digest);
    } else {
      uint64_t total = 0;
      run_->blobs.clear();
      run_->next_blob = 0;
      if (parsed->config) {
        run_->blobs.emplace_back("config", *parsed->config);
      }
      for (const oci::Descriptor& d : parsed->layers) {
        run_->blobs.emplace_back("layer", d);
      }
      for (const auto& [kind, d] : run_->blobs) total += static_cast<uint64_t>(d.size);
      result.parts.push_back(std::move(part));
      if (total > kMaxBytes) {
        return Finish("the image's blobs are larger than measure's cap of " +
                      std::to_string(kMaxBytes >> 20) + " MiB");
      }
      return NextBlob();
    }
  }
  result.parts.push_back(std::move(part));
  if (failed || manifest) {
    return Finish(manifest ? "the manifest did not arrive: " + result.parts.back().error
                           : "a blob did not arrive: " + result.parts.back().error);
  }
  NextBlob();
}

void Measure::NextBlob() {
  if (run_->next_blob == run_->blobs.size()) return Finish("");
  const auto& [kind, next] = run_->blobs[run_->next_blob++];
  FetchPart(kind, run_->image, next.digest.str(), next.digest);
}

void Measure::Finish(std::string error) {
  std::unique_ptr<Run_> run = std::move(run_);
  run->deadline->Stop();
  run->result.error = std::move(error);
  run->result.seconds = Since(run->start);
  // Answer in a later loop turn: the run's fetches may be on the stack of this one.
  loop_->Post([alive = liveness_.token(), run = std::shared_ptr<Run_>(std::move(run))] {
    if (alive.alive()) run->done(std::move(run->result));
  });
}

}  // namespace spegel::metrics
