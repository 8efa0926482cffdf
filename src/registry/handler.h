// RegistryHandler: every route on --registry-addr.
//
//   GET|HEAD /v2/                           200 {} with Docker-Distribution-API-Version
//   GET|HEAD /v2/<name>/manifests/<ref>     a manifest or index this node holds, by tag or digest
//   GET|HEAD /v2/<name>/blobs/<digest>      a blob this node holds; single Range → 206 / 416
//   GET|HEAD /v2/<name>/tags/list           {"name","tags"}: the tags of <name> this node holds
//   GET|HEAD /readyz                        200 once containerd is connected and the index
//                                           synced, else 503
//   GET|HEAD /livez                         200 while the process runs
//   GET      /debug/index                   JSON: readiness, containerd state, and every image,
//                                           blob and tag this node would serve
//   other methods on these paths            405 (OCI UNSUPPORTED under /v2/)
//   anything else                           404
//
// Bodies come from containerd::ContentStore: the content file with sendfile(2) (small manifests,
// indexes and configs from a bounded in-memory cache once read, since content never changes per
// digest); when the content directory is not readable they stream through containerd's
// Content.Read (1 MiB per call, pulled only as the client drains). A blob whose file is gone (GC)
// is dropped from the index and answered 404, so containerd falls back upstream at once. Errors
// are OCI JSON with exact Content-Length.
//
// Threading: owned by the daemon; all calls on the loop thread (it is an http::Handler). The
// Index, Syncer and ContentStore must outlive it.
#pragma once

#include <memory>

#include "auth/peer_auth.h"
#include "containerd/content_store.h"
#include "http/handler.h"
#include "index/index.h"
#include "index/syncer.h"
#include "loop/liveness.h"
#include "registry/errors.h"
#include "registry/filters.h"
#include "registry/inflight.h"
#include "registry/peer_fetch.h"
#include "registry/request_context.h"
#include "registry/route.h"
#include "registry/small_blob_cache.h"

namespace spegel::registry {

// Cluster mode: a local miss goes to `fetcher` unless the request is mirrored (a peer's fetch,
// carrying X-Spegel-Mirrored: true, as RequestContext defines it: one hop only); requests for
// references `filters` refuse get 404; with a peer secret, mirrored requests must be signed
// (else 401). With `inflight`, a local miss of a blob GET is claimed first (inflight.h: 404 at
// once when this node is to fetch it, else a peer fetch from the nodes named), and a mirrored
// GET of a blob this node does not hold is served from its in-flight copy when it has one. All
// must outlive the handler; no fetcher = standalone (a miss is a 404).
struct ClusterMode {
  PeerFetcher* fetcher = nullptr;
  const RegistryFilters* filters = nullptr;
  const auth::PeerAuth* auth = nullptr;
  Inflight* inflight = nullptr;
};

class RegistryHandler : public http::Handler {
 public:
  RegistryHandler(index::Index* index, index::Syncer* syncer, containerd::ContentStore* content,
                  ClusterMode cluster = {});
  ~RegistryHandler() override;

  void Handle(http::Request& request, http::ResponseWriter& writer) override;

 private:
  void Probe(http::Request& request, http::ResponseWriter& writer, bool ok);
  void DebugIndex(http::Request& request, http::ResponseWriter& writer);
  void Registry(http::Request& request, http::ResponseWriter& writer);
  void ServeContent(http::Request& request, http::ResponseWriter& writer, const Route& route,
                    const oci::Digest& digest, const index::BlobInfo& blob, bool is_manifest);
  // GET /v2/<name>/tags/list[?n=&last=]: the tags this node holds, paginated as the spec says.
  void SendTagsList(http::Request& request, http::ResponseWriter& writer, const Route& route);
  void SendError(http::Request& request, http::ResponseWriter& writer, OciError error,
                 std::string_view message, http::Headers extra = {});

  // A local miss: to a peer when in cluster mode and allowed, else 404 with `message`.
  void Miss(http::Request& request, http::ResponseWriter& writer, const Route& route,
            std::string key, OciError error, std::string_view message);
  // A local miss of a blob GET: the claim's verdict decides (see ClusterMode).
  void ClaimThenFetch(http::Request& request, http::ResponseWriter& writer, const Route& route,
                      std::string key);

  PeerFetcher* fetcher_;
  Inflight* inflight_;
  const RegistryFilters* filters_;
  const auth::PeerAuth* auth_;
  index::Index* index_;
  index::Syncer* syncer_;
  containerd::ContentStore* content_;
  // Manifests, indexes and configs up to 64 KiB, 2 MiB in all (layers always go by sendfile).
  SmallBlobCache small_blobs_{2 << 20, 64 << 10};
  Liveness liveness_;  // Claims answer after the handler may be gone.
};

}  // namespace spegel::registry
