#include "containerd/cri_client.h"

#include <cassert>
#include <utility>

#include "containerd/grpc_util.h"
#include "cri_api.grpc.pb.h"

namespace spegel::containerd {

class CriClient::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)),
        runtime_(runtime::v1::RuntimeService::NewStub(NewUnixChannel(options_.socket_path))) {}

  Result<CriVersion> Version() {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, {}, options_.timeout);
    runtime::v1::VersionResponse response;
    grpc::Status s = runtime_->Version(&ctx, runtime::v1::VersionRequest(), &response);
    if (!s.ok()) return FromGrpcStatus(s, "RuntimeService.Version");
    return CriVersion{response.version(), response.runtime_name(), response.runtime_version(),
                      response.runtime_api_version()};
  }

  Result<CriStatus> Status(bool verbose) {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, {}, options_.timeout);
    runtime::v1::StatusRequest request;
    request.set_verbose(verbose);
    runtime::v1::StatusResponse response;
    grpc::Status s = runtime_->Status(&ctx, request, &response);
    if (!s.ok()) return FromGrpcStatus(s, "RuntimeService.Status");
    CriStatus out;
    for (const auto& c : response.status().conditions()) {
      out.conditions.push_back(CriCondition{c.type(), c.status(), c.reason(), c.message()});
    }
    out.info.insert(response.info().begin(), response.info().end());
    return out;
  }

 private:
  const Options options_;
  const std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_;
};

CriClient::CriClient(Options options) {
  assert(!options.socket_path.empty());
  impl_ = std::make_unique<Impl>(std::move(options));
}
CriClient::~CriClient() = default;

Result<CriVersion> CriClient::Version() { return impl_->Version(); }
Result<CriStatus> CriClient::Status(bool verbose) { return impl_->Status(verbose); }

}  // namespace spegel::containerd
