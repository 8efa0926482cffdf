// ContainerdClient: the only way Spegel reaches containerd.
//
// Production: GrpcContainerdClient (grpc_client.h) over containerd's Unix socket. Unit tests use a
// fake. Every method blocks, has its own deadline, and is safe to call from several threads at
// once, but never from the loop thread: callers run them on a worker thread and hand the result
// to the loop with Loop::Post(). Values come straight from containerd and are not validated here
// (digest strings, names, media types): the index validates what it keeps.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace spegel::containerd {

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
};

struct ImageRecord {
  std::string name;  // As stored: "docker.io/library/nginx:1.27", "sha256:<id>", "repo@sha256:…".
  Descriptor target;
  std::map<std::string, std::string> labels;
};

struct ContentInfo {
  std::string digest;
  int64_t size = 0;
  std::map<std::string, std::string> labels;
};

enum class EventKind { kImageCreate, kImageUpdate, kImageDelete, kContentCreate, kContentDelete };

struct Event {
  EventKind kind;
  std::string topic;       // e.g. "/images/create"
  std::string image_name;  // image events
  std::string digest;      // content events
};

struct VersionInfo {
  std::string version;  // e.g. "1.6.20~ds1"
  std::string revision;
};

class ContainerdClient {
 public:
  virtual ~ContainerdClient() = default;

  virtual Result<VersionInfo> Version() = 0;
  // Every image record in the client's namespace.
  virtual Result<std::vector<ImageRecord>> ListImages() = 0;
  // NotFound if no image has that name.
  virtual Result<ImageRecord> GetImage(const std::string& name) = 0;
  // Every committed blob in the content store (one streaming call).
  virtual Result<std::vector<ContentInfo>> ListContent() = 0;
  // NotFound if the blob is absent.
  virtual Result<ContentInfo> Info(const std::string& digest) = 0;
  // Streams [offset, offset + length) of a blob through Content.Read; length < 0 reads to the end.
  // `sink` runs on the calling thread for each chunk in order; returning false stops the read
  // (the call then returns Cancelled). NotFound if the blob is absent.
  virtual Status Read(const std::string& digest, int64_t offset, int64_t length,
                      const std::function<bool(std::string_view chunk)>& sink) = 0;
  // The content store's root directory from Introspection.Plugins (type io.containerd.content.v1,
  // id "content", export "root"). NotFound if containerd does not export it.
  virtual Result<std::string> ContentRoot() = 0;

  // Subscribes to /images/create|update|delete and /content/create|delete in the client's
  // namespace and blocks, calling `on_event` on this thread for each event in order, until the
  // stream breaks (returns the error; e.g. Unavailable when containerd stops) or
  // CancelSubscribe() is called (returns Cancelled). `on_subscribed` runs once, as soon as
  // containerd has accepted the subscription, before any event: events after that point are
  // never missed. At most one Subscribe() may be active at a time.
  virtual Status Subscribe(const std::function<void()>& on_subscribed,
                           const std::function<void(const Event&)>& on_event) = 0;
  // Thread-safe. Ends an active Subscribe() (and makes the next one return at once if it is
  // called before Subscribe() starts, so shutdown cannot race a reconnect).
  virtual void CancelSubscribe() = 0;
};

}  // namespace spegel::containerd
