#include "containerd/grpc_client.h"

#include <grpcpp/grpcpp.h>

#include <mutex>
#include <optional>
#include <utility>

#include "base/log.h"
#include "containerd/grpc_util.h"
#include "containerd_content.grpc.pb.h"
#include "containerd_events.grpc.pb.h"
#include "containerd_events_content.pb.h"
#include "containerd_events_image.pb.h"
#include "containerd_images.grpc.pb.h"
#include "containerd_introspection.grpc.pb.h"
#include "containerd_version.grpc.pb.h"

namespace spegel::containerd {

namespace content_v1 = ::containerd::services::content::v1;
namespace events_v1 = ::containerd::services::events::v1;
namespace images_v1 = ::containerd::services::images::v1;
namespace introspection_v1 = ::containerd::services::introspection::v1;
namespace version_v1 = ::containerd::services::version::v1;

namespace {

using Duration = std::chrono::milliseconds;

// The topics Subscribe() asks for, in filter order.
constexpr std::string_view kTopics[] = {"/images/create", "/images/update", "/images/delete",
                                        "/content/create", "/content/delete"};

// A double-quoted string in containerd's filter syntax (strconv.Unquote rules).
std::string FilterQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

Descriptor FromProto(const ::containerd::types::Descriptor& d) {
  return Descriptor{d.media_type(), d.digest(), d.size()};
}

ImageRecord FromProto(const images_v1::Image& image) {
  ImageRecord record;
  record.name = image.name();
  record.target = FromProto(image.target());
  record.labels.insert(image.labels().begin(), image.labels().end());
  return record;
}

ContentInfo FromProto(const content_v1::Info& info) {
  ContentInfo out;
  out.digest = info.digest();
  out.size = info.size();
  out.labels.insert(info.labels().begin(), info.labels().end());
  return out;
}

// Decodes an Envelope into an Event; nullopt for event types Spegel does not use.
// containerd's type_url is the bare message name ("containerd.services.images.v1.ImageCreate");
// anything up to the last '/' (e.g. "type.googleapis.com/") is ignored.
std::optional<Event> DecodeEvent(const events_v1::Envelope& envelope) {
  std::string_view type = envelope.event().type_url();
  if (size_t slash = type.rfind('/'); slash != std::string_view::npos)
    type.remove_prefix(slash + 1);
  const std::string& value = envelope.event().value();

  Event event;
  event.topic = envelope.topic();
  bool parsed = false;
  if (type == "containerd.services.images.v1.ImageCreate") {
    images_v1::ImageCreate m;
    parsed = m.ParseFromString(value);
    event.kind = EventKind::kImageCreate;
    event.image_name = m.name();
  } else if (type == "containerd.services.images.v1.ImageUpdate") {
    images_v1::ImageUpdate m;
    parsed = m.ParseFromString(value);
    event.kind = EventKind::kImageUpdate;
    event.image_name = m.name();
  } else if (type == "containerd.services.images.v1.ImageDelete") {
    images_v1::ImageDelete m;
    parsed = m.ParseFromString(value);
    event.kind = EventKind::kImageDelete;
    event.image_name = m.name();
  } else if (type == "containerd.events.ContentCreate") {
    ::containerd::events::ContentCreate m;
    parsed = m.ParseFromString(value);
    event.kind = EventKind::kContentCreate;
    event.digest = m.digest();
  } else if (type == "containerd.events.ContentDelete") {
    ::containerd::events::ContentDelete m;
    parsed = m.ParseFromString(value);
    event.kind = EventKind::kContentDelete;
    event.digest = m.digest();
  } else {
    LOG_DEBUG("containerd event skipped").Str("topic", envelope.topic()).Str("type", type);
    return std::nullopt;
  }
  if (!parsed) {
    LOG_WARN("containerd event undecodable, skipped")
        .Str("topic", envelope.topic())
        .Str("type", type);
    return std::nullopt;
  }
  return event;
}

// One server-streaming call driven on its own completion queue, with one operation in flight at a
// time. Each wait is bounded by a timeout (when given): on expiry the call is cancelled and the
// pending operation then completes promptly with ok == false. Usage: Start(), Read() until false,
// then always Finish() (also after a failed Start()).
template <typename Response>
class ServerStream {
 public:
  explicit ServerStream(grpc::ClientContext* context) : context_(context) {}
  ~ServerStream() {
    // Every operation has completed (Finish() was called); drain the queue before it goes.
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }
  ServerStream(const ServerStream&) = delete;
  ServerStream& operator=(const ServerStream&) = delete;

  grpc::CompletionQueue* cq() { return &cq_; }

  // `reader` comes from Stub::PrepareAsync<Method>(context, request, cq()).
  bool Start(std::unique_ptr<grpc::ClientAsyncReader<Response>> reader,
             std::optional<Duration> timeout) {
    reader_ = std::move(reader);
    reader_->StartCall(this);
    return Wait(timeout);
  }
  bool Read(Response* message, std::optional<Duration> timeout) {
    reader_->Read(message, this);
    return Wait(timeout);
  }
  grpc::Status Finish(std::optional<Duration> timeout) {
    grpc::Status status;
    reader_->Finish(&status, this);
    Wait(timeout);
    return status;
  }
  // True once a wait timed out (the call was then cancelled).
  bool timed_out() const { return timed_out_; }

 private:
  bool Wait(std::optional<Duration> timeout) {
    void* tag;
    bool ok = false;
    if (timeout && !timed_out_) {
      auto deadline = std::chrono::system_clock::now() + *timeout;
      if (cq_.AsyncNext(&tag, &ok, deadline) == grpc::CompletionQueue::GOT_EVENT) return ok;
      timed_out_ = true;
      context_->TryCancel();
    }
    return cq_.Next(&tag, &ok) && ok;
  }

  grpc::ClientContext* context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::ClientAsyncReader<Response>> reader_;
  bool timed_out_ = false;
};

}  // namespace

class GrpcContainerdClient::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)),
        channel_(NewUnixChannel(options_.socket_path)),
        content_(content_v1::Content::NewStub(channel_)),
        events_(events_v1::Events::NewStub(channel_)),
        images_(images_v1::Images::NewStub(channel_)),
        introspection_(introspection_v1::Introspection::NewStub(channel_)),
        version_(version_v1::Version::NewStub(channel_)) {}

  Result<VersionInfo> Version() {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, options_.ns, options_.call_timeout);
    version_v1::VersionResponse response;
    grpc::Status s = version_->Version(&ctx, google::protobuf::Empty(), &response);
    if (!s.ok()) return FromGrpcStatus(s, "Version.Version");
    return VersionInfo{response.version(), response.revision()};
  }

  Result<std::vector<ImageRecord>> ListImages() {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, options_.ns, options_.call_timeout);
    images_v1::ListImagesResponse response;
    grpc::Status s = images_->List(&ctx, images_v1::ListImagesRequest(), &response);
    if (!s.ok()) return FromGrpcStatus(s, "Images.List");
    std::vector<ImageRecord> out;
    out.reserve(response.images_size());
    for (const auto& image : response.images()) out.push_back(FromProto(image));
    return out;
  }

  Result<ImageRecord> GetImage(const std::string& name) {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, options_.ns, options_.call_timeout);
    images_v1::GetImageRequest request;
    request.set_name(name);
    images_v1::GetImageResponse response;
    grpc::Status s = images_->Get(&ctx, request, &response);
    if (!s.ok()) return FromGrpcStatus(s, "Images.Get");
    if (!response.has_image()) return Status::NotFound("Images.Get: image " + name + " not found");
    return FromProto(response.image());
  }

  Result<std::vector<ContentInfo>> ListContent() {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, options_.ns, Duration::zero());
    ServerStream<content_v1::ListContentResponse> stream(&ctx);
    std::vector<ContentInfo> out;
    if (stream.Start(content_->PrepareAsyncList(&ctx, content_v1::ListContentRequest(),
                                                stream.cq()),
                     options_.call_timeout)) {
      content_v1::ListContentResponse response;
      while (stream.Read(&response, options_.call_timeout)) {
        for (const auto& info : response.info()) out.push_back(FromProto(info));
      }
    }
    grpc::Status s = stream.Finish(options_.call_timeout);
    if (stream.timed_out()) return IdleTimeout("Content.List");
    if (!s.ok()) return FromGrpcStatus(s, "Content.List");
    return out;
  }

  Result<ContentInfo> Info(const std::string& digest) {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, options_.ns, options_.call_timeout);
    content_v1::InfoRequest request;
    request.set_digest(digest);
    content_v1::InfoResponse response;
    grpc::Status s = content_->Info(&ctx, request, &response);
    if (!s.ok()) return FromGrpcStatus(s, "Content.Info");
    return FromProto(response.info());
  }

  Status Read(const std::string& digest, int64_t offset, int64_t length,
              const std::function<bool(std::string_view chunk)>& sink) {
    if (offset < 0) return Status::InvalidArgument("Content.Read: negative offset");
    // containerd reads to the end when size is 0, so a zero-length read only checks existence.
    if (length == 0) return Info(digest).status();

    grpc::ClientContext ctx;
    PrepareContext(&ctx, options_.ns, Duration::zero());
    content_v1::ReadContentRequest request;
    request.set_digest(digest);
    request.set_offset(offset);
    request.set_size(length > 0 ? length : 0);

    ServerStream<content_v1::ReadContentResponse> stream(&ctx);
    int64_t received = 0;
    bool stopped = false;
    bool misordered = false;
    if (stream.Start(content_->PrepareAsyncRead(&ctx, request, stream.cq()),
                     options_.call_timeout)) {
      content_v1::ReadContentResponse response;
      while (stream.Read(&response, options_.call_timeout)) {
        if (stopped || misordered) continue;  // Cancelled: drain what is already in flight.
        // containerd 1.6 numbers chunks from 0 relative to the requested offset; accept absolute
        // offsets too. Anything else would corrupt the byte stream.
        if (response.offset() != received && response.offset() != offset + received) {
          misordered = true;
          ctx.TryCancel();
          continue;
        }
        received += static_cast<int64_t>(response.data().size());
        if (!sink(response.data())) {
          stopped = true;
          ctx.TryCancel();
        }
      }
    }
    grpc::Status s = stream.Finish(options_.call_timeout);
    if (stopped) return Status::Cancelled("Content.Read: stopped by the reader");
    if (misordered) return Status::DataLoss("Content.Read: chunk out of order for " + digest);
    if (stream.timed_out()) return IdleTimeout("Content.Read");
    if (!s.ok()) return FromGrpcStatus(s, "Content.Read");
    if (length > 0 && received < length) {
      return Status::DataLoss("Content.Read: " + digest + " ended after " +
                              std::to_string(received) + " of " + std::to_string(length) +
                              " bytes");
    }
    return Status::Ok();
  }

  Result<std::string> ContentRoot() {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, options_.ns, options_.call_timeout);
    introspection_v1::PluginsRequest request;
    request.add_filters("type==" + FilterQuote("io.containerd.content.v1"));
    introspection_v1::PluginsResponse response;
    grpc::Status s = introspection_->Plugins(&ctx, request, &response);
    if (!s.ok()) return FromGrpcStatus(s, "Introspection.Plugins");
    for (const auto& plugin : response.plugins()) {
      if (plugin.type() != "io.containerd.content.v1" || plugin.id() != "content") continue;
      auto it = plugin.exports().find("root");
      if (it != plugin.exports().end() && !it->second.empty()) return it->second;
    }
    return Status::NotFound("Introspection.Plugins: content plugin exports no root");
  }

  Status Subscribe(const std::function<void()>& on_subscribed,
                   const std::function<void(const Event&)>& on_event) {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, options_.ns, Duration::zero());
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return Status::Cancelled("Events.Subscribe: cancelled");
      if (subscription_ != nullptr) {
        return Status::FailedPrecondition("Events.Subscribe: another subscription is active");
      }
      subscription_ = &ctx;
    }
    Status result = RunSubscription(&ctx, on_subscribed, on_event);
    std::lock_guard lock(mu_);
    subscription_ = nullptr;
    if (cancelled_) return Status::Cancelled("Events.Subscribe: cancelled");
    return result;
  }

  void CancelSubscribe() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (subscription_ != nullptr) subscription_->TryCancel();
  }

 private:
  static Status IdleTimeout(std::string_view what) {
    return Status::DeadlineExceeded(std::string(what) +
                                    ": containerd sent nothing within the call timeout");
  }

  Status RunSubscription(grpc::ClientContext* ctx, const std::function<void()>& on_subscribed,
                         const std::function<void(const Event&)>& on_event) {
    events_v1::SubscribeRequest request;
    // Filters are ORed; within one filter, ',' means AND. containerd sends events of every
    // namespace unless a filter names one.
    for (std::string_view topic : kTopics) {
      request.add_filters("namespace==" + FilterQuote(options_.ns) +
                          ",topic==" + FilterQuote(topic));
    }
    ServerStream<events_v1::Envelope> stream(ctx);
    if (stream.Start(events_->PrepareAsyncSubscribe(ctx, request, stream.cq()),
                     options_.call_timeout)) {
      if (on_subscribed) on_subscribed();
      events_v1::Envelope envelope;
      while (stream.Read(&envelope, std::nullopt)) {
        if (std::optional<Event> event = DecodeEvent(envelope)) on_event(*event);
      }
    }
    grpc::Status s = stream.Finish(options_.call_timeout);
    if (stream.timed_out()) return IdleTimeout("Events.Subscribe");
    if (s.ok()) return Status::Unavailable("Events.Subscribe: containerd ended the event stream");
    return FromGrpcStatus(s, "Events.Subscribe");
  }

  const Options options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<content_v1::Content::Stub> content_;
  const std::unique_ptr<events_v1::Events::Stub> events_;
  const std::unique_ptr<images_v1::Images::Stub> images_;
  const std::unique_ptr<introspection_v1::Introspection::Stub> introspection_;
  const std::unique_ptr<version_v1::Version::Stub> version_;

  std::mutex mu_;
  // State below is protected by mu_.
  bool cancelled_ = false;
  grpc::ClientContext* subscription_ = nullptr;  // The active Subscribe()'s call, if any.
};

GrpcContainerdClient::GrpcContainerdClient(Options options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
GrpcContainerdClient::~GrpcContainerdClient() = default;

Result<VersionInfo> GrpcContainerdClient::Version() { return impl_->Version(); }
Result<std::vector<ImageRecord>> GrpcContainerdClient::ListImages() { return impl_->ListImages(); }
Result<ImageRecord> GrpcContainerdClient::GetImage(const std::string& name) {
  return impl_->GetImage(name);
}
Result<std::vector<ContentInfo>> GrpcContainerdClient::ListContent() {
  return impl_->ListContent();
}
Result<ContentInfo> GrpcContainerdClient::Info(const std::string& digest) {
  return impl_->Info(digest);
}
Status GrpcContainerdClient::Read(const std::string& digest, int64_t offset, int64_t length,
                                  const std::function<bool(std::string_view chunk)>& sink) {
  return impl_->Read(digest, offset, length, sink);
}
Result<std::string> GrpcContainerdClient::ContentRoot() { return impl_->ContentRoot(); }
Status GrpcContainerdClient::Subscribe(const std::function<void()>& on_subscribed,
                                       const std::function<void(const Event&)>& on_event) {
  return impl_->Subscribe(on_subscribed, on_event);
}
void GrpcContainerdClient::CancelSubscribe() { impl_->CancelSubscribe(); }

Result<std::unique_ptr<ContainerdClient>> NewGrpcContainerdClient(GrpcClientOptions options) {
  if (options.socket_path.empty())
    return Status::InvalidArgument("containerd socket path is empty");
  if (options.ns.empty()) return Status::InvalidArgument("containerd namespace is empty");
  if (options.call_timeout.count() <= 0)
    return Status::InvalidArgument("containerd call timeout must be positive");
  return std::unique_ptr<ContainerdClient>(
      std::make_unique<GrpcContainerdClient>(std::move(options)));
}

}  // namespace spegel::containerd
