#include "registry/handler.h"

#include <algorithm>
#include <cstdint>

#include "base/json_escape.h"
#include "base/log.h"
#include "base/numbers.h"
#include "index/debug_json.h"
#include "registry/blob_range.h"

namespace spegel::registry {
namespace {

// One Content.Read call per chunk of a streamed body.
constexpr int64_t kStreamChunkBytes = 1 << 20;

bool IsGetOrHead(const http::Request& request) {
  return request.method() == http::Method::kGet || request.method() == http::Method::kHead;
}

void Send(http::Request& request, http::ResponseWriter& writer, int status, http::Headers headers,
          std::string body) {
  if (request.method() == http::Method::kHead) {
    writer.RespondHead(status, std::move(headers), body.size());
  } else {
    writer.Respond(status, std::move(headers), std::move(body));
  }
}

// Sends a blob's bytes from a containerd::BlobStream (Content.Read on a content-store worker),
// one chunk per Proceed(), so memory stays at one chunk however slowly the client reads.
class StreamBody : public http::BodySource {
 public:
  explicit StreamBody(std::unique_ptr<containerd::BlobStream> stream)
      : stream_(std::move(stream)) {}

  void Proceed(http::BodySink& sink) override {
    // `sink` stays valid until this answer; after Stop() the stream is gone and never answers.
    stream_->Read(kStreamChunkBytes, [&sink](Result<std::string> chunk) {
      if (!chunk.ok()) {
        sink.Fail(chunk.status().message());
        return;
      }
      sink.Write(*chunk);
    });
  }
  void Stop() override { stream_.reset(); }

 private:
  std::unique_ptr<containerd::BlobStream> stream_;
};

}  // namespace

RegistryHandler::RegistryHandler(index::Index* index, index::Syncer* syncer,
                                 containerd::ContentStore* content, ClusterMode cluster)
    : fetcher_(cluster.fetcher),
      inflight_(cluster.fetcher != nullptr ? cluster.inflight : nullptr),
      filters_(cluster.filters),
      auth_(cluster.auth),
      index_(index),
      syncer_(syncer),
      content_(content) {}

RegistryHandler::~RegistryHandler() = default;

void RegistryHandler::Handle(http::Request& request, http::ResponseWriter& writer) {
  if (RequestContext::Of(request).api) return Registry(request, writer);
  const std::string_view path = request.path();
  if (path == "/readyz" || path == "/livez" || path == "/debug/index") {
    if (!IsGetOrHead(request)) {
      Send(request, writer, 405, {{"Allow", "GET, HEAD"}, {"Content-Type", "text/plain"}},
           "method not allowed\n");
      return;
    }
    if (path == "/readyz") return Probe(request, writer, syncer_->ready());
    if (path == "/livez") return Probe(request, writer, true);
    return DebugIndex(request, writer);
  }
  Send(request, writer, 404, {{"Content-Type", "text/plain"}}, "not found\n");
}

void RegistryHandler::Probe(http::Request& request, http::ResponseWriter& writer, bool ok) {
  Send(request, writer, ok ? 200 : 503, {{"Content-Type", "text/plain"}},
       ok ? "ok\n" : "not ready\n");
}

void RegistryHandler::DebugIndex(http::Request& request, http::ResponseWriter& writer) {
  Send(request, writer, 200, {{"Content-Type", "application/json"}},
       index::DebugIndexJson(*index_, *syncer_));
}

void RegistryHandler::SendError(http::Request& request, http::ResponseWriter& writer,
                                OciError error, std::string_view message, http::Headers extra) {
  extra.push_back({"Content-Type", "application/json"});
  Send(request, writer, HttpStatus(error), std::move(extra), ErrorBody(error, message));
}

void RegistryHandler::Miss(http::Request& request, http::ResponseWriter& writer, const Route& route,
                           std::string key, OciError error, std::string_view message) {
  // Only SHA-256 content is fetched from peers or shared in flight (it is all we can verify).
  const bool sha256 = route.digest.has_value() && route.digest->algorithm() == "sha256";
  const bool blob = route.kind == RouteKind::kBlob && sha256;
  const bool manifest = route.kind == RouteKind::kManifest && sha256;
  if (RequestContext::Of(request).mirrored) {
    // A peer's fetch: one hop only, but our containerd's download in progress may serve it.
    if (inflight_ != nullptr && blob && inflight_->Serve(request, writer, *route.digest)) return;
    if (inflight_ != nullptr && manifest &&
        inflight_->ServeManifest(request, writer, *route.digest,
                                 [this, &request, &writer, error, message = std::string(message)] {
                                   SendError(request, writer, error, message);
                                 })) {
      return;
    }
    SendError(request, writer, error, message);
    return;
  }
  if (fetcher_ == nullptr || key.empty()) {
    SendError(request, writer, error, message);
    return;
  }
  // Blob GETs are claimed, ranged ones too: containerd resuming after its source broke (a FIN)
  // asks again, and of the nodes that lost their source one becomes the fetcher, continuing
  // from upstream with its Range, while the others follow it.
  // Manifest GETs by digest too: the Hub counts them; HEADs it does not.
  if (inflight_ != nullptr && (blob || manifest) && request.method() == http::Method::kGet) {
    ClaimThenFetch(request, writer, route, std::move(key));
    return;
  }
  fetcher_->Serve(request, writer, route, std::move(key));
}

void RegistryHandler::ClaimThenFetch(http::Request& request, http::ResponseWriter& writer,
                                     const Route& route, std::string key) {
  const oci::Digest digest = *route.digest;
  const bool manifest = route.kind == RouteKind::kManifest;
  inflight_->Claim(digest, [this, alive = liveness_.token(), client = writer.LivenessToken(),
                            &request, &writer, route, key = std::move(key), digest,
                            manifest](cluster::ClaimAnswer answer) mutable {
    if (!alive.alive() || !client.alive()) return;
    LOG_DEBUG("claim answered")
        .Str("digest", digest.str())
        .Str("answer", cluster::ClaimVerdictName(answer.verdict))
        .Str("from", answer.nodes.empty() ? std::string() : answer.nodes.front().node_id);
    switch (answer.verdict) {
      case cluster::ClaimVerdict::kFetch:
        // Our containerd downloads it from the next host; its ingest is what peers read (a
        // manifest: its committed copy). No node has it yet (that is why this one fetches): the
        // same answer as a miss.
        SendError(request, writer, manifest ? OciError::kManifestUnknown : OciError::kBlobUnknown,
                  PeerNotFoundMessage(manifest, kNoNodeHasIt));
        if (manifest) {
          inflight_->ExpectManifest(digest);
        } else {
          inflight_->Offer(digest, cluster::ProgressState::kFetching);
        }
        return;
      case cluster::ClaimVerdict::kFollow:
        fetcher_->ServeFrom(request, writer, route, std::move(key), std::move(answer.nodes),
                            inflight_->Watch(digest, /*in_flight=*/true));
        // A follower is a source for later askers: its copy once its containerd committed it.
        if (manifest) {
          inflight_->ExpectManifest(digest);
        } else {
          inflight_->Offer(digest, cluster::ProgressState::kFollowing);
        }
        return;
      case cluster::ClaimVerdict::kHave:
        fetcher_->ServeFrom(request, writer, route, std::move(key), std::move(answer.nodes),
                            inflight_->Watch(digest, /*in_flight=*/false));
        return;
      case cluster::ClaimVerdict::kDecline:
        fetcher_->Serve(request, writer, route, std::move(key));
        return;
    }
  });
}

void RegistryHandler::Registry(http::Request& request, http::ResponseWriter& writer) {
  if (!IsGetOrHead(request)) {
    SendError(request, writer, OciError::kUnsupported,
              "this registry is a read-only mirror: only GET and HEAD are supported",
              {{"Allow", "GET, HEAD"}});
    return;
  }
  const RequestContext& context = RequestContext::Of(request);
  const RouteResult& parsed = context.route;
  const Route& route = parsed.route;
  if (route.kind == RouteKind::kApiVersion) {
    Send(request, writer, 200,
         {{"Content-Type", "application/json"},
          {"Docker-Distribution-API-Version", "registry/2.0"}},
         "{}");
    return;
  }
  if (route.kind == RouteKind::kUnknown) {
    SendError(request, writer, OciError::kNameUnknown,
              "not found: only manifests and blobs are served");
    return;
  }
  if (parsed.error) {
    // A manifest reference that is no valid tag is a manifest nobody has: the distribution spec
    // lists 404 as the only failure of a manifest GET or HEAD (docker-registry answers so too).
    if (*parsed.error == RouteError::kTagInvalid) {
      SendError(request, writer, OciError::kManifestUnknown, "manifest unknown: " + parsed.message);
      return;
    }
    const OciError error = *parsed.error == RouteError::kDigestInvalid ? OciError::kDigestInvalid
                                                                       : OciError::kNameInvalid;
    SendError(request, writer, error, parsed.message);
    return;
  }

  if (route.kind == RouteKind::kTagsList) {
    SendTagsList(request, writer, route);
    return;
  }
  const bool is_manifest = route.kind == RouteKind::kManifest;
  const OciError unknown = is_manifest ? OciError::kManifestUnknown : OciError::kBlobUnknown;
  if (context.mirrored && auth_ != nullptr && auth_->enabled()) {
    if (Status s = auth_->Verify(request.method_name(), request.target(), "",
                                 request.Header(auth::kAuthHeader), auth::UnixSeconds());
        !s.ok()) {
      Send(request, writer, 401, {{"Content-Type", "text/plain"}}, s.message() + "\n");
      return;
    }
  }
  if (filters_ != nullptr && !filters_->empty() && !route.registry.empty()) {
    std::string reference = route.registry + "/" + route.repository;
    if (!route.tag.empty()) reference += ":" + route.tag;
    if (!filters_->Allows(reference)) {
      SendError(request, writer, unknown,
                reference + " is not mirrored here (--mirrored-registries / --registry-filters)");
      return;
    }
  }
  std::optional<oci::Digest> digest = route.digest;
  if (!digest) {
    // Manifest by tag.
    std::string key;
    if (!route.registry.empty()) {
      key = route.registry + "/" + route.repository + ":" + route.tag;
    } else {
      const auto keys = index_->TagKeysForRepoTag(route.repository, route.tag);
      if (keys.size() > 1) {
        std::string names;
        for (const auto& k : keys) names += (names.empty() ? "" : ", ") + k;
        SendError(request, writer, OciError::kManifestUnknown,
                  "tag is ambiguous without ns: " + names +
                      "; add ?ns=<registry> or use /v2/<registry>/<name>/manifests/<tag>");
        return;
      }
      if (!keys.empty()) key = keys[0];
    }
    if (!key.empty()) digest = index_->ResolveTag(key);
    if (!digest) {
      // Without a registry the tag names no cluster-wide key: only a local answer is possible.
      Miss(request, writer, route, route.registry.empty() ? std::string() : key, unknown,
           "manifest unknown to this node");
      return;
    }
  }
  const index::BlobInfo* blob = index_->FindBlob(*digest);
  if (blob == nullptr || (is_manifest && blob->kind != index::BlobKind::kManifest &&
                          blob->kind != index::BlobKind::kIndex)) {
    Route by_digest = route;
    by_digest.digest = *digest;
    Miss(request, writer, by_digest, digest->str(), unknown,
         std::string(is_manifest ? "manifest" : "blob") + " unknown to this node");
    return;
  }
  ServeContent(request, writer, route, *digest, *blob, is_manifest);
}

void RegistryHandler::SendTagsList(http::Request& request, http::ResponseWriter& writer,
                                   const Route& route) {
  // Pagination as the distribution spec has it: `n` tags at most, those lexically after `last`,
  // and a Link to the next page when more remain.
  auto n_text = QueryParam(request.query(), "n");
  auto last = QueryParam(request.query(), "last");
  if (!n_text.ok() || !last.ok()) {
    SendError(request, writer, OciError::kPaginationNumberInvalid, "invalid query string");
    return;
  }
  size_t n = SIZE_MAX;
  if (n_text->has_value()) {
    uint64_t value = 0;
    if (!ParseDecimal(**n_text, &value)) {
      SendError(request, writer, OciError::kPaginationNumberInvalid,
                "n must be a number of tags, not \"" + (*n_text)->substr(0, 64) + "\"");
      return;
    }
    n = static_cast<size_t>(std::min<uint64_t>(value, SIZE_MAX));
  }
  const auto tags = index_->TagsOfRepository(route.registry, route.repository);
  if (tags.empty()) {
    SendError(request, writer, OciError::kNameUnknown, "repository unknown to this node");
    return;
  }
  auto from = tags.begin();
  if (last->has_value()) from = std::upper_bound(tags.begin(), tags.end(), **last);
  const size_t remaining = static_cast<size_t>(tags.end() - from);
  const size_t count = std::min(n, remaining);
  std::string body = "{\"name\":";
  AppendJsonString(&body, route.requested_name);
  body.append(",\"tags\":[");
  for (size_t i = 0; i < count; ++i) {
    if (i) body.push_back(',');
    AppendJsonString(&body, from[static_cast<std::ptrdiff_t>(i)]);
  }
  body.append("]}\n");
  http::Headers headers{{"Content-Type", "application/json"}};
  if (count > 0 && count < remaining) {
    std::string next = "</v2/" + route.requested_name + "/tags/list?n=" + std::to_string(n) +
                       "&last=" + http::PercentEncode(from[static_cast<std::ptrdiff_t>(count - 1)]);
    if (auto ns = QueryParam(request.query(), "ns"); ns.ok() && ns->has_value()) {
      next += "&ns=" + http::PercentEncode(**ns);
    }
    headers.push_back({"Link", next + ">; rel=\"next\""});
  }
  Send(request, writer, 200, std::move(headers), std::move(body));
}

void RegistryHandler::ServeContent(http::Request& request, http::ResponseWriter& writer,
                                   const Route& route, const oci::Digest& digest,
                                   const index::BlobInfo& blob, bool is_manifest) {
  (void)route;
  const int64_t size = blob.size;
  http::Headers headers{{"Docker-Content-Digest", digest.str()}};
  int status = 200;
  int64_t offset = 0;
  int64_t length = size;
  if (!is_manifest) {
    headers.push_back({"Accept-Ranges", "bytes"});
    const auto window = BlobWindowFor(request.Header("Range"), static_cast<uint64_t>(size),
                                      &headers);
    if (!window) {
      RespondRangeNotSatisfiable(request.method() == http::Method::kHead, writer, digest,
                                 static_cast<uint64_t>(size));
      return;
    }
    status = window->status;
    offset = static_cast<int64_t>(window->first);
    length = static_cast<int64_t>(window->length);
  }
  headers.push_back(
      {"Content-Type", blob.media_type.empty() ? "application/octet-stream" : blob.media_type});

  const bool cacheable = blob.kind != index::BlobKind::kLayer &&
                         size <= static_cast<int64_t>(small_blobs_.max_entry_bytes());
  if (cacheable) {
    if (auto bytes = small_blobs_.Find(digest)) {
      if (request.method() == http::Method::kHead) {
        writer.RespondHead(status, std::move(headers), static_cast<uint64_t>(length));
      } else {
        writer.Respond(status, std::move(headers),
                       bytes->substr(static_cast<size_t>(offset), static_cast<size_t>(length)));
      }
      return;
    }
  }
  auto opened = content_->Open(digest, size);
  if (!opened.ok()) {
    // The file is gone (GC deletes without events) or is not what the index says: forget the
    // blob (the index withdraws it from its owners) and answer as for any local miss, within
    // this request: from a peer, or 404 when none has it (a peer's fetch: 404, one hop).
    syncer_->BlobMissing(digest);
    Route by_digest = route;
    by_digest.digest = digest;
    Miss(request, writer, by_digest, digest.str(),
         is_manifest ? OciError::kManifestUnknown : OciError::kBlobUnknown,
         "content is no longer on this node");
    return;
  }
  if (containerd::BlobFile* file = opened->file()) {
    if (cacheable) {
      auto bytes = file->ReadAll();
      if (bytes.ok()) small_blobs_.Insert(digest, std::make_shared<std::string>(std::move(*bytes)));
    }
    if (request.method() == http::Method::kHead) {
      writer.RespondHead(status, std::move(headers), static_cast<uint64_t>(length));
      return;
    }
    writer.RespondFile(status, std::move(headers), file->Release(), static_cast<uint64_t>(offset),
                       static_cast<uint64_t>(length));
    return;
  }
  // No readable file (no directory, or permissions): the bytes come through containerd.
  if (request.method() == http::Method::kHead) {
    writer.RespondHead(status, std::move(headers), static_cast<uint64_t>(length));
    return;
  }
  writer.RespondStream(status, std::move(headers), static_cast<uint64_t>(length),
                       std::make_unique<StreamBody>(opened->Stream(offset, length)));
}

}  // namespace spegel::registry
