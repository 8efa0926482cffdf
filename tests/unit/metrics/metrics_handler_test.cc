#include "metrics/metrics_handler.h"

#include <doctest/doctest.h>

#include "cluster/cluster_view.h"
#include "fakes/fake_containerd.h"
#include "fakes/fake_writer.h"
#include "fakes/loop_util.h"
#include "http/request_parser.h"
#include "metrics/spegel_metrics.h"

namespace spegel::metrics {
namespace {

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";

http::Request Parse(const std::string& raw) {
  http::RequestParser parser(http::ParserLimits{});
  auto r = parser.Feed(raw.data(), raw.size());
  REQUIRE(r.event == http::RequestParser::Event::kRequest);
  return parser.TakeRequest();
}

struct Fixture {
  Fixture() : metrics(&registry) {
    image = testing::AddTestManifest(&fake, "m", 2);
    fake.AddImage("docker.io/library/app:v1", kOciManifest, image.manifest_digest);
    index::SyncerOptions options;
    options.resync_interval = std::chrono::milliseconds(0);
    syncer = std::make_unique<index::Syncer>(&loop, &fake, &content, &index, options);
    metrics.WatchState(&index, syncer.get());
    board = std::make_unique<StatusBoard>(&loop, &index, syncer.get(), nullptr, nullptr,
                                          NodeInfo{"1.2.3", "127.0.0.1:5000", true, {"passed"}});
    handler = std::make_unique<MetricsHandler>(&registry, board.get(), &index, syncer.get());
    syncer->Start();
    REQUIRE(testing::RunUntil(&loop, [&] { return syncer->ready(); }));
  }
  ~Fixture() {
    handler.reset();
    syncer->Stop();
  }
  testing::FakeWriter Get(const std::string& target, const std::string& method = "GET") {
    http::Request request = Parse(method + " " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    testing::FakeWriter writer;
    handler->Handle(request, writer);
    REQUIRE(writer.calls == 1);
    return writer;
  }

  Loop loop;
  testing::FakeContainerd fake;
  testing::TestImage image;
  containerd::ContentStore content{&loop, &fake, {.content_path = "/nonexistent-spegel-root"}};
  index::Index index;
  Registry registry;
  SpegelMetrics metrics;
  std::unique_ptr<index::Syncer> syncer;
  std::unique_ptr<StatusBoard> board;
  std::unique_ptr<MetricsHandler> handler;
};

TEST_CASE("metrics handler: /metrics in Prometheus text format with live state") {
  Fixture f;
  auto w = f.Get("/metrics");
  CHECK(w.status == 200);
  CHECK(w.Header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(w.body.find("\nspegel_ready 1\n") != std::string::npos);
  CHECK(w.body.find("\nspegel_containerd_connected 1\n") != std::string::npos);
  CHECK(w.body.find("\nspegel_index_images 1\n") != std::string::npos);
  CHECK(w.body.find("\nspegel_index_blobs 4\n") != std::string::npos);
  CHECK(w.body.find("\nspegel_advertised_image_tags{registry=\"docker.io\"} 1\n") !=
        std::string::npos);
  CHECK(w.body.find("\nspegel_advertised_content_digests{registry=\"docker.io\"} 4\n") !=
        std::string::npos);
  CHECK(w.body.find("\nspegel_index_full_syncs_total 1\n") != std::string::npos);
  auto head = f.Get("/metrics", "HEAD");
  CHECK(head.head_only);
  CHECK(head.content_length > 0);
}

TEST_CASE("metrics handler: status page, probes, debug JSON, errors") {
  Fixture f;
  auto page = f.Get("/");
  CHECK(page.status == 200);
  CHECK(page.Header("Content-Type") == "text/html; charset=utf-8");
  CHECK(page.body.find("<span class=\"badge ok\" id=\"ready\">ready</span>") != std::string::npos);
  CHECK(page.body.find("version 1.2.3") != std::string::npos);
  CHECK(page.body.find(">1 image name<") != std::string::npos);
  CHECK(page.body.find("<svg id=\"traffic\"") != std::string::npos);
  CHECK(page.body.find("<script") == std::string::npos);
  auto web = f.Get("/debug/web/");  // upstream's address of its debug page
  CHECK(web.status == 200);
  CHECK(web.body.find("<svg id=\"traffic\"") != std::string::npos);
  auto status = f.Get("/debug/status");
  CHECK(status.Header("Content-Type") == "application/json");
  CHECK(status.body.find("\"ready\":true") != std::string::npos);
  CHECK(status.body.find("\"holds\":{\"images\":1,\"blobs\":4,") != std::string::npos);
  CHECK(status.body.find("\"clustered\":false") != std::string::npos);
  CHECK(status.body.find("\"startup_check\":[\"passed\"]") != std::string::npos);

  CHECK(f.Get("/readyz").status == 200);
  CHECK(f.Get("/livez").status == 200);
  auto idx = f.Get("/debug/index");
  CHECK(idx.Header("Content-Type") == "application/json");
  CHECK(idx.body.find("\"ready\":true") != std::string::npos);
  CHECK(idx.body.find("docker.io/library/app:v1") != std::string::npos);
  CHECK(f.Get("/debug/members").body.find("\"registry_addr\":\"127.0.0.1:5000\"") !=
        std::string::npos);
  CHECK(f.Get("/debug/routing").body ==
        "{\"peers\":[],\"advertised\":{\"tags\":1,\"image_digests\":1,\"content_digests\":4}}\n");

  CHECK(f.Get("/nope").status == 404);
  CHECK(f.Get("/metrics", "POST").status == 405);
}

TEST_CASE("metrics handler: --debug-web-enabled=false hides the page, not the JSON") {
  Fixture f;
  f.board = std::make_unique<StatusBoard>(&f.loop, &f.index, f.syncer.get(), nullptr, nullptr,
                                          NodeInfo{"1.2.3", "127.0.0.1:5000", false, {}});
  f.handler = std::make_unique<MetricsHandler>(&f.registry, f.board.get(), &f.index,
                                               f.syncer.get());
  CHECK(f.Get("/").status == 404);
  CHECK(f.Get("/debug/web/").status == 404);
  CHECK(f.Get("/debug/status").status == 200);
}

// A cluster whose /debug/routing answers wait until the test gives them.
class HeldClusterView : public cluster::ClusterView {
 public:
  const std::string& self_id() const override { return id_; }
  std::vector<cluster::MemberView> Members() const override { return {}; }
  uint64_t node_id_collisions() const override { return 0; }
  uint64_t node_id_renames() const override { return 0; }
  uint64_t foreign_refused() const override { return 0; }
  cluster::MembershipEvents membership_events() const override { return {}; }
  std::vector<std::pair<std::string, std::string>> OwnedClaims(size_t) const override { return {}; }
  std::string MembersJson() const override { return "{}"; }
  void RoutingJson(const std::string&, uint64_t, std::function<void(std::string)> done) override {
    pending.push_back(std::move(done));
  }
  std::vector<std::function<void(std::string)>> pending;

 private:
  std::string id_ = "self";
};

TEST_CASE("metrics handler: a routing answer after the client went away is dropped") {
  Fixture f;
  HeldClusterView view;
  StatusBoard board(&f.loop, &f.index, f.syncer.get(), nullptr, &view,
                    NodeInfo{"1.2.3", "127.0.0.1:5000", true, {"passed"}});
  MetricsHandler handler(&f.registry, &board, &f.index, f.syncer.get());
  http::Request request = Parse("GET /debug/routing?key=k HTTP/1.1\r\nHost: x\r\n\r\n");
  testing::FakeWriter stays;
  testing::FakeWriter gone;
  handler.Handle(request, stays);
  handler.Handle(request, gone);
  REQUIRE(view.pending.size() == 2);
  CHECK(stays.calls == 0);
  gone.ClientGone();
  view.pending[0]("{\"answer\":1}");
  view.pending[1]("{\"answer\":2}");
  CHECK(stays.calls == 1);
  CHECK(stays.body == "{\"answer\":1}");
  CHECK(gone.calls == 0);
}

}  // namespace
}  // namespace spegel::metrics
