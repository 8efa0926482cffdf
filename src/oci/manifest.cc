#include "oci/manifest.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <string>
#include <utility>

#include "oci/media_types.h"
#include "oci/quote.h"

namespace spegel::oci {
namespace {

using rapidjson::Value;

// Iterative parsing keeps the call stack flat whatever the input; encoding validation refuses
// bytes that are not UTF-8 (they would otherwise reach headers and logs).
constexpr unsigned kParseFlags = rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseIterativeFlag;

Status Invalid(std::string problem) {
  return Status::InvalidArgument("invalid manifest: " + std::move(problem));
}

std::string_view View(const Value& string_value) {
  return {string_value.GetString(), string_value.GetStringLength()};
}

// One pass before parsing: refuses NUL bytes (RapidJSON's in-memory stream reads NUL as end of
// input, which would let "{...}\0garbage" through as a complete document) and nesting deeper than
// kMaxManifestDepth. Unbalanced brackets are left to the parser to report.
Status CheckRawText(std::string_view json) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '\0') return Invalid("NUL byte at offset " + std::to_string(i));
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxManifestDepth) {
        return Invalid("nested deeper than " + std::to_string(kMaxManifestDepth) +
                       " levels at offset " + std::to_string(i));
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return Status::Ok();
}

// Returns the member `key` of `object`, nullptr when absent, or an error when the key occurs more
// than once. REQUIRES: object.IsObject().
Result<const Value*> FindUnique(const Value& object, std::string_view key, std::string_view where) {
  const Value* found = nullptr;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    if (View(it->name) != key) continue;
    if (found != nullptr)
      return Invalid(std::string(where) + "has duplicate key \"" + std::string(key) + "\"");
    found = &it->value;
  }
  return found;
}

// Reads an optional string member; `*out` is untouched when it is absent.
Status ReadString(const Value& object, std::string_view key, std::string_view where, bool required,
                  std::string* out) {
  Result<const Value*> v = FindUnique(object, key, where);
  if (!v.ok()) return v.status();
  if (*v == nullptr) {
    return required ? Invalid(std::string(where) + "missing \"" + std::string(key) + "\"")
                    : Status::Ok();
  }
  if (!(*v)->IsString()) {
    return Invalid(std::string(where) + "\"" + std::string(key) + "\" must be a string");
  }
  *out = std::string(View(**v));
  return Status::Ok();
}

Result<Platform> ParsePlatform(const Value& v, const std::string& where) {
  if (!v.IsObject()) return Invalid(where + "must be an object");
  Platform p;
  if (Status s = ReadString(v, "os", where, true, &p.os); !s.ok()) return s;
  if (Status s = ReadString(v, "architecture", where, true, &p.architecture); !s.ok()) return s;
  if (Status s = ReadString(v, "variant", where, false, &p.variant); !s.ok()) return s;
  return p;
}

// `where` names the descriptor in messages, e.g. "layers[2]: ".
Result<Descriptor> ParseDescriptor(const Value& v, const std::string& where, bool with_platform) {
  if (!v.IsObject()) return Invalid(where + "descriptor must be an object");
  std::string media_type;
  if (Status s = ReadString(v, "mediaType", where, true, &media_type); !s.ok()) return s;
  if (!IsValidMediaType(media_type)) {
    return Invalid(where + "mediaType " + Quote(media_type) + " is not a valid media type");
  }
  std::string digest_text;
  if (Status s = ReadString(v, "digest", where, true, &digest_text); !s.ok()) return s;
  Result<Digest> digest = Digest::Parse(digest_text);
  if (!digest.ok()) return Invalid(where + digest.status().message());

  Result<const Value*> size = FindUnique(v, "size", where);
  if (!size.ok()) return size.status();
  if (*size == nullptr) return Invalid(where + "missing \"size\"");
  // RapidJSON stores integers beyond int64 range and anything with a fraction or exponent as a
  // double; none of those is a valid size.
  if (!(*size)->IsInt64() || (*size)->GetInt64() < 0) {
    return Invalid(where + "\"size\" must be a non-negative integer below 2^63");
  }

  Descriptor d{std::move(media_type), std::move(digest).value(), (*size)->GetInt64(), std::nullopt};
  if (with_platform) {
    Result<const Value*> platform = FindUnique(v, "platform", where);
    if (!platform.ok()) return platform.status();
    if (*platform != nullptr) {
      Result<Platform> p = ParsePlatform(**platform, where + "platform: ");
      if (!p.ok()) return p.status();
      d.platform = std::move(p).value();
    }
  }
  return d;
}

Status ParseDescriptorArray(const Value& array, std::string_view name, bool with_platform,
                            std::vector<Descriptor>* out) {
  if (!array.IsArray()) return Invalid("\"" + std::string(name) + "\" must be an array");
  out->reserve(array.Size());
  for (rapidjson::SizeType i = 0; i < array.Size(); ++i) {
    Result<Descriptor> d = ParseDescriptor(array[i],
                                           std::string(name) + "[" + std::to_string(i) + "]: ",
                                           with_platform);
    if (!d.ok()) return d.status();
    out->push_back(std::move(d).value());
  }
  return Status::Ok();
}

// "application/json; charset=utf-8" -> "application/json".
std::string_view StripParameters(std::string_view media_type) {
  media_type = media_type.substr(0, media_type.find(';'));
  while (!media_type.empty() && (media_type.back() == ' ' || media_type.back() == '\t')) {
    media_type.remove_suffix(1);
  }
  while (!media_type.empty() && (media_type.front() == ' ' || media_type.front() == '\t')) {
    media_type.remove_prefix(1);
  }
  return media_type;
}

Status Schema1() { return Status::Unimplemented("schema1 not supported"); }

}  // namespace

Result<ParsedManifest> ParseManifest(std::string_view json, std::string_view declared_media_type) {
  if (json.size() > kMaxManifestBytes) {
    return Status::ResourceExhausted("manifest of " + std::to_string(json.size()) +
                                     " bytes exceeds the limit of " +
                                     std::to_string(kMaxManifestBytes));
  }
  const std::string_view declared = StripParameters(declared_media_type);
  if (IsSchema1MediaType(declared)) return Schema1();
  if (Status s = CheckRawText(json); !s.ok()) return s;

  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError()) {
    return Invalid(std::string("JSON error at offset ") + std::to_string(doc.GetErrorOffset()) +
                   ": " + rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return Invalid("the top level must be a JSON object");

  Result<const Value*> version = FindUnique(doc, "schemaVersion", "");
  if (!version.ok()) return version.status();
  if (*version == nullptr) return Invalid("missing \"schemaVersion\"");
  if (!(*version)->IsInt()) return Invalid("\"schemaVersion\" must be an integer");
  if ((*version)->GetInt() == 1) return Schema1();
  if ((*version)->GetInt() != 2) {
    return Invalid("\"schemaVersion\" must be 2, got " + std::to_string((*version)->GetInt()));
  }

  ParsedManifest out;
  Result<const Value*> json_type = FindUnique(doc, "mediaType", "");
  if (!json_type.ok()) return json_type.status();
  if (*json_type != nullptr) {
    if (!(*json_type)->IsString()) return Invalid("\"mediaType\" must be a string");
    const std::string_view type = View(**json_type);
    if (IsSchema1MediaType(type)) return Schema1();
    if (!IsManifestMediaType(type)) {
      return Invalid("\"mediaType\" " + Quote(type) + " is not a manifest or index type");
    }
    if (IsManifestMediaType(declared) && declared != type) {
      return Invalid("\"mediaType\" " + Quote(type) + " disagrees with the declared " +
                     Quote(declared));
    }
    out.media_type = std::string(type);
  } else if (IsManifestMediaType(declared)) {
    out.media_type = std::string(declared);
  }

  Result<const Value*> manifests = FindUnique(doc, "manifests", "");
  if (!manifests.ok()) return manifests.status();
  Result<const Value*> config = FindUnique(doc, "config", "");
  if (!config.ok()) return config.status();
  Result<const Value*> layers = FindUnique(doc, "layers", "");
  if (!layers.ok()) return layers.status();

  if (out.media_type.empty()) {
    if (*manifests != nullptr && (*manifests)->IsArray() && *config == nullptr &&
        *layers == nullptr) {
      out.media_type = std::string(kOciImageIndex);
    } else if (*manifests == nullptr && *config != nullptr && *layers != nullptr) {
      out.media_type = std::string(kOciImageManifest);
    } else {
      return Invalid(
          "no manifest mediaType, and neither a \"manifests\" array (index) nor \"config\" and "
          "\"layers\" (manifest)");
    }
  }

  if (IsIndexMediaType(out.media_type)) {
    out.kind = ManifestKind::kIndex;
    if (*manifests == nullptr) return Invalid("index without \"manifests\"");
    if (Status s = ParseDescriptorArray(**manifests, "manifests", true, &out.manifests); !s.ok()) {
      return s;
    }
    return out;
  }

  out.kind = ManifestKind::kManifest;
  if (*config == nullptr) return Invalid("manifest without \"config\"");
  if (*layers == nullptr) return Invalid("manifest without \"layers\"");
  Result<Descriptor> config_descriptor = ParseDescriptor(**config, "config: ", false);
  if (!config_descriptor.ok()) return config_descriptor.status();
  out.config = std::move(config_descriptor).value();
  if (Status s = ParseDescriptorArray(**layers, "layers", false, &out.layers); !s.ok()) return s;
  return out;
}

}  // namespace spegel::oci
