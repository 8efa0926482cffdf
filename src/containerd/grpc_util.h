// Small helpers shared by the gRPC clients of containerd's own API (grpc_client.h) and of its CRI
// plugin (cri_client.h), and by the test tools: the channel to a Unix socket, per-call context
// setup, and the mapping from gRPC status codes to spegel::Code.
//
// Everything here is stateless and thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace spegel::containerd {

// A channel to the gRPC server on the Unix socket at `socket_path` (absolute or relative). The
// channel connects lazily and reconnects by itself with a short backoff (100 ms growing to at most
// 1 s), so calls fail fast with Unavailable while containerd is down and succeed again within
// about a second of its return, instead of after gRPC's default backoff of up to two minutes.
std::shared_ptr<grpc::Channel> NewUnixChannel(const std::string& socket_path);

// Sets the `containerd-namespace` metadata (unless `ns` is empty) and, when `timeout` is positive,
// a deadline of now + timeout.
void PrepareContext(grpc::ClientContext* context, std::string_view ns,
                    std::chrono::milliseconds timeout);

// Maps a gRPC status to a Status: NOT_FOUND -> kNotFound, UNAVAILABLE -> kUnavailable,
// DEADLINE_EXCEEDED -> kDeadlineExceeded, CANCELLED -> kCancelled, and the rest to the closest
// code (see the table in the .cc). The message is "<what>: <gRPC message>", e.g.
// "Content.Info: content digest sha256:…: not found".
Status FromGrpcStatus(const grpc::Status& status, std::string_view what);
Code FromGrpcCode(grpc::StatusCode code);

}  // namespace spegel::containerd
