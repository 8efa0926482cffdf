// GrpcContainerdClient: the production ContainerdClient, speaking containerd's gRPC API over its
// Unix socket (services Images, Content, Events, Introspection, Version).
//
// Every call carries the `containerd-namespace` metadata. Unary calls have a deadline of
// `call_timeout`; streaming reads (ListContent, Read) have an idle timeout instead: each message,
// and the start and end of the stream, must arrive within `call_timeout`, however long the whole
// stream takes. Subscribe has no deadline.
//
// Thread-safety: as ContainerdClient says, every method may be called from several threads at
// once (at most one Subscribe at a time); CancelSubscribe() may be called from any thread,
// including from inside the `on_event` callback. The channel is created in the constructor and
// connects lazily, so construction never blocks and never fails on a missing socket: calls return
// Unavailable until containerd is there.
//
// The header pulls in no gRPC code (pimpl), so users of the interface compile quickly.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "containerd/client.h"

namespace spegel::containerd {

struct GrpcClientOptions {
  // containerd's gRPC socket, e.g. "/run/containerd/containerd.sock". Required.
  std::string socket_path;
  // containerd namespace of every call and of the event subscription. Default: "k8s.io", where
  // the CRI plugin (the kubelet) keeps images.
  std::string ns = "k8s.io";
  // Deadline of unary calls; idle timeout of streaming reads. Default: 10 s.
  std::chrono::milliseconds call_timeout{10'000};
};

class GrpcContainerdClient final : public ContainerdClient {
 public:
  using Options = GrpcClientOptions;

  explicit GrpcContainerdClient(Options options);
  ~GrpcContainerdClient() override;
  GrpcContainerdClient(const GrpcContainerdClient&) = delete;
  GrpcContainerdClient& operator=(const GrpcContainerdClient&) = delete;

  Result<VersionInfo> Version() override;
  Result<std::vector<ImageRecord>> ListImages() override;
  Result<ImageRecord> GetImage(const std::string& name) override;
  Result<std::vector<ContentInfo>> ListContent() override;
  Result<ContentInfo> Info(const std::string& digest) override;
  // Content.Read with offset/size. Returns DataLoss if the stream ends before `length` bytes
  // (the blob is shorter than offset + length) and InvalidArgument if `offset` is past its end.
  // length == 0 only checks that the blob exists.
  Status Read(const std::string& digest, int64_t offset, int64_t length,
              const std::function<bool(std::string_view chunk)>& sink) override;
  Result<std::string> ContentRoot() override;

  // Filters (ORed, each also restricted to the client's namespace): topic=="/images/create",
  // "/images/update", "/images/delete", "/content/create" (containerd >= 2.1 only) and
  // "/content/delete". Events are decoded by the Envelope's type_url (with or without the
  // "type.googleapis.com/" prefix, which containerd omits); unknown or undecodable events are
  // skipped. A stream the server ends without an error returns Unavailable.
  //
  // `on_subscribed` runs as soon as the call has been started on a connected channel (containerd
  // sends no response headers before the first event, so there is nothing else to wait for). If
  // the call fails before that, e.g. containerd is down, Subscribe returns the error without
  // calling it. containerd registers the subscription when it has read the request, a moment
  // after this point; callers resync after `on_subscribed` and periodically anyway.
  Status Subscribe(const std::function<void()>& on_subscribed,
                   const std::function<void(const Event&)>& on_event) override;
  // Final: once called, this and every later Subscribe() returns Cancelled.
  void CancelSubscribe() override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Returns a GrpcContainerdClient, or InvalidArgument if the socket path or namespace is empty or
// the timeout is not positive.
Result<std::unique_ptr<ContainerdClient>> NewGrpcContainerdClient(GrpcClientOptions options);

}  // namespace spegel::containerd
