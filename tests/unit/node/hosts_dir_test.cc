#include "node/hosts_dir.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "auth/basic_auth.h"

namespace spegel::node {
namespace {

namespace fs = std::filesystem;

// A temp dir removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/spegel-hosts-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void Write(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Relative path → contents ("<dir>" for directories) of everything under `root`.
std::map<std::string, std::string> Tree(const fs::path& root) {
  std::map<std::string, std::string> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string rel = fs::relative(e.path(), root).string();
    out[rel] = e.is_directory() ? "<dir>" : Read(e.path());
  }
  return out;
}

MirrorConfig Config(std::vector<std::string> registries, bool prepend = false) {
  MirrorConfig c;
  c.registries = *ParseMirroredRegistries(registries);
  c.targets = *ParseMirrorTargets({"http://127.0.0.1:5000"});
  c.prepend_existing = prepend;
  return c;
}

std::string Expected(const MirrorConfig& c, size_t i, std::string_view existing = "") {
  return RenderHostsToml(c.registries[i], c, existing);
}

const std::string kUserToml =
    "server = \"https://registry-1.docker.io\"\n\n"
    "[host.\"https://mirror.corp\"]\n  capabilities = [\"pull\"]\n  ca = \"ca.crt\"\n";

TEST_CASE("apply: config dir missing is created, with an empty _backup") {
  TempDir tmp;
  const fs::path cfg = tmp.path / "etc" / "certs.d";
  auto c = Config({"https://docker.io", "http://127.0.0.1:5001"});
  auto r = ApplyMirrorConfig(cfg.string(), c);
  REQUIRE(r.ok());
  CHECK(r->backed_up.empty());
  CHECK(r->written == std::vector<std::string>{"docker.io", "127.0.0.1:5001"});
  CHECK(Tree(cfg) ==
        std::map<std::string, std::string>{{"_backup", "<dir>"},
                                           {"docker.io", "<dir>"},
                                           {"docker.io/hosts.toml", Expected(c, 0)},
                                           {"127.0.0.1:5001", "<dir>"},
                                           {"127.0.0.1:5001/hosts.toml", Expected(c, 1)}});
  struct stat st;
  REQUIRE(stat((cfg / "docker.io" / "hosts.toml").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  REQUIRE(stat((cfg / "docker.io").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
}

TEST_CASE("apply: empty config dir, implicit _default") {
  TempDir tmp;
  auto c = Config({});
  REQUIRE(ApplyMirrorConfig(tmp.path.string(), c).ok());
  CHECK(Tree(tmp.path) ==
        std::map<std::string, std::string>{{"_backup", "<dir>"},
                                           {"_default", "<dir>"},
                                           {"_default/hosts.toml", Expected(c, 0)}});
}

TEST_CASE("apply then cleanup: a populated dir is backed up and restored byte for byte") {
  TempDir tmp;
  const fs::path cfg = tmp.path;
  Write(cfg / "docker.io" / "hosts.toml", kUserToml);
  Write(cfg / "docker.io" / "ca.crt", "CERT\n");
  Write(cfg / "ghcr.io" / "hosts.toml", "server = 'https://ghcr.io'\n");
  Write(cfg / "stray-file", "x");
  const auto before = Tree(cfg);

  auto c = Config({"https://docker.io"});
  auto r = ApplyMirrorConfig(cfg.string(), c);
  REQUIRE(r.ok());
  CHECK(r->backed_up == std::vector<std::string>{"docker.io", "ghcr.io", "stray-file"});
  auto after = Tree(cfg);
  CHECK(after["docker.io/hosts.toml"] == Expected(c, 0));
  CHECK(after.count("docker.io/ca.crt") == 0);  // prepend off: no extra files
  CHECK(after.count("ghcr.io") == 0);
  CHECK(after["_backup/docker.io/hosts.toml"] == kUserToml);
  CHECK(after["_backup/docker.io/ca.crt"] == "CERT\n");
  CHECK(after["_backup/stray-file"] == "x");

  // Idempotent: the second run changes nothing.
  auto again = ApplyMirrorConfig(cfg.string(), c);
  REQUIRE(again.ok());
  CHECK(again->backed_up.empty());
  CHECK(Tree(cfg) == after);

  auto restored = RestoreMirrorConfig(cfg.string());
  REQUIRE(restored.ok());
  CHECK(restored->had_backup);
  CHECK(restored->removed == std::vector<std::string>{"docker.io"});
  CHECK(Tree(cfg) == before);

  // A second cleanup is a no-op.
  auto twice = RestoreMirrorConfig(cfg.string());
  REQUIRE(twice.ok());
  CHECK_FALSE(twice->had_backup);
  CHECK(Tree(cfg) == before);
}

TEST_CASE("apply: an existing _backup is kept and never overwritten") {
  TempDir tmp;
  const fs::path cfg = tmp.path;
  Write(cfg / "_backup" / "docker.io" / "hosts.toml", kUserToml);
  // A directory written by an earlier run for a registry no longer mirrored: removed.
  auto old = Config({"http://127.0.0.1:5009"});
  Write(cfg / "127.0.0.1:5009" / "hosts.toml", Expected(old, 0));
  // A crash left a staging directory: removed.
  Write(cfg / ".spegel-new-docker.io" / "hosts.toml", "partial");

  auto c = Config({"https://docker.io"});
  auto r = ApplyMirrorConfig(cfg.string(), c);
  REQUIRE(r.ok());
  CHECK(r->backed_up.empty());
  CHECK(r->removed == std::vector<std::string>{".spegel-new-docker.io", "127.0.0.1:5009"});
  CHECK(Tree(cfg) == std::map<std::string, std::string>{{"_backup", "<dir>"},
                                                        {"_backup/docker.io", "<dir>"},
                                                        {"_backup/docker.io/hosts.toml", kUserToml},
                                                        {"docker.io", "<dir>"},
                                                        {"docker.io/hosts.toml", Expected(c, 0)}});
}

TEST_CASE("apply: prepend keeps existing hosts and copies the files next to them") {
  TempDir tmp;
  const fs::path cfg = tmp.path;
  Write(cfg / "docker.io" / "hosts.toml", kUserToml);
  Write(cfg / "docker.io" / "ca.crt", "CERT\n");
  Write(cfg / "docker.io" / "client" / "key.pem", "KEY\n");
  Write(cfg / "quay.io" / "ca.crt", "QUAY\n");  // no hosts.toml: nothing to prepend or copy

  auto c = Config({"https://docker.io", "https://quay.io"}, true);
  auto r = ApplyMirrorConfig(cfg.string(), c);
  REQUIRE(r.ok());
  auto tree = Tree(cfg);
  CHECK(tree["docker.io/hosts.toml"] ==
        Expected(c, 0,
                 "[host.\"https://mirror.corp\"]\n  capabilities = [\"pull\"]\n  ca = \"ca.crt\""));
  CHECK(tree["docker.io/ca.crt"] == "CERT\n");
  CHECK(tree["docker.io/client/key.pem"] == "KEY\n");
  CHECK(tree["_backup/docker.io/ca.crt"] == "CERT\n");
  CHECK(tree["quay.io/hosts.toml"] == Expected(c, 1));
  CHECK(tree.count("quay.io/ca.crt") == 0);

  // Re-running keeps the same result (reads the backup, not its own file).
  REQUIRE(ApplyMirrorConfig(cfg.string(), c).ok());
  CHECK(Tree(cfg) == tree);

  REQUIRE(RestoreMirrorConfig(cfg.string()).ok());
  auto back = Tree(cfg);
  CHECK(back["docker.io/hosts.toml"] == kUserToml);
  CHECK(back["docker.io/client/key.pem"] == "KEY\n");
  CHECK(back["quay.io/ca.crt"] == "QUAY\n");
  CHECK(back.count("_backup") == 0);
}

TEST_CASE("apply: prepend with a hosts.toml it cannot delimit fails naming the file") {
  TempDir tmp;
  Write(tmp.path / "docker.io" / "hosts.toml", "server = 'unterminated\n");
  auto r = ApplyMirrorConfig(tmp.path.string(), Config({"https://docker.io"}, true));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("_backup/docker.io/hosts.toml") != std::string::npos);
  // The user's file is safe in _backup, and cleanup brings it back.
  REQUIRE(RestoreMirrorConfig(tmp.path.string()).ok());
  CHECK(Read(tmp.path / "docker.io" / "hosts.toml") == "server = 'unterminated\n");
}

TEST_CASE("entries the user adds later are backed up, restored, and never deleted") {
  TempDir tmp;
  const fs::path cfg = tmp.path;
  Write(cfg / "docker.io" / "hosts.toml", kUserToml);
  auto c = Config({"https://docker.io"});
  REQUIRE(ApplyMirrorConfig(cfg.string(), c).ok());

  Write(cfg / "new.io" / "hosts.toml", "server = 'https://new.io'\n");
  auto r = ApplyMirrorConfig(cfg.string(), c);
  REQUIRE(r.ok());
  CHECK(r->backed_up == std::vector<std::string>{"new.io"});
  CHECK(Read(cfg / "_backup" / "new.io" / "hosts.toml") == "server = 'https://new.io'\n");

  // A name both in config_path (not Spegel's) and in _backup: nothing changes.
  Write(cfg / "new.io" / "hosts.toml", "second\n");
  const auto before = Tree(cfg);
  auto conflict = ApplyMirrorConfig(cfg.string(), c);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.status().message().find((cfg / "new.io").string()) != std::string::npos);
  CHECK(Tree(cfg) == before);
  auto conflict2 = RestoreMirrorConfig(cfg.string());
  REQUIRE_FALSE(conflict2.ok());
  CHECK(Tree(cfg) == before);

  fs::remove_all(cfg / "new.io");
  Write(cfg / "other.io" / "hosts.toml", "mine\n");  // added after, no conflict: kept
  REQUIRE(RestoreMirrorConfig(cfg.string()).ok());
  CHECK(Tree(cfg) ==
        std::map<std::string, std::string>{{"docker.io", "<dir>"},
                                           {"docker.io/hosts.toml", kUserToml},
                                           {"new.io", "<dir>"},
                                           {"new.io/hosts.toml", "server = 'https://new.io'\n"},
                                           {"other.io", "<dir>"},
                                           {"other.io/hosts.toml", "mine\n"}});
}

TEST_CASE("cleanup without a config dir or _backup does nothing") {
  TempDir tmp;
  auto missing = RestoreMirrorConfig((tmp.path / "nope").string());
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->had_backup);
  Write(tmp.path / "docker.io" / "hosts.toml", kUserToml);
  auto none = RestoreMirrorConfig(tmp.path.string());
  REQUIRE(none.ok());
  CHECK_FALSE(none->had_backup);
  CHECK(Read(tmp.path / "docker.io" / "hosts.toml") == kUserToml);
}

TEST_CASE("apply: a path that is not a directory fails naming it") {
  TempDir tmp;
  Write(tmp.path / "file", "x");
  auto r = ApplyMirrorConfig((tmp.path / "file").string(), Config({}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find((tmp.path / "file").string()) != std::string::npos);
  auto below = ApplyMirrorConfig((tmp.path / "file" / "certs.d").string(), Config({}));
  REQUIRE_FALSE(below.ok());
  CHECK(below.status().message().find("file/certs.d") != std::string::npos);
}

TEST_CASE("ReadBasicAuthorization") {
  TempDir tmp;
  auto none = ReadBasicAuthorization((tmp.path / "absent").string());
  REQUIRE(none.ok());
  CHECK(*none == "");
  auto empty_dir = ReadBasicAuthorization(tmp.path.string());
  REQUIRE(empty_dir.ok());
  CHECK(*empty_dir == "");

  Write(tmp.path / "password", "world");
  auto password_only = ReadBasicAuthorization(tmp.path.string());
  REQUIRE_FALSE(password_only.ok());
  CHECK(password_only.status().message().find("username") != std::string::npos);
  fs::remove(tmp.path / "password");

  Write(tmp.path / "username", "hello\n");
  auto user_only = ReadBasicAuthorization(tmp.path.string());
  REQUIRE(user_only.ok());
  CHECK(*user_only == auth::BasicAuthorization({"hello", ""}));

  Write(tmp.path / "password", "world\r\n");
  auto both = ReadBasicAuthorization(tmp.path.string());
  REQUIRE(both.ok());
  CHECK(*both == "Basic aGVsbG86d29ybGQ=");

  // Kubernetes Secret mounts are symlinks.
  fs::remove(tmp.path / "password");
  Write(tmp.path / "..data" / "password", "world");
  fs::create_symlink("..data/password", tmp.path / "password");
  CHECK(*ReadBasicAuthorization(tmp.path.string()) == "Basic aGVsbG86d29ybGQ=");

  Write(tmp.path / "big" / "username", std::string(5000, 'a'));
  auto big = ReadBasicAuthorization((tmp.path / "big").string());
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().message().find("big/username") != std::string::npos);

  fs::create_directories(tmp.path / "dir" / "username");
  CHECK_FALSE(ReadBasicAuthorization((tmp.path / "dir").string()).ok());
}

}  // namespace
}  // namespace spegel::node
