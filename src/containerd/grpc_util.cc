#include "containerd/grpc_util.h"

namespace spegel::containerd {

namespace {

// Image lists are unary responses; thousands of images with their labels can pass gRPC's 4 MiB
// default. Content.Read chunks are far smaller.
constexpr int kMaxReceiveMessageBytes = 64 << 20;
// Reconnect quickly after containerd restarts. Only the backoff between attempts is shortened:
// GRPC_ARG_MIN_RECONNECT_BACKOFF_MS would also cap how long one connection attempt may wait for
// the server's HTTP/2 SETTINGS (default 20 s), and a busy containerd must not fail that.
constexpr int kInitialReconnectBackoffMs = 100;
constexpr int kMaxReconnectBackoffMs = 1000;

}  // namespace

std::shared_ptr<grpc::Channel> NewUnixChannel(const std::string& socket_path) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  // "unix:///abs/path" for absolute paths, "unix:rel/path" for relative ones.
  std::string target = socket_path.starts_with('/') ? "unix://" + socket_path
                                                    : "unix:" + socket_path;
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

void PrepareContext(grpc::ClientContext* context, std::string_view ns,
                    std::chrono::milliseconds timeout) {
  if (!ns.empty()) context->AddMetadata("containerd-namespace", std::string(ns));
  if (timeout.count() > 0) context->set_deadline(std::chrono::system_clock::now() + timeout);
}

Code FromGrpcCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return Code::kOk;
    case grpc::StatusCode::CANCELLED: return Code::kCancelled;
    case grpc::StatusCode::INVALID_ARGUMENT: return Code::kInvalidArgument;
    case grpc::StatusCode::OUT_OF_RANGE: return Code::kInvalidArgument;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return Code::kDeadlineExceeded;
    case grpc::StatusCode::NOT_FOUND: return Code::kNotFound;
    case grpc::StatusCode::ALREADY_EXISTS: return Code::kAlreadyExists;
    case grpc::StatusCode::PERMISSION_DENIED: return Code::kPermissionDenied;
    case grpc::StatusCode::UNAUTHENTICATED: return Code::kPermissionDenied;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return Code::kResourceExhausted;
    case grpc::StatusCode::FAILED_PRECONDITION: return Code::kFailedPrecondition;
    // containerd returns ABORTED for conflicting concurrent updates: retrying may succeed.
    case grpc::StatusCode::ABORTED: return Code::kUnavailable;
    case grpc::StatusCode::UNAVAILABLE: return Code::kUnavailable;
    case grpc::StatusCode::UNIMPLEMENTED: return Code::kUnimplemented;
    case grpc::StatusCode::DATA_LOSS: return Code::kDataLoss;
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    default: return Code::kInternal;
  }
}

Status FromGrpcStatus(const grpc::Status& status, std::string_view what) {
  if (status.ok()) return Status::Ok();
  std::string message(what);
  message += ": ";
  message += status.error_message().empty() ? "(no message)" : status.error_message();
  return Status(FromGrpcCode(status.error_code()), std::move(message));
}

}  // namespace spegel::containerd
