// ctd_probe: drives GrpcContainerdClient against a real containerd, for integration tests and by
// hand. Output is JSON lines on stdout, except `read`, which writes the blob's bytes.
//
//   ctd_probe --address SOCK [--namespace NS] [--timeout SECONDS] COMMAND [ARGS]
//
// Commands (all flags may also follow the command):
//   version            {"version","revision"}
//   list-images        one {"name","target":{"media_type","digest","size"},"labels"} per image
//   get-image NAME     the same for one image
//   list-content       one {"digest","size","labels"} per blob
//   info DIGEST        the same for one blob
//   read DIGEST [OFFSET [LENGTH]]
//                      the raw bytes (LENGTH < 0: to the end); {"bytes","chunks"} on stderr
//   content-root       {"root"}
//   subscribe N        the first N events as {"kind","topic","image_name","digest"}, then exit;
//                      {"subscribed":true} goes to stderr once the subscription is up. Fails
//                      with DeadlineExceeded if N events do not arrive within
//                      --subscribe-timeout SECONDS (default 60).
//   create-image NAME DIGEST MEDIATYPE SIZE
//                      Images.Create with that target; prints the image as list-images does
//   delete-image NAME  Images.Delete (synchronous); prints {"deleted":NAME}
//
// Exit status: 0 on success, 1 on an error (printed as "ctd_probe: <Code>: <message>" on
// stderr), 2 on bad usage.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/json_escape.h"
#include "containerd/grpc_client.h"
#include "containerd/grpc_util.h"
#include "containerd_images.grpc.pb.h"

namespace {

using spegel::AppendJsonString;
using spegel::Result;
using spegel::Status;
namespace ctd = spegel::containerd;
namespace images_v1 = ::containerd::services::images::v1;

struct Flags {
  std::string address;
  std::string ns = "k8s.io";
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds subscribe_timeout{60'000};
  std::vector<std::string> args;  // Command and its arguments.
};

[[noreturn]] void Usage(const char* why) {
  fprintf(stderr,
          "ctd_probe: %s\n"
          "usage: ctd_probe --address SOCK [--namespace NS] [--timeout S] [--subscribe-timeout S] "
          "CMD [ARGS]\n"
          "  CMD: version | list-images | get-image NAME | list-content | info DIGEST |\n"
          "       read DIGEST [OFFSET [LENGTH]] | content-root | subscribe N |\n"
          "       create-image NAME DIGEST MEDIATYPE SIZE | delete-image NAME\n",
          why);
  exit(2);
}

int64_t ParseInt(const std::string& s, const char* what) {
  char* end = nullptr;
  long long v = strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0') Usage((std::string("bad ") + what + ": " + s).c_str());
  return v;
}

std::chrono::milliseconds ParseSeconds(const std::string& s) {
  char* end = nullptr;
  double v = strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || v <= 0) Usage(("bad timeout: " + s).c_str());
  return std::chrono::milliseconds(static_cast<int64_t>(v * 1000));
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  int i = 1;
  auto value = [&](const char* name) -> std::string {
    if (i + 1 >= argc) Usage((std::string(name) + " needs a value").c_str());
    return argv[++i];
  };
  // Flags may come before or after the command.
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--address") {
      f.address = value("--address");
    } else if (a == "--namespace") {
      f.ns = value("--namespace");
    } else if (a == "--timeout") {
      f.timeout = ParseSeconds(value("--timeout"));
    } else if (a == "--subscribe-timeout") {
      f.subscribe_timeout = ParseSeconds(value("--subscribe-timeout"));
    } else if (a.starts_with("--")) {
      Usage(("unknown flag " + a).c_str());
    } else {
      f.args.push_back(a);
    }
  }
  if (f.address.empty()) Usage("--address is required");
  if (f.args.empty()) Usage("no command");
  return f;
}

void PrintLine(const std::string& json) {
  fwrite(json.data(), 1, json.size(), stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

void AppendLabels(std::string* out, const std::map<std::string, std::string>& labels) {
  *out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) *out += ',';
    first = false;
    AppendJsonString(out, k);
    *out += ':';
    AppendJsonString(out, v);
  }
  *out += '}';
}

std::string ImageJson(const ctd::ImageRecord& image) {
  std::string out = "{\"name\":";
  AppendJsonString(&out, image.name);
  out += ",\"target\":{\"media_type\":";
  AppendJsonString(&out, image.target.media_type);
  out += ",\"digest\":";
  AppendJsonString(&out, image.target.digest);
  out += ",\"size\":" + std::to_string(image.target.size) + "},\"labels\":";
  AppendLabels(&out, image.labels);
  out += '}';
  return out;
}

std::string ContentJson(const ctd::ContentInfo& info) {
  std::string out = "{\"digest\":";
  AppendJsonString(&out, info.digest);
  out += ",\"size\":" + std::to_string(info.size) + ",\"labels\":";
  AppendLabels(&out, info.labels);
  out += '}';
  return out;
}

const char* KindName(ctd::EventKind kind) {
  switch (kind) {
    case ctd::EventKind::kImageCreate: return "image-create";
    case ctd::EventKind::kImageUpdate: return "image-update";
    case ctd::EventKind::kImageDelete: return "image-delete";
    case ctd::EventKind::kContentCreate: return "content-create";
    case ctd::EventKind::kContentDelete: return "content-delete";
  }
  return "unknown";
}

std::string EventJson(const ctd::Event& e) {
  std::string out = "{\"kind\":\"";
  out += KindName(e.kind);
  out += "\",\"topic\":";
  AppendJsonString(&out, e.topic);
  out += ",\"image_name\":";
  AppendJsonString(&out, e.image_name);
  out += ",\"digest\":";
  AppendJsonString(&out, e.digest);
  out += '}';
  return out;
}

int Fail(const Status& s) {
  fprintf(stderr, "ctd_probe: %s\n", s.ToString().c_str());
  return 1;
}

void NeedArgs(const Flags& f, size_t min, size_t max) {
  if (f.args.size() < min + 1 || f.args.size() > max + 1)
    Usage(("wrong arguments for " + f.args[0]).c_str());
}

int Subscribe(ctd::ContainerdClient* client, const Flags& f) {
  NeedArgs(f, 1, 1);
  const int64_t want = ParseInt(f.args[1], "event count");
  int64_t seen = 0;

  // Cancels the subscription when `subscribe_timeout` passes without N events.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::atomic<bool> timed_out{false};
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, f.subscribe_timeout, [&] { return done; })) {
      timed_out = true;
      client->CancelSubscribe();
    }
  });

  Status s = client->Subscribe(
      [&] {
        fputs("{\"subscribed\":true}\n", stderr);
        fflush(stderr);
        if (want == 0) client->CancelSubscribe();
      },
      [&](const ctd::Event& e) {
        if (seen >= want) return;
        PrintLine(EventJson(e));
        if (++seen == want) client->CancelSubscribe();
      });
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  watchdog.join();

  if (seen >= want && s.code() == spegel::Code::kCancelled) return 0;
  if (timed_out) {
    return Fail(Status::DeadlineExceeded("got " + std::to_string(seen) + " of " +
                                         std::to_string(want) +
                                         " events before --subscribe-timeout"));
  }
  return Fail(s);
}

// Images.Create and Images.Delete are not part of ContainerdClient (Spegel never writes to
// containerd); tests use them to produce image events with exact names and targets.
int CreateImage(const Flags& f) {
  NeedArgs(f, 4, 4);
  auto stub = images_v1::Images::NewStub(ctd::NewUnixChannel(f.address));
  grpc::ClientContext ctx;
  ctd::PrepareContext(&ctx, f.ns, f.timeout);
  images_v1::CreateImageRequest request;
  images_v1::Image* image = request.mutable_image();
  image->set_name(f.args[1]);
  image->mutable_target()->set_digest(f.args[2]);
  image->mutable_target()->set_media_type(f.args[3]);
  image->mutable_target()->set_size(ParseInt(f.args[4], "size"));
  images_v1::CreateImageResponse response;
  grpc::Status s = stub->Create(&ctx, request, &response);
  if (!s.ok()) return Fail(ctd::FromGrpcStatus(s, "Images.Create"));
  const images_v1::Image& created = response.image();
  ctd::ImageRecord record{created.name(),
                          {created.target().media_type(), created.target().digest(),
                           created.target().size()},
                          {created.labels().begin(), created.labels().end()}};
  PrintLine(ImageJson(record));
  return 0;
}

int DeleteImage(const Flags& f) {
  NeedArgs(f, 1, 1);
  auto stub = images_v1::Images::NewStub(ctd::NewUnixChannel(f.address));
  grpc::ClientContext ctx;
  ctd::PrepareContext(&ctx, f.ns, f.timeout);
  images_v1::DeleteImageRequest request;
  request.set_name(f.args[1]);
  request.set_sync(true);
  google::protobuf::Empty response;
  grpc::Status s = stub->Delete(&ctx, request, &response);
  if (!s.ok()) return Fail(ctd::FromGrpcStatus(s, "Images.Delete"));
  std::string out = "{\"deleted\":";
  AppendJsonString(&out, f.args[1]);
  PrintLine(out + "}");
  return 0;
}

int Run(const Flags& f) {
  const std::string& cmd = f.args[0];
  if (cmd == "create-image") return CreateImage(f);
  if (cmd == "delete-image") return DeleteImage(f);

  Result<std::unique_ptr<ctd::ContainerdClient>> made = ctd::NewGrpcContainerdClient(
      {.socket_path = f.address, .ns = f.ns, .call_timeout = f.timeout});
  if (!made.ok()) return Fail(made.status());
  ctd::ContainerdClient* client = made->get();

  if (cmd == "version") {
    NeedArgs(f, 0, 0);
    auto v = client->Version();
    if (!v.ok()) return Fail(v.status());
    std::string out = "{\"version\":";
    AppendJsonString(&out, v->version);
    out += ",\"revision\":";
    AppendJsonString(&out, v->revision);
    PrintLine(out + "}");
    return 0;
  }
  if (cmd == "list-images") {
    NeedArgs(f, 0, 0);
    auto images = client->ListImages();
    if (!images.ok()) return Fail(images.status());
    for (const auto& image : *images) PrintLine(ImageJson(image));
    return 0;
  }
  if (cmd == "get-image") {
    NeedArgs(f, 1, 1);
    auto image = client->GetImage(f.args[1]);
    if (!image.ok()) return Fail(image.status());
    PrintLine(ImageJson(*image));
    return 0;
  }
  if (cmd == "list-content") {
    NeedArgs(f, 0, 0);
    auto infos = client->ListContent();
    if (!infos.ok()) return Fail(infos.status());
    for (const auto& info : *infos) PrintLine(ContentJson(info));
    return 0;
  }
  if (cmd == "info") {
    NeedArgs(f, 1, 1);
    auto info = client->Info(f.args[1]);
    if (!info.ok()) return Fail(info.status());
    PrintLine(ContentJson(*info));
    return 0;
  }
  if (cmd == "read") {
    NeedArgs(f, 1, 3);
    int64_t offset = f.args.size() > 2 ? ParseInt(f.args[2], "offset") : 0;
    int64_t length = f.args.size() > 3 ? ParseInt(f.args[3], "length") : -1;
    int64_t bytes = 0, chunks = 0;
    bool write_failed = false;
    Status s = client->Read(f.args[1], offset, length, [&](std::string_view chunk) {
      bytes += static_cast<int64_t>(chunk.size());
      ++chunks;
      if (fwrite(chunk.data(), 1, chunk.size(), stdout) != chunk.size()) write_failed = true;
      return !write_failed;
    });
    fflush(stdout);
    if (write_failed) return Fail(Status::Internal("writing stdout failed"));
    if (!s.ok()) return Fail(s);
    fprintf(stderr, "{\"bytes\":%lld,\"chunks\":%lld}\n", static_cast<long long>(bytes),
            static_cast<long long>(chunks));
    return 0;
  }
  if (cmd == "content-root") {
    NeedArgs(f, 0, 0);
    auto root = client->ContentRoot();
    if (!root.ok()) return Fail(root.status());
    std::string out = "{\"root\":";
    AppendJsonString(&out, *root);
    PrintLine(out + "}");
    return 0;
  }
  if (cmd == "subscribe") return Subscribe(client, f);
  Usage(("unknown command " + cmd).c_str());
}

}  // namespace

int main(int argc, char** argv) { return Run(ParseFlags(argc, argv)); }
