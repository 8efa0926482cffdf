// cri: a minimal crictl replacement for tests (Debian ships no crictl). Talks the CRI API subset of
// proto/cri_api.proto to containerd's CRI plugin, so pulls go through the same code path as the
// kubelet's (CRI PullImage resolves and fetches inside containerd, honouring certs.d hosts.toml).
//
//   cri --address SOCK [--timeout SECONDS] COMMAND [ARG]
//
// Commands and their stdout:
//   version         {"version","runtime_name","runtime_version","runtime_api_version"}
//   status          {"conditions":[{"type","status","reason","message"}],"info":{KEY:VALUE}}
//                   (verbose; each info VALUE is containerd's JSON document, as a string)
//   pull IMAGE      the image_ref (e.g. "sha256:…") on one line
//   rmi IMAGE       nothing
//   images          one {"id","repo_tags","repo_digests","size"} per image
//   inspecti IMAGE  {"image":{"id",…},"info":{KEY:VALUE}}; NotFound error if absent
//
// Exit status: 0 on success, 1 on a gRPC error (printed as "cri: <Code>: <message>" on stderr),
// 2 on bad usage. The default timeout is 120 s (pulls go over the network).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/json_escape.h"
#include "containerd/cri_client.h"
#include "containerd/grpc_util.h"
#include "cri_api.grpc.pb.h"

namespace {

using spegel::AppendJsonString;
using spegel::Status;
namespace ctd = spegel::containerd;
namespace cri = ::runtime::v1;

[[noreturn]] void Usage(const char* why) {
  fprintf(stderr,
          "cri: %s\n"
          "usage: cri --address SOCK [--timeout S] version | status | pull IMAGE | rmi IMAGE |\n"
          "       images | inspecti IMAGE\n",
          why);
  exit(2);
}

int Fail(const Status& s) {
  fprintf(stderr, "cri: %s\n", s.ToString().c_str());
  return 1;
}

void PrintLine(const std::string& json) {
  fwrite(json.data(), 1, json.size(), stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

template <typename Strings>
void AppendStringArray(std::string* out, const Strings& strings) {
  *out += '[';
  bool first = true;
  for (const auto& s : strings) {
    if (!first) *out += ',';
    first = false;
    AppendJsonString(out, s);
  }
  *out += ']';
}

template <typename Map>
void AppendStringMap(std::string* out, const Map& map) {
  // Sorted keys, for stable output (protobuf maps are unordered).
  std::vector<std::pair<std::string, std::string>> entries(map.begin(), map.end());
  std::sort(entries.begin(), entries.end());
  *out += '{';
  bool first = true;
  for (const auto& [k, v] : entries) {
    if (!first) *out += ',';
    first = false;
    AppendJsonString(out, k);
    *out += ':';
    AppendJsonString(out, v);
  }
  *out += '}';
}

std::string ImageJson(const cri::Image& image) {
  std::string out = "{\"id\":";
  AppendJsonString(&out, image.id());
  out += ",\"repo_tags\":";
  AppendStringArray(&out, image.repo_tags());
  out += ",\"repo_digests\":";
  AppendStringArray(&out, image.repo_digests());
  out += ",\"size\":" + std::to_string(image.size()) + "}";
  return out;
}

class Cri {
 public:
  Cri(const std::string& address, std::chrono::milliseconds timeout)
      : address_(address),
        timeout_(timeout),
        images_(cri::ImageService::NewStub(ctd::NewUnixChannel(address))) {}

  int Version() {
    ctd::CriClient client({.socket_path = address_, .timeout = timeout_});
    auto v = client.Version();
    if (!v.ok()) return Fail(v.status());
    std::string out = "{\"version\":";
    AppendJsonString(&out, v->version);
    out += ",\"runtime_name\":";
    AppendJsonString(&out, v->runtime_name);
    out += ",\"runtime_version\":";
    AppendJsonString(&out, v->runtime_version);
    out += ",\"runtime_api_version\":";
    AppendJsonString(&out, v->runtime_api_version);
    PrintLine(out + "}");
    return 0;
  }

  int RuntimeStatus() {
    ctd::CriClient client({.socket_path = address_, .timeout = timeout_});
    auto st = client.Status(/*verbose=*/true);
    if (!st.ok()) return Fail(st.status());
    std::string out = "{\"conditions\":[";
    bool first = true;
    for (const auto& c : st->conditions) {
      if (!first) out += ',';
      first = false;
      out += "{\"type\":";
      AppendJsonString(&out, c.type);
      out += c.status ? ",\"status\":true,\"reason\":" : ",\"status\":false,\"reason\":";
      AppendJsonString(&out, c.reason);
      out += ",\"message\":";
      AppendJsonString(&out, c.message);
      out += '}';
    }
    out += "],\"info\":";
    AppendStringMap(&out, st->info);
    PrintLine(out + "}");
    return 0;
  }

  int Pull(const std::string& image) {
    grpc::ClientContext ctx;
    ctd::PrepareContext(&ctx, {}, timeout_);
    cri::PullImageRequest request;
    request.mutable_image()->set_image(image);
    cri::PullImageResponse response;
    grpc::Status s = images_->PullImage(&ctx, request, &response);
    if (!s.ok()) return Fail(ctd::FromGrpcStatus(s, "ImageService.PullImage"));
    PrintLine(response.image_ref());
    return 0;
  }

  int Remove(const std::string& image) {
    grpc::ClientContext ctx;
    ctd::PrepareContext(&ctx, {}, timeout_);
    cri::RemoveImageRequest request;
    request.mutable_image()->set_image(image);
    cri::RemoveImageResponse response;
    grpc::Status s = images_->RemoveImage(&ctx, request, &response);
    if (!s.ok()) return Fail(ctd::FromGrpcStatus(s, "ImageService.RemoveImage"));
    return 0;
  }

  int Images() {
    grpc::ClientContext ctx;
    ctd::PrepareContext(&ctx, {}, timeout_);
    cri::ListImagesResponse response;
    grpc::Status s = images_->ListImages(&ctx, cri::ListImagesRequest(), &response);
    if (!s.ok()) return Fail(ctd::FromGrpcStatus(s, "ImageService.ListImages"));
    for (const auto& image : response.images()) PrintLine(ImageJson(image));
    return 0;
  }

  int Inspect(const std::string& image) {
    grpc::ClientContext ctx;
    ctd::PrepareContext(&ctx, {}, timeout_);
    cri::ImageStatusRequest request;
    request.mutable_image()->set_image(image);
    request.set_verbose(true);
    cri::ImageStatusResponse response;
    grpc::Status s = images_->ImageStatus(&ctx, request, &response);
    if (!s.ok()) return Fail(ctd::FromGrpcStatus(s, "ImageService.ImageStatus"));
    if (!response.has_image())
      return Fail(Status::NotFound("ImageService.ImageStatus: no image " + image));
    std::string out = "{\"image\":" + ImageJson(response.image()) + ",\"info\":";
    AppendStringMap(&out, response.info());
    PrintLine(out + "}");
    return 0;
  }

 private:
  const std::string address_;
  const std::chrono::milliseconds timeout_;
  const std::unique_ptr<cri::ImageService::Stub> images_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string address;
  std::chrono::milliseconds timeout{120'000};
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--address" || a == "--timeout") && i + 1 >= argc)
      Usage((a + " needs a value").c_str());
    if (a == "--address") {
      address = argv[++i];
    } else if (a == "--timeout") {
      char* end = nullptr;
      double seconds = strtod(argv[++i], &end);
      if (*end != '\0' || seconds <= 0) Usage("bad --timeout");
      timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    } else if (a.starts_with("--")) {
      Usage(("unknown flag " + a).c_str());
    } else {
      args.push_back(a);
    }
  }
  if (address.empty()) Usage("--address is required");
  if (args.empty()) Usage("no command");

  Cri c(address, timeout);
  const std::string& cmd = args[0];
  const size_t nargs = args.size() - 1;
  if (cmd == "version" && nargs == 0) return c.Version();
  if (cmd == "status" && nargs == 0) return c.RuntimeStatus();
  if (cmd == "pull" && nargs == 1) return c.Pull(args[1]);
  if (cmd == "rmi" && nargs == 1) return c.Remove(args[1]);
  if (cmd == "images" && nargs == 0) return c.Images();
  if (cmd == "inspecti" && nargs == 1) return c.Inspect(args[1]);
  Usage(("bad command: " + cmd).c_str());
}
