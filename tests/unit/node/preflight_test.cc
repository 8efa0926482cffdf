#include "node/preflight.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace spegel::node {
namespace {

// The shape containerd 1.6.20 returns in Status(verbose).info["config"] (trimmed).
std::string Cri16Config(const std::string& config_path, bool discard) {
  return R"({"containerd":{"snapshotter":"overlayfs","defaultRuntimeName":"runc",)"
         R"("noPivot":false,"disableSnapshotAnnotations":true,"discardUnpackedLayers":)" +
         std::string(discard ? "true" : "false") +
         R"(},"cni":{"binDir":"/usr/lib/cni"},"registry":{"configPath":")" + config_path +
         R"(","mirrors":null,"configs":null,"auths":null,"headers":null},)"
         R"("sandboxImage":"registry.k8s.io/pause:3.6","containerdRootDir":"/var/lib/containerd"})";
}

std::map<std::string, std::string> Info16(const std::string& config_path, bool discard) {
  return {{"config", Cri16Config(config_path, discard)},
          {"golang", "\"go1.19.8\""},
          {"lastCNILoadStatus", "\"cni config load failed\""}};
}

ContainerdFacts Facts(std::string version, Result<std::map<std::string, std::string>> info,
                      Result<std::string> file) {
  ContainerdFacts f;
  f.version = std::move(version);
  f.cri_info = std::move(info);
  f.config_text = std::move(file);
  return f;
}

const PreflightOptions kOptions;  // defaults: /etc/containerd/certs.d, /etc/containerd/config.toml

constexpr char kGood16File[] = R"(version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  discard_unpacked_layers = false
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"
)";

TEST_CASE("preflight: a good containerd 1.6 passes") {
  auto r = EvaluatePreflight(Facts("1.6.20~ds1", Info16("/etc/containerd/certs.d", false),
                                   std::string(kGood16File)),
                             kOptions);
  CHECK(r.verdict == PreflightVerdict::kPass);
  CHECK(r.message.empty());
  CHECK(r.warnings.empty());
  CHECK(r.version == "1.6.20~ds1");
  CHECK(r.config_path == "/etc/containerd/certs.d");
}

TEST_CASE("preflight: config_path lists and trailing slashes are accepted on 1.x") {
  auto r = EvaluatePreflight(Facts("1.7.2",
                                   Info16("/etc/docker/certs.d:/etc/containerd/certs.d/", false),
                                   Status::NotFound("absent")),
                             kOptions);
  CHECK(r.verdict == PreflightVerdict::kPass);
}

TEST_CASE("preflight: 1.6 with config_path unset refuses and names file and lines") {
  auto r = EvaluatePreflight(Facts("1.6.20~ds1", Info16("", false), std::string("version = 2\n")),
                             kOptions);
  REQUIRE(r.verdict == PreflightVerdict::kRefuse);
  CHECK(r.message ==
        "containerd is not configured for Spegel (containerd 1.6.20~ds1, config file "
        "/etc/containerd/config.toml):\n"
        "  - config_path is not set (reported by containerd's CRI status), so containerd never "
        "reads the hosts.toml files Spegel writes under /etc/containerd/certs.d.\n"
        "Fix: add these lines to /etc/containerd/config.toml (each key under its table; if the "
        "table is already there, set the key in it), then restart containerd:\n"
        "  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n"
        "    config_path = \"/etc/containerd/certs.d\"");
}

TEST_CASE("preflight: 1.6 with a config_path that misses Spegel's certs.d refuses") {
  PreflightOptions o;
  o.registry_config_path = "/etc/containerd/certs.d";
  o.containerd_config = "/srv/ctd/config.toml";
  auto r = EvaluatePreflight(Facts("1.6.20", Info16("/etc/docker/certs.d", false),
                                   Status::NotFound("absent")),
                             o);
  REQUIRE(r.verdict == PreflightVerdict::kRefuse);
  CHECK(r.message.find("config_path is \"/etc/docker/certs.d\"") != std::string::npos);
  CHECK(r.message.find("does not include /etc/containerd/certs.d") != std::string::npos);
  CHECK(r.message.find("--containerd-registry-config-path /etc/docker/certs.d") !=
        std::string::npos);
  CHECK(r.message.find("add these lines to /srv/ctd/config.toml") != std::string::npos);
  CHECK(r.message.find("config_path = \"/etc/containerd/certs.d\"") != std::string::npos);
  // A parent directory does not count: containerd looks for <config_path>/<host>/hosts.toml.
  auto parent = EvaluatePreflight(Facts("1.6.20", Info16("/etc/containerd", false),
                                        Status::NotFound("absent")),
                                  o);
  CHECK(parent.verdict == PreflightVerdict::kRefuse);
}

TEST_CASE("preflight: discard_unpacked_layers = true refuses, with the source") {
  SUBCASE("from the CRI status") {
    auto r = EvaluatePreflight(Facts("1.6.20~ds1", Info16("/etc/containerd/certs.d", true),
                                     Status::NotFound("absent")),
                               kOptions);
    REQUIRE(r.verdict == PreflightVerdict::kRefuse);
    CHECK(r.message.find("discard_unpacked_layers is true (reported by containerd's CRI status)") !=
          std::string::npos);
    CHECK(r.message.find("  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
                         "    discard_unpacked_layers = false") != std::string::npos);
    CHECK(r.message.find("config_path =") == std::string::npos);  // that part is fine
  }
  SUBCASE("the CRI status wins over a stale file") {
    auto r = EvaluatePreflight(Facts("1.6.20", Info16("/etc/containerd/certs.d", false),
                                     std::string(
                                         "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
                                         "discard_unpacked_layers = true\n")),
                               kOptions);
    CHECK(r.verdict == PreflightVerdict::kPass);
  }
  SUBCASE("both problems at once: one message, both fixes") {
    auto r = EvaluatePreflight(Facts("1.6.20", Info16("", true), Status::NotFound("absent")),
                               kOptions);
    REQUIRE(r.verdict == PreflightVerdict::kRefuse);
    CHECK(r.message.find("discard_unpacked_layers is true") != std::string::npos);
    CHECK(r.message.find("config_path is not set") != std::string::npos);
    CHECK(r.message.find("discard_unpacked_layers = false") != std::string::npos);
    CHECK(r.message.find("config_path = \"/etc/containerd/certs.d\"") != std::string::npos);
  }
}

constexpr char kGood21File[] = R"(version = 3
[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  discard_unpacked_layers = false
  use_local_image_pull = true
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '/etc/containerd/certs.d'
)";

TEST_CASE("preflight: containerd 2.1 with local pulls and config_path passes (file only)") {
  auto r = EvaluatePreflight(Facts("v2.1.4", Status::Unimplemented("no CRI"),
                                   std::string(kGood21File)),
                             kOptions);
  CHECK(r.verdict == PreflightVerdict::kPass);
  CHECK(r.config_path == "/etc/containerd/certs.d");
  REQUIRE(r.warnings.size() == 1);  // the CRI status could not be read
  CHECK(r.warnings[0].find("CRI status") != std::string::npos);
}

TEST_CASE("preflight: transfer-service pulls with a config_path list refuse; the rest pass") {
  // containerd 2.2's default config_path is a list; the transfer service reads it as one
  // directory, local pulls split it. Each row: use_local_image_pull, config_path, verdict.
  struct Row {
    const char* local_pull;  // the line, or "" for absent
    const char* config_path;
    const char* version;
    PreflightVerdict want;
  };
  const Row table[] = {
      {"use_local_image_pull = false", "/etc/containerd/certs.d:/etc/docker/certs.d", "2.2.1",
       PreflightVerdict::kRefuse},
      {"", "/etc/containerd/certs.d:/etc/docker/certs.d", "2.2.0", PreflightVerdict::kRefuse},
      {"use_local_image_pull = true", "/etc/containerd/certs.d:/etc/docker/certs.d", "2.2.1",
       PreflightVerdict::kPass},
      {"use_local_image_pull = false", "/etc/containerd/certs.d", "2.2.1", PreflightVerdict::kPass},
      {"", "/etc/containerd/certs.d", "2.1.0", PreflightVerdict::kPass},
      {"", "/etc/containerd/certs.d:/etc/docker/certs.d", "2.0.6", PreflightVerdict::kPass},
  };
  for (const Row& row : table) {
    CAPTURE(row.local_pull);
    CAPTURE(row.config_path);
    CAPTURE(row.version);
    std::string file = kGood21File;
    file.replace(file.find("  use_local_image_pull = true\n"), 30,
                 *row.local_pull ? std::string("  ") + row.local_pull + "\n" : std::string());
    file.replace(file.find("'/etc/containerd/certs.d'"), 25,
                 std::string("'") + row.config_path + "'");
    auto r = EvaluatePreflight(Facts(row.version, std::map<std::string, std::string>{}, file),
                               kOptions);
    CHECK(r.verdict == row.want);
    INFO(r.message);
    if (row.want == PreflightVerdict::kRefuse) {
      CHECK(r.message.find("pulls through the transfer service") != std::string::npos);
      CHECK(r.message.find("reads config_path as one directory") != std::string::npos);
      CHECK(r.message.find(*row.local_pull
                               ? "use_local_image_pull is false: line 5 of /etc/containerd/"
                               : "use_local_image_pull is false: not set in /etc/containerd/") !=
            std::string::npos);
      // The exact fix: the one directory Spegel writes.
      CHECK(r.message.find("  [plugins.\"io.containerd.cri.v1.images\".registry]\n"
                           "    config_path = \"/etc/containerd/certs.d\"") != std::string::npos);
    }
  }
}

TEST_CASE("preflight: a config_path list without knowing the pull mode warns") {
  SUBCASE("no config file (e.g. not mounted in the pod): a warning, not a refusal") {
    auto r = EvaluatePreflight(Facts("2.2.0",
                                     Info16("/etc/containerd/certs.d:/etc/docker/certs.d", false),
                                     Status::NotFound("absent")),
                               kOptions);
    CHECK(r.verdict == PreflightVerdict::kPass);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].find("/etc/containerd/config.toml does not exist here") !=
          std::string::npos);
    CHECK(r.warnings[0].find("use_local_image_pull = true") != std::string::npos);
  }
  SUBCASE("a single directory needs no warning") {
    auto r = EvaluatePreflight(Facts("2.1.5", Info16("/etc/containerd/certs.d", false),
                                     Status::NotFound("absent")),
                               kOptions);
    CHECK(r.verdict == PreflightVerdict::kPass);
    CHECK(r.warnings.empty());
  }
  SUBCASE("the CRI status saying useLocalImagePull=true is enough") {
    auto r = EvaluatePreflight(
        Facts("2.2.1",
              std::map<std::string, std::string>{
                  {"config", R"({"registry":{"configPath":"/etc/containerd/certs.d:/x"},)"
                             R"("discardUnpackedLayers":false,"useLocalImagePull":true})"}},
              Status::NotFound("absent")),
        kOptions);
    CHECK(r.verdict == PreflightVerdict::kPass);
    CHECK(r.warnings.empty());
  }
}

TEST_CASE("preflight: containerd 2.0 is not subject to the transfer-service rule") {
  std::string file = kGood21File;
  file.replace(file.find("  use_local_image_pull = true\n"), 30, "");
  auto r = EvaluatePreflight(Facts("2.0.6", std::map<std::string, std::string>{}, file), kOptions);
  CHECK(r.verdict == PreflightVerdict::kPass);
}

TEST_CASE("preflight: 2.x keys: version 3 names win, version 2 files are read too") {
  SUBCASE("v3 discard = true") {
    auto r = EvaluatePreflight(
        Facts("2.1.1", std::map<std::string, std::string>{},
              std::string("version = 3\n[plugins.\"io.containerd.cri.v1.images\"]\n"
                          "discard_unpacked_layers = true\nuse_local_image_pull = true\n"
                          "[plugins.\"io.containerd.cri.v1.images\".registry]\n"
                          "config_path = \"/etc/containerd/certs.d\"\n")),
        kOptions);
    REQUIRE(r.verdict == PreflightVerdict::kRefuse);
    CHECK(r.message.find("discard_unpacked_layers is true (line 3 of") != std::string::npos);
    CHECK(r.message.find("  [plugins.\"io.containerd.cri.v1.images\"]\n"
                         "    discard_unpacked_layers = false") != std::string::npos);
  }
  SUBCASE("a version 2 file on containerd 2.0: the fix uses version 2 names") {
    auto r = EvaluatePreflight(
        Facts("2.0.0", std::map<std::string, std::string>{},
              std::string("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n"
                          "config_path = \"\"\n")),
        kOptions);
    REQUIRE(r.verdict == PreflightVerdict::kRefuse);
    CHECK(r.message.find("config_path is not set (line 3 of /etc/containerd/config.toml)") !=
          std::string::npos);
    CHECK(r.message.find("[plugins.\"io.containerd.grpc.v1.cri\".registry]") != std::string::npos);
  }
  SUBCASE("1.x ignores version 3 names") {
    auto r = EvaluatePreflight(Facts("1.7.0", Status::Unimplemented("no CRI"),
                                     std::string(
                                         "[plugins.\"io.containerd.cri.v1.images\".registry]\n"
                                         "config_path = \"/etc/containerd/certs.d\"\n")),
                               kOptions);
    CHECK(r.verdict == PreflightVerdict::kPass);
    CHECK(r.config_path.empty());  // unknown: a warning, not a refusal
    bool warned = false;
    for (const auto& w : r.warnings) warned = warned || w.find("config_path") != std::string::npos;
    CHECK(warned);
  }
}

TEST_CASE("preflight: an unreachable containerd is not judged") {
  auto r = EvaluatePreflight(Facts("x", Status::Unavailable("connect: no such file"),
                                   std::string("version = 2\n")),
                             kOptions);
  // version "x" is a value, so containerd answered: judged, with an unknown-version warning.
  CHECK(r.verdict == PreflightVerdict::kPass);
  ContainerdFacts down;
  down.version = Status::Unavailable("connect: no such file");
  down.cri_info = Status::DeadlineExceeded("deadline");
  down.config_text = std::string(
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
      "discard_unpacked_layers = true\n");
  auto u = EvaluatePreflight(down, kOptions);
  CHECK(u.verdict == PreflightVerdict::kUnverified);
  CHECK(u.message.empty());
  REQUIRE(u.warnings.size() == 1);
  CHECK(u.warnings[0].find("cannot reach containerd") != std::string::npos);
}

TEST_CASE("preflight: bad inputs become warnings, never crashes") {
  SUBCASE("unparseable config file") {
    auto r = EvaluatePreflight(Facts("1.6.20", Info16("/etc/containerd/certs.d", false),
                                     std::string("[plugins\nbroken = \n")),
                               kOptions);
    CHECK(r.verdict == PreflightVerdict::kPass);
    REQUIRE_FALSE(r.warnings.empty());
    CHECK(r.warnings[0].find("cannot parse /etc/containerd/config.toml: line 1:") !=
          std::string::npos);
  }
  SUBCASE("garbage CRI JSON") {
    for (const std::string& junk :
         std::vector<std::string>{"", "{", "[]", "{\"registry\":5}",
                                  "{\"registry\":{\"configPath\":7}}", std::string(100000, '[')}) {
      auto r = EvaluatePreflight(Facts("1.6.20",
                                       std::map<std::string, std::string>{{"config", junk}},
                                       Status::NotFound("absent")),
                                 kOptions);
      CHECK(r.verdict == PreflightVerdict::kPass);
      CHECK(r.config_path.empty());
    }
  }
  SUBCASE("unknown version skips the 2.1 rule with a warning") {
    auto r = EvaluatePreflight(Facts("devel", Info16("/etc/containerd/certs.d", false),
                                     Status::NotFound("absent")),
                               kOptions);
    CHECK(r.verdict == PreflightVerdict::kPass);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].find("unrecognised containerd version \"devel\"") != std::string::npos);
  }
}

TEST_CASE("preflight: GatherContainerdFacts and RunPreflight use the injected sources") {
  PreflightOptions o;
  o.containerd_config = "/x/config.toml";
  std::string asked_path;
  PreflightSources s;
  s.containerd_version = [] { return Result<std::string>(std::string("1.6.20")); };
  s.cri_info = [] {
    return Result<std::map<std::string, std::string>>(Info16("/etc/containerd/certs.d", true));
  };
  s.read_file = [&asked_path](const std::string& p) {
    asked_path = p;
    return Result<std::string>(Status::NotFound("absent"));
  };
  auto r = RunPreflight(s, o);
  CHECK(asked_path == "/x/config.toml");
  CHECK(r.verdict == PreflightVerdict::kRefuse);
}

TEST_CASE("preflight: ReadConfigFile") {
  char dir_template[] = "/tmp/preflight-test-XXXXXX";
  char* dir = mkdtemp(dir_template);
  REQUIRE(dir != nullptr);
  const std::string path = std::string(dir) + "/config.toml";
  {
    std::ofstream f(path);
    f << "version = 2\n";
  }
  auto text = ReadConfigFile(path);
  REQUIRE(text.ok());
  CHECK(*text == "version = 2\n");
  CHECK(ReadConfigFile(std::string(dir) + "/missing.toml").status().IsNotFound());
  CHECK(ReadConfigFile(std::string(dir) + "/missing/x.toml").status().IsNotFound());
  CHECK(ReadConfigFile(dir).status().code() == Code::kInvalidArgument);  // a directory
  {
    std::ofstream f(path, std::ios::trunc);
    f << std::string(kMaxConfigBytes + 1, '#');
  }
  CHECK(ReadConfigFile(path).status().code() == Code::kInvalidArgument);
  std::remove(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace spegel::node
