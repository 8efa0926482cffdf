// Fuzzes the whole request path of the registry: bytes → RequestParser (llhttp) → RegistryHandler
// (routing, ns decoding, digest/reference/tag validation, Range) against a small index. Checks the
// handler's contract on every request: exactly one response, a sane status, a JSON error body
// with exact length on errors, and a 2xx only for content the index holds.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "containerd/content_store.h"
#include "fakes/fake_containerd.h"
#include "fakes/fake_writer.h"
#include "http/request_parser.h"
#include "index/index.h"
#include "index/syncer.h"
#include "loop/loop.h"
#include "registry/handler.h"

namespace {

using namespace spegel;

struct World {
  Loop loop;
  testing::FakeContainerd fake;
  index::Index index;
  containerd::ContentStore content{&loop, &fake, {}};
  index::Syncer syncer{&loop, &fake, &content, &index, index::SyncerOptions{}};
  registry::RegistryHandler handler{&index, &syncer, &content};

  World() {
    auto t = testing::AddTestManifest(&fake, "fuzz", 2);
    index::ImageWalk walk{"docker.io/library/app:v1",
                          *oci::Digest::Parse(t.manifest_digest),
                          std::string("docker.io/library/app:v1"),
                          {},
                          {}};
    walk.blobs.push_back(
        {*oci::Digest::Parse(t.manifest_digest),
         {static_cast<int64_t>(t.manifest.size()), "application/vnd.oci.image.manifest.v1+json",
          index::BlobKind::kManifest}});
    walk.blobs.push_back({*oci::Digest::Parse(t.config_digest),
                          {static_cast<int64_t>(t.config.size()),
                           "application/vnd.oci.image.config.v1+json", index::BlobKind::kConfig}});
    index.PutImage(std::move(walk));
  }
};

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "registry_request_fuzzer: %s\n", what);
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Built once and never destroyed: the handler's threads live for the whole process.
  static World* world = new World();
  http::RequestParser parser(http::ParserLimits{});
  const char* p = reinterpret_cast<const char*>(data);
  size_t left = size;
  for (int requests = 0; requests < 64 && left > 0; ++requests) {
    const auto result = parser.Feed(p, left);
    p += result.consumed;
    left -= result.consumed;
    if (result.event == http::RequestParser::Event::kError ||
        result.event == http::RequestParser::Event::kNeedMore) {
      break;
    }
    if (result.event != http::RequestParser::Event::kRequest) continue;
    http::Request request = parser.TakeRequest();
    testing::FakeWriter writer;
    world->handler.Handle(request, writer);
    Check(writer.calls == 1, "handler must respond exactly once");
    Check(writer.status >= 200 && writer.status <= 599, "status out of range");
    if (writer.status >= 400 && request.path().substr(0, 4) == "/v2/" && !writer.head_only) {
      Check(writer.body.rfind("{\"errors\":[{\"code\":", 0) == 0, "v2 error body is not OCI JSON");
      Check(writer.content_length == writer.body.size(), "error Content-Length mismatch");
    }
    if (writer.status == 200 || writer.status == 206) {
      const auto digest = writer.Header("Docker-Content-Digest");
      if (digest) {
        auto parsed = oci::Digest::Parse(*digest);
        Check(parsed.ok() && world->index.FindBlob(*parsed) != nullptr,
              "served a digest the index does not hold");
      }
    }
    if (writer.source) writer.source->Stop();
  }
  return 0;
}
