#include "metrics/spegel_metrics.h"

#include <doctest/doctest.h>

namespace spegel::metrics {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

index::ImageWalk Walk(const std::string& name, const std::string& tag_key,
                      std::vector<std::string> digests) {
  std::vector<std::pair<oci::Digest, index::BlobInfo>> blobs;
  for (const auto& d : digests) blobs.push_back({*oci::Digest::Parse(d), index::BlobInfo{}});
  std::optional<std::string> tag;
  if (!tag_key.empty()) tag = tag_key;
  return index::ImageWalk{name, *oci::Digest::Parse(digests[0]), tag, std::move(blobs), {}};
}

std::string D(char c) { return "sha256:" + std::string(64, c); }

TEST_CASE("spegel metrics: registry label from untrusted ns") {
  CHECK(SpegelMetrics::RegistryLabel("docker.io") == "docker.io");
  CHECK(SpegelMetrics::RegistryLabel("127.0.0.1:5000") == "127.0.0.1:5000");
  CHECK(SpegelMetrics::RegistryLabel("[::1]:5000") == "[::1]:5000");
  CHECK(SpegelMetrics::RegistryLabel("") == "none");
  CHECK(SpegelMetrics::RegistryLabel("a\"b") == "invalid");
  CHECK(SpegelMetrics::RegistryLabel("\xff\xfe") == "invalid");
  CHECK(SpegelMetrics::RegistryLabel(std::string(300, 'a')) == "invalid");
}

TEST_CASE("spegel metrics: image registry from a containerd image name") {
  CHECK(SpegelMetrics::ImageRegistry("docker.io/library/nginx:1") == "docker.io");
  CHECK(SpegelMetrics::ImageRegistry("127.0.0.1:5000/it/a:v1") == "127.0.0.1:5000");
  CHECK(SpegelMetrics::ImageRegistry("localhost/a:v1") == "localhost");
  CHECK(SpegelMetrics::ImageRegistry("library/nginx:1") == "docker.io");
  CHECK(SpegelMetrics::ImageRegistry("nginx") == "docker.io");
}

TEST_CASE("spegel metrics: an answer proxied from a peer is counted once, as the peer's") {
  Registry r;
  SpegelMetrics m(&r);
  m.RegistryRequestDone({"docker.io", "blob", "GET", 200, false, 700, true});
  m.RegistryRequestDone({"docker.io", "blob", "GET", 200, false, 300, false});
  CHECK(m.local_hits() == 1);
  CHECK(m.local_misses() == 1);
  CHECK(m.local_bytes() == 300);
  const std::string text = r.Expose();
  CHECK(Has(text, "spegel_served_bytes_total{source=\"local\"} 300"));
  CHECK(Has(text, "spegel_mirror_requests_total{registry=\"docker.io\",cache=\"hit\"} 1"));
  CHECK(Has(text, "spegel_lookups_total{kind=\"blob\",result=\"hit\"} 1"));
  CHECK(Has(text, "spegel_lookups_total{kind=\"blob\",result=\"miss\"} 1"));
  CHECK(Has(text,
            "spegel_registry_requests_total{registry=\"docker.io\",kind=\"blob\","
            "method=\"GET\",code=\"200\",cache=\"miss\"} 1"));
}

TEST_CASE("spegel metrics: registry requests count hits, misses, bytes and mirror misses") {
  Registry r;
  SpegelMetrics m(&r);
  m.RegistryRequestDone({"docker.io", "blob", "GET", 200, false, 1000});
  m.RegistryRequestDone({"docker.io", "blob", "GET", 206, false, 10});
  m.RegistryRequestDone({"docker.io", "manifest", "HEAD", 200, false, 0});
  m.RegistryRequestDone({"docker.io", "manifest", "GET", 404, false, 80});
  m.RegistryRequestDone({"docker.io", "blob", "GET", 404, true, 80});  // from a peer
  m.RegistryRequestDone({"", "version", "GET", 200, false, 2});
  m.RegistryRequestDone({"docker.io", "blob", "GET", 400, false, 50});
  CHECK(m.requests_served() == 7);
  CHECK(m.local_hits() == 3);
  CHECK(m.local_misses() == 2);
  CHECK(m.local_bytes() == 1010);
  const std::string text = r.Expose();
  CHECK(Has(text, "spegel_mirror_requests_total{registry=\"docker.io\",cache=\"miss\"} 1"));
  CHECK(Has(text, "spegel_served_bytes_total{source=\"local\"} 1010"));
  CHECK(Has(text, "spegel_served_bytes_total{source=\"peer\"} 0"));
  CHECK(Has(text, "spegel_lookups_total{kind=\"blob\",result=\"hit\"} 2"));
  CHECK(Has(text, "spegel_lookups_total{kind=\"blob\",result=\"miss\"} 1"));
  CHECK(Has(text, "spegel_lookups_total{kind=\"manifest\",result=\"miss\"} 1"));
  CHECK(Has(text,
            "spegel_registry_requests_total{registry=\"docker.io\",kind=\"blob\","
            "method=\"GET\",code=\"200\",cache=\"hit\"} 1"));
  CHECK(Has(text,
            "spegel_registry_requests_total{registry=\"docker.io\",kind=\"blob\","
            "method=\"GET\",code=\"400\",cache=\"none\"} 1"));
  CHECK(Has(text,
            "spegel_registry_requests_total{registry=\"none\",kind=\"version\","
            "method=\"GET\",code=\"200\",cache=\"none\"} 1"));
  CHECK(Has(text, "spegel_members 1"));
  CHECK(Has(text, "spegel_mirror_last_success_timestamp_seconds 0"));
}

TEST_CASE("spegel metrics: the cluster's members and peer fetches are read at every scrape") {
  Registry r;
  SpegelMetrics m(&r);
  size_t members = 2;
  registry::PeerFetchStats stats;
  m.WatchCluster([&members] { return members; }, &stats);
  std::string text = r.Expose();
  CHECK(Has(text, "spegel_members 3"));
  CHECK(Has(text, "spegel_peer_fetches_total{result=\"served\"} 0"));
  CHECK(Has(text, "spegel_peer_fetch_events_total{event=\"hedge\"} 0"));
  stats.served = 4;
  stats.not_found = 2;
  stats.failed = 1;
  stats.hedges = 3;
  stats.resumes = 1;
  stats.digest_mismatches = 1;
  stats.peer_bytes = 4096;
  stats.last_success_unix_seconds = 1700000000;
  members = 0;
  text = r.Expose();
  CHECK(Has(text, "spegel_members 1"));
  CHECK(Has(text, "spegel_peer_fetches_total{result=\"served\"} 4"));
  CHECK(Has(text, "spegel_peer_fetches_total{result=\"not_found\"} 2"));
  CHECK(Has(text, "spegel_peer_fetches_total{result=\"failed\"} 1"));
  CHECK(Has(text, "spegel_peer_fetch_events_total{event=\"hedge\"} 3"));
  CHECK(Has(text, "spegel_peer_fetch_events_total{event=\"resume\"} 1"));
  CHECK(Has(text, "spegel_peer_fetch_events_total{event=\"digest_mismatch\"} 1"));
  CHECK(Has(text, "spegel_served_bytes_total{source=\"peer\"} 4096"));
  CHECK(Has(text, "spegel_mirror_last_success_timestamp_seconds 1700000000"));
}

TEST_CASE("spegel metrics: http metrics use upstream's names and buckets") {
  Registry r;
  SpegelMetrics m(&r);
  m.HttpStarted("/v2/*");
  m.HttpStarted("/v2/*");
  m.HttpFinished("/v2/*", "GET", 200, 0.003, 2000);
  const std::string text = r.Expose();
  CHECK(Has(text, "http_requests_inflight{handler=\"/v2/*\"} 1"));
  CHECK(Has(text,
            "http_request_duration_seconds_bucket{handler=\"/v2/*\",method=\"GET\","
            "code=\"200\",le=\"0.005\"} 1"));
  CHECK(Has(text,
            "http_response_size_bytes_bucket{handler=\"/v2/*\",method=\"GET\","
            "code=\"200\",le=\"1024\"} 0"));
  CHECK(Has(text,
            "http_response_size_bytes_bucket{handler=\"/v2/*\",method=\"GET\","
            "code=\"200\",le=\"5120\"} 1"));
  CHECK(Has(text,
            "http_response_size_bytes_bucket{handler=\"/v2/*\",method=\"GET\","
            "code=\"200\",le=\"2000000000\"} 1"));
  CHECK(Has(text,
            "http_response_size_bytes_count{handler=\"/v2/*\",method=\"GET\","
            "code=\"200\"} 1"));
}

TEST_CASE("spegel metrics: advertised gauges follow the index as images come and go") {
  Registry r;
  SpegelMetrics m(&r);
  index::Index idx;
  m.WatchState(&idx, nullptr);
  idx.PutImage(Walk("docker.io/library/a:1", "docker.io/library/a:1", {D('a'), D('b'), D('c')}));
  idx.PutImage(Walk("docker.io/library/a@" + D('a'), "", {D('a'), D('b'), D('c')}));
  idx.PutImage(Walk("example.test/b:2", "example.test/b:2", {D('d'), D('b')}));
  std::string text = r.Expose();
  CHECK(Has(text, "spegel_advertised_image_tags{registry=\"docker.io\"} 1"));
  CHECK(Has(text, "spegel_advertised_image_digests{registry=\"docker.io\"} 1"));
  CHECK(Has(text, "spegel_advertised_content_digests{registry=\"docker.io\"} 3"));
  CHECK(Has(text, "spegel_advertised_image_tags{registry=\"example.test\"} 1"));
  CHECK(Has(text, "spegel_advertised_content_digests{registry=\"example.test\"} 2"));
  CHECK(Has(text, "spegel_index_images 3"));
  CHECK(Has(text, "spegel_index_blobs 4"));
  CHECK(Has(text, "spegel_index_tags 2"));

  idx.RemoveImage("example.test/b:2");
  text = r.Expose();
  CHECK(text.find("registry=\"example.test\"") == std::string::npos);
  CHECK(Has(text, "spegel_index_blobs 3"));
  CHECK(Has(text, "spegel_advertised_content_digests{registry=\"docker.io\"} 3"));
}

}  // namespace
}  // namespace spegel::metrics
