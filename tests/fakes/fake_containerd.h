// FakeContainerd: an in-memory ContainerdClient for unit tests.
//
// Holds images and blobs; Subscribe() blocks on an event queue the test feeds with Emit(), and
// BreakStream() ends the current subscription with Unavailable (as a containerd restart does).
// SetAvailable(false) makes every call fail with Unavailable. Thread-safe: the code under test
// calls it from its worker threads while the test mutates it.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "containerd/client.h"
#include "oci/digest.h"
#include "oci/sha256.h"

namespace spegel::testing {

class FakeContainerd : public containerd::ContainerdClient {
 public:
  // Stores a blob and returns its digest.
  std::string AddBlob(const std::string& bytes) {
    const std::string digest = "sha256:" + oci::Sha256::HashHex(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    blobs_[digest] = bytes;
    return digest;
  }
  void RemoveBlob(const std::string& digest) {
    std::lock_guard<std::mutex> lock(mu_);
    blobs_.erase(digest);
  }
  void AddImage(const std::string& name, const std::string& media_type, const std::string& digest) {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t size = blobs_.count(digest) ? static_cast<int64_t>(blobs_[digest].size()) : 0;
    images_[name] = containerd::ImageRecord{name, {media_type, digest, size}, {}};
  }
  void RemoveImage(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    images_.erase(name);
  }
  void Emit(containerd::EventKind kind, const std::string& name_or_digest) {
    containerd::Event e{kind, "", "", ""};
    if (kind == containerd::EventKind::kContentCreate ||
        kind == containerd::EventKind::kContentDelete) {
      e.digest = name_or_digest;
    } else {
      e.image_name = name_or_digest;
    }
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e);
    cv_.notify_all();
  }
  void BreakStream() {
    std::lock_guard<std::mutex> lock(mu_);
    ++breaks_;
    cv_.notify_all();
  }
  void SetAvailable(bool available) {
    std::lock_guard<std::mutex> lock(mu_);
    available_ = available;
    ++breaks_;
    cv_.notify_all();
  }
  int subscribe_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return subscribe_calls_;
  }

  Result<containerd::VersionInfo> Version() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!available_) return Unavailable();
    return containerd::VersionInfo{"fake-1.0", "0"};
  }
  Result<std::vector<containerd::ImageRecord>> ListImages() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!available_) return Unavailable();
    std::vector<containerd::ImageRecord> out;
    for (const auto& [name, record] : images_) out.push_back(record);
    return out;
  }
  Result<containerd::ImageRecord> GetImage(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!available_) return Unavailable();
    auto it = images_.find(name);
    if (it == images_.end()) return Status::NotFound("image " + name);
    return it->second;
  }
  Result<std::vector<containerd::ContentInfo>> ListContent() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!available_) return Unavailable();
    std::vector<containerd::ContentInfo> out;
    for (const auto& [digest, bytes] : blobs_) {
      out.push_back({digest, static_cast<int64_t>(bytes.size()), {}});
    }
    return out;
  }
  Result<containerd::ContentInfo> Info(const std::string& digest) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!available_) return Unavailable();
    auto it = blobs_.find(digest);
    if (it == blobs_.end()) return Status::NotFound("content " + digest);
    return containerd::ContentInfo{digest, static_cast<int64_t>(it->second.size()), {}};
  }
  Status Read(const std::string& digest, int64_t offset, int64_t length,
              const std::function<bool(std::string_view)>& sink) override {
    std::string bytes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!available_) return Unavailable();
      auto it = blobs_.find(digest);
      if (it == blobs_.end()) return Status::NotFound("content " + digest);
      bytes = it->second;
    }
    if (offset > static_cast<int64_t>(bytes.size())) return Status::InvalidArgument("offset");
    std::string_view view(bytes);
    view = view.substr(static_cast<size_t>(offset),
                       length < 0 ? std::string_view::npos : static_cast<size_t>(length));
    // Two chunks, to exercise reassembly.
    const size_t half = view.size() / 2;
    if (!sink(view.substr(0, half))) return Status::Cancelled("sink stopped");
    if (!sink(view.substr(half))) return Status::Cancelled("sink stopped");
    return Status::Ok();
  }
  Result<std::string> ContentRoot() override { return Status::NotFound("fake has no root"); }

  Status Subscribe(const std::function<void()>& on_subscribed,
                   const std::function<void(const containerd::Event&)>& on_event) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++subscribe_calls_;
    if (cancelled_) return Status::Cancelled("cancelled");
    if (!available_) return Unavailable();
    const int breaks_at_start = breaks_;
    lock.unlock();
    on_subscribed();
    lock.lock();
    for (;;) {
      cv_.wait(lock, [&] { return cancelled_ || breaks_ != breaks_at_start || !events_.empty(); });
      if (cancelled_) return Status::Cancelled("cancelled");
      if (breaks_ != breaks_at_start) return Status::Unavailable("stream broken");
      containerd::Event e = events_.front();
      events_.pop_front();
      lock.unlock();
      on_event(e);
      lock.lock();
    }
  }
  void CancelSubscribe() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  static Status Unavailable() { return Status::Unavailable("fake containerd is down"); }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> blobs_;
  std::map<std::string, containerd::ImageRecord> images_;
  std::deque<containerd::Event> events_;
  bool available_ = true;
  bool cancelled_ = false;
  int breaks_ = 0;
  int subscribe_calls_ = 0;
};

// Builds manifest JSON for tests.
struct TestImage {
  std::string config, manifest, manifest_digest, config_digest;
  std::vector<std::string> layer_digests;
};

inline std::string DescriptorJson(const std::string& media_type, const std::string& digest,
                                  size_t size) {
  return "{\"mediaType\":\"" + media_type + "\",\"digest\":\"" + digest +
         "\",\"size\":" + std::to_string(size) + "}";
}

// Adds config + layers + an OCI (or Docker) manifest to `fake`; layers whose index is in
// `skip_layers` are not stored (absent content).
inline TestImage AddTestManifest(FakeContainerd* fake, const std::string& seed, int layers,
                                 bool docker = false, int skip_layer = -1) {
  TestImage t;
  t.config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"seed\":\"" + seed + "\"}";
  t.config_digest = fake->AddBlob(t.config);
  std::string layer_json;
  for (int i = 0; i < layers; ++i) {
    const std::string bytes = "layer-" + seed + "-" + std::to_string(i);
    const std::string digest = "sha256:" + oci::Sha256::HashHex(bytes);
    if (i != skip_layer) fake->AddBlob(bytes);
    t.layer_digests.push_back(digest);
    if (i) layer_json += ",";
    layer_json += DescriptorJson(docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
                                        : "application/vnd.oci.image.layer.v1.tar+gzip",
                                 digest, bytes.size());
  }
  const std::string mt = docker ? "application/vnd.docker.distribution.manifest.v2+json"
                                : "application/vnd.oci.image.manifest.v1+json";
  const std::string config_mt = docker ? "application/vnd.docker.container.image.v1+json"
                                       : "application/vnd.oci.image.config.v1+json";
  t.manifest = "{\"schemaVersion\":2,\"mediaType\":\"" + mt +
               "\",\"config\":" + DescriptorJson(config_mt, t.config_digest, t.config.size()) +
               ",\"layers\":[" + layer_json + "]}";
  t.manifest_digest = fake->AddBlob(t.manifest);
  return t;
}

}  // namespace spegel::testing
