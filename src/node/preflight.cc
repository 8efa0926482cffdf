#include "node/preflight.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "base/log.h"
#include "node/toml.h"

namespace spegel::node {

namespace {

constexpr char kCriV2Plugin[] = "io.containerd.grpc.v1.cri";    // config version 2 (1.x, 2.x)
constexpr char kCriImagesV3[] = "io.containerd.cri.v1.images";  // config version 3 (2.x)

struct ParsedVersion {
  bool known = false;
  int major = 0;
  int minor = 0;
};

// "1.6.20~ds1", "v2.1.4", "2.1.0-rc.1" -> major.minor.
ParsedVersion ParseVersion(std::string_view v) {
  ParsedVersion out;
  if (!v.empty() && v[0] == 'v') v.remove_prefix(1);
  auto number = [&v](int* n) {
    size_t i = 0;
    int value = 0;
    while (i < v.size() && i < 6 && v[i] >= '0' && v[i] <= '9') value = value * 10 + (v[i++] - '0');
    if (i == 0) return false;
    v.remove_prefix(i);
    *n = value;
    return true;
  };
  if (!number(&out.major) || v.empty() || v[0] != '.') return out;
  v.remove_prefix(1);
  if (!number(&out.minor)) return out;
  out.known = true;
  return out;
}

// A setting and where its value came from, for messages.
template <typename T>
struct Setting {
  std::optional<T> value;
  std::string source;  // "containerd reports", "line 12 of /etc/containerd/config.toml", ...
};

// What the CRI verbose info says (containerd's effective configuration).
struct CriFacts {
  Setting<std::string> config_path;
  Setting<bool> discard;
  Setting<bool> local_pull;
};

const rapidjson::Value* Member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

void ReadCriJson(const std::string& json, CriFacts* out) {
  rapidjson::Document doc;
  // Iterative: a deeply nested document cannot exhaust the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return;
  const std::string source = "reported by containerd's CRI status";
  if (!out->config_path.value) {
    if (const auto* registry = Member(doc, "registry")) {
      if (const auto* p = Member(*registry, "configPath"); p != nullptr && p->IsString()) {
        out->config_path = {std::string(p->GetString(), p->GetStringLength()), source};
      }
    }
  }
  auto find_bool = [&](const char* name, Setting<bool>* setting) {
    if (setting->value) return;
    const rapidjson::Value* v = Member(doc, name);
    if (v == nullptr) {
      if (const auto* c = Member(doc, "containerd")) v = Member(*c, name);
    }
    if (v != nullptr && v->IsBool()) *setting = {v->GetBool(), source};
  };
  find_bool("discardUnpackedLayers", &out->discard);
  find_bool("useLocalImagePull", &out->local_pull);
}

CriFacts ReadCriInfo(const std::map<std::string, std::string>& info) {
  CriFacts out;
  // "config" is where 1.x puts the CRI configuration; look there first, then anywhere else.
  if (auto it = info.find("config"); it != info.end()) ReadCriJson(it->second, &out);
  for (const auto& [key, json] : info) {
    if (key != "config") ReadCriJson(json, &out);
  }
  return out;
}

// What the config file says, per schema.
struct FileFacts {
  bool present = false;           // the file exists and parsed
  bool absent = false;            // the file does not exist: containerd runs on its defaults
  std::string problem;            // why it could not be used (unreadable, does not parse)
  std::optional<int64_t> schema;  // `version = N`
  Setting<std::string> config_path;
  Setting<bool> discard;
  Setting<bool> local_pull;
};

FileFacts ReadFile(const Result<std::string>& text, const std::string& path, bool v2x) {
  FileFacts out;
  if (!text.ok()) {
    if (text.status().IsNotFound()) {
      out.absent = true;
    } else {
      out.problem = "cannot read " + path + ": " + text.status().message();
    }
    return out;
  }
  auto doc = ParseToml(*text);
  if (!doc.ok()) {
    out.problem = "cannot parse " + path + ": " + doc.status().message();
    return out;
  }
  out.present = true;
  out.schema = doc->FindInt({"version"});
  // Tables to look in, most specific first. containerd 2.x reads the version 3 names and
  // migrates version 2 files; 1.x knows only the version 2 (and the old version 1) names.
  std::vector<TomlPath> images_tables;  // holds discard_unpacked_layers / use_local_image_pull
  std::vector<TomlPath> registry_tables;
  if (v2x) {
    images_tables.push_back({"plugins", kCriImagesV3});
    registry_tables.push_back({"plugins", kCriImagesV3, "registry"});
  }
  images_tables.push_back({"plugins", kCriV2Plugin, "containerd"});
  registry_tables.push_back({"plugins", kCriV2Plugin, "registry"});
  if (!v2x) {
    images_tables.push_back({"plugins", "cri", "containerd"});
    registry_tables.push_back({"plugins", "cri", "registry"});
  }
  auto where = [&path](const TomlValue& v) {
    return "line " + std::to_string(v.line) + " of " + path;
  };
  for (const auto& table : registry_tables) {
    TomlPath key = table;
    key.push_back("config_path");
    if (const TomlValue* v = doc->Find(key); v != nullptr && v->kind == TomlValue::Kind::kString) {
      out.config_path = {v->text, where(*v)};
      break;
    }
  }
  for (const auto& table : images_tables) {
    TomlPath key = table;
    key.push_back("discard_unpacked_layers");
    if (const TomlValue* v = doc->Find(key); v != nullptr && v->kind == TomlValue::Kind::kBool) {
      out.discard = {v->boolean, where(*v)};
      break;
    }
  }
  if (const TomlValue* v = doc->Find({"plugins", kCriImagesV3, "use_local_image_pull"});
      v != nullptr && v->kind == TomlValue::Kind::kBool) {
    out.local_pull = {v->boolean, where(*v)};
  }
  return out;
}

std::string NormalizeDir(const std::string& p) {
  std::string s = std::filesystem::path(p).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// containerd splits config_path like a PATH variable (filepath.SplitList).
std::vector<std::string> SplitList(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(':', start);
    if (end == std::string::npos) end = value.size();
    if (end > start) out.push_back(value.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

PreflightResult EvaluatePreflight(const ContainerdFacts& facts, const PreflightOptions& options) {
  PreflightResult result;
  const auto unreachable = [](const Status& s) {
    return s.code() == Code::kUnavailable || s.code() == Code::kDeadlineExceeded;
  };
  if (!facts.version.ok() && unreachable(facts.version.status()) &&
      (facts.cri_info.ok() ? false : unreachable(facts.cri_info.status()))) {
    result.verdict = PreflightVerdict::kUnverified;
    result.warnings.push_back("cannot reach containerd: " + facts.version.status().message());
    return result;
  }

  ParsedVersion version;
  if (facts.version.ok()) {
    result.version = *facts.version;
    version = ParseVersion(*facts.version);
    if (!version.known) {
      result.warnings.push_back("unrecognised containerd version \"" + *facts.version +
                                "\": the containerd 2.1 transfer-service check was skipped");
    }
  } else {
    result.warnings.push_back("cannot read containerd's version (" +
                              facts.version.status().ToString() +
                              "): the containerd 2.1 transfer-service check was skipped");
  }
  const bool v2x = version.known && version.major >= 2;
  const bool v21 = version.known &&
                   (version.major > 2 || (version.major == 2 && version.minor >= 1));

  CriFacts cri;
  if (facts.cri_info.ok()) {
    cri = ReadCriInfo(*facts.cri_info);
  } else {
    result.warnings.push_back("cannot read containerd's CRI status (" +
                              facts.cri_info.status().ToString() + "); judging from " +
                              options.containerd_config + " alone");
  }
  const std::string& file_path = options.containerd_config;
  FileFacts file = ReadFile(facts.config_text, file_path, v2x);
  if (!file.problem.empty()) result.warnings.push_back(file.problem);

  // The schema the fix must use: version 3 names on 2.x unless the file is a version 2 file.
  const bool v3_schema = file.schema ? *file.schema >= 3 : v2x;
  const std::string images_table = v3_schema ? std::string("[plugins.\"") + kCriImagesV3 + "\"]"
                                             : std::string("[plugins.\"") + kCriV2Plugin +
                                                   "\".containerd]";
  const std::string registry_table = v3_schema ? std::string("[plugins.\"") + kCriImagesV3 +
                                                     "\".registry]"
                                               : std::string("[plugins.\"") + kCriV2Plugin +
                                                     "\".registry]";

  std::vector<std::string> problems;
  std::vector<std::string> images_lines;
  bool fix_registry = false;
  const std::string want_dir = NormalizeDir(options.registry_config_path);

  // containerd >= 2.1 sends CRI pulls through the transfer service unless
  // use_local_image_pull = true. The transfer service reads config_path as ONE directory
  // (containerd#12415, #12636): a list, such as 2.2's default
  // '/etc/containerd/certs.d:/etc/docker/certs.d', names no directory and every mirror is
  // ignored. Local pulls split it like PATH. Transfer: true, false, or not known.
  std::optional<bool> transfer;
  std::string transfer_source;
  if (v21) {
    Setting<bool> local = cri.local_pull.value ? cri.local_pull : file.local_pull;
    if (!local.value && file.present) local = {false, "not set in " + file_path};
    // An absent file is not definite: in a pod it is often just not mounted.
    if (local.value) {
      transfer = !*local.value;
      transfer_source = local.source;
    }
  } else {
    transfer = false;
  }

  // 1. config_path: effective value from CRI, else the file.
  Setting<std::string> config_path = cri.config_path.value ? cri.config_path : file.config_path;
  if (config_path.value) {
    result.config_path = *config_path.value;
    std::vector<std::string> dirs = SplitList(*config_path.value);
    bool covered = false;
    for (const auto& d : dirs) covered = covered || NormalizeDir(d) == want_dir;
    if (dirs.empty()) {
      problems.push_back("config_path is not set (" + config_path.source +
                         "), so containerd never reads the hosts.toml files Spegel writes under " +
                         options.registry_config_path + ".");
      fix_registry = true;
    } else if (!covered) {
      problems.push_back("config_path is " + Quote(*config_path.value) + " (" + config_path.source +
                         "), which does not include " + options.registry_config_path +
                         ", the directory where Spegel writes hosts.toml files; containerd would "
                         "never read them. Either set config_path as below, or run Spegel with "
                         "--containerd-registry-config-path " +
                         dirs.front() + ".");
      fix_registry = true;
    } else if (dirs.size() > 1 && transfer.value_or(false)) {
      problems.push_back(
          "config_path is the list " + Quote(*config_path.value) + " (" + config_path.source +
          ") and containerd " + result.version +
          " pulls through the transfer service (use_local_image_pull is false: " + transfer_source +
          "), which reads config_path as one directory: no directory has that name, so every "
          "mirror is ignored. Set config_path to the one directory Spegel writes (below), or "
          "set use_local_image_pull = true (then a list is read entry by entry).");
      fix_registry = true;
    } else if (dirs.size() > 1 && !transfer) {
      result.warnings.push_back(
          "config_path " + Quote(*config_path.value) +
          " is a list; could not tell whether containerd " + result.version +
          " pulls through the transfer service (" +
          (file.absent ? file_path + " does not exist here"
                       : std::string("its config file could not be read")) +
          "), which reads config_path as one directory and would ignore every mirror; set "
          "use_local_image_pull = true under [plugins.\"" +
          kCriImagesV3 + "\"] or a single directory");
    }
  } else {
    result.warnings.push_back(
        "could not tell containerd's registry config_path (neither the CRI "
        "status nor " +
        file_path + " says)");
  }

  // 2. discard_unpacked_layers.
  Setting<bool> discard = cri.discard.value ? cri.discard : file.discard;
  if (discard.value && *discard.value) {
    problems.push_back("discard_unpacked_layers is true (" + discard.source +
                       "): containerd deletes the compressed layers after unpacking them, so "
                       "Spegel has nothing to serve.");
    images_lines.push_back("discard_unpacked_layers = false");
  }

  if (problems.empty()) return result;

  std::string m = "containerd is not configured for Spegel (containerd " +
                  (result.version.empty() ? std::string("of unknown version") : result.version) +
                  ", config file " + file_path + "):\n";
  for (const auto& p : problems) m += "  - " + p + "\n";
  m += "Fix: add these lines to " + file_path +
       " (each key under its table; if the table is already there, set the key in it), then "
       "restart containerd:\n";
  if (!images_lines.empty()) {
    m += "  " + images_table + "\n";
    for (const auto& l : images_lines) m += "    " + l + "\n";
  }
  if (fix_registry) {
    m += "  " + registry_table + "\n";
    m += "    config_path = " + Quote(options.registry_config_path) + "\n";
  }
  m.pop_back();
  result.verdict = PreflightVerdict::kRefuse;
  result.message = std::move(m);
  return result;
}

ContainerdFacts GatherContainerdFacts(const PreflightSources& sources,
                                      const PreflightOptions& options) {
  ContainerdFacts facts;
  if (sources.containerd_version) facts.version = sources.containerd_version();
  if (sources.cri_info) facts.cri_info = sources.cri_info();
  if (sources.read_file) facts.config_text = sources.read_file(options.containerd_config);
  return facts;
}

PreflightResult RunPreflight(const PreflightSources& sources, const PreflightOptions& options) {
  PreflightResult r = EvaluatePreflight(GatherContainerdFacts(sources, options), options);
  for (const auto& w : r.warnings) {
    LOG_WARN("preflight warning")
        .Str("warning", w)
        .Str("containerd_config", options.containerd_config);
  }
  switch (r.verdict) {
    case PreflightVerdict::kPass:
      LOG_INFO("preflight passed")
          .Str("containerd_version", r.version)
          .Str("config_path", r.config_path)
          .Str("registry_config_path", options.registry_config_path);
      break;
    case PreflightVerdict::kRefuse:
      LOG_ERROR("preflight refused")
          .Str("error", r.message)
          .Str("containerd_version", r.version)
          .Str("containerd_config", options.containerd_config);
      break;
    case PreflightVerdict::kUnverified:
      LOG_WARN("preflight could not reach containerd; not checked");
      break;
  }
  return r;
}

Result<std::string> ReadConfigFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) return Status::NotFound(path + " does not exist");
    if (e == EACCES || e == EPERM)
      return Status(Code::kPermissionDenied, path + ": " + strerror(e));
    return Status::Unavailable(path + ": " + strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::InvalidArgument(path + " is not a regular file");
  }
  if (st.st_size > static_cast<off_t>(kMaxConfigBytes)) {
    close(fd);
    return Status::InvalidArgument(path + " is larger than " + std::to_string(kMaxConfigBytes) +
                                   " bytes");
  }
  std::string text;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return Status::Unavailable(path + ": " + strerror(e));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      close(fd);
      return Status::InvalidArgument(path + " is larger than " + std::to_string(kMaxConfigBytes) +
                                     " bytes");
    }
  }
  close(fd);
  return text;
}

}  // namespace spegel::node
