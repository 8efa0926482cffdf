#include "oci/manifest.h"

#include <doctest/doctest.h>

#include <string>

#include "oci/media_types.h"

namespace spegel::oci {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

// A real-shaped OCI image manifest (as written by buildkit), with annotations.
const std::string kOciManifest = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": ")" +
                                 kA +
                                 R"(", "size": 1470},
  "layers": [
    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ")" +
                                 kB +
                                 R"(", "size": 3623807},
    {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": ")" +
                                 kC +
                                 R"(", "size": 0,
     "annotations": {"org.opencontainers.image.title": "x"}}
  ],
  "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
})";

const std::string kDockerManifestJson = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": ")" +
                                        kA + R"("},
  "layers": [
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654, "digest": ")" +
                                        kB + R"("},
    {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "size": 16724, "digest": ")" +
                                        kC + R"(", "urls": ["https://example.com/layer"]}
  ]
})";

const std::string kMultiPlatformIndex = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")" +
                                        kA +
                                        R"(", "size": 1000,
     "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")" +
                                        kB +
                                        R"(", "size": 1001,
     "platform": {"architecture": "arm64", "os": "linux", "variant": "v8", "os.features": ["x"]}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")" +
                                        kC +
                                        R"(", "size": 566,
     "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
     "platform": {"architecture": "unknown", "os": "unknown"}}
  ]
})";

const std::string kDockerList = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "manifests": [
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 7143, "digest": ")" +
                                kA + R"(", "platform": {"architecture": "ppc64le", "os": "linux"}}
  ]
})";

// Builds a manifest JSON whose first layer descriptor has `layer_fields` as its body.
std::string ManifestWithLayer(const std::string& layer_fields) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         kA + R"(","size":1},"layers":[{)" + layer_fields + "}]}";
}

std::string Error(std::string_view json, std::string_view declared = "") {
  Result<ParsedManifest> r = ParseManifest(json, declared);
  if (r.ok()) return "OK";
  return r.status().ToString();
}

TEST_CASE("OCI image manifest: config and layers") {
  Result<ParsedManifest> r = ParseManifest(kOciManifest, kOciImageManifest);
  REQUIRE(r.ok());
  CHECK(r->media_type == kOciImageManifest);
  CHECK(r->kind == ManifestKind::kManifest);
  CHECK(r->manifests.empty());
  REQUIRE(r->config.has_value());
  CHECK(r->config->media_type == kOciImageConfig);
  CHECK(r->config->digest.str() == kA);
  CHECK(r->config->size == 1470);
  REQUIRE(r->layers.size() == 2);
  CHECK(r->layers[0].media_type == kOciLayerTarGzip);
  CHECK(r->layers[0].digest.str() == kB);
  CHECK(r->layers[0].size == 3623807);
  CHECK(r->layers[1].media_type == kOciLayerTarZstd);
  CHECK(r->layers[1].size == 0);
  CHECK_FALSE(r->layers[1].platform.has_value());
}

TEST_CASE("Docker schema2 manifest, including a foreign layer") {
  Result<ParsedManifest> r = ParseManifest(kDockerManifestJson, "");
  REQUIRE(r.ok());
  CHECK(r->media_type == kDockerManifest);
  CHECK(r->kind == ManifestKind::kManifest);
  CHECK(r->config->media_type == kDockerConfig);
  REQUIRE(r->layers.size() == 2);
  CHECK(r->layers[1].media_type == kDockerLayerForeignTarGzip);
  CHECK(r->layers[1].size == 16724);
}

TEST_CASE("Multi-platform OCI index with platforms and an attestation entry") {
  Result<ParsedManifest> r = ParseManifest(kMultiPlatformIndex, kOciImageIndex);
  REQUIRE(r.ok());
  CHECK(r->kind == ManifestKind::kIndex);
  CHECK(r->media_type == kOciImageIndex);
  CHECK_FALSE(r->config.has_value());
  CHECK(r->layers.empty());
  REQUIRE(r->manifests.size() == 3);
  REQUIRE(r->manifests[0].platform.has_value());
  CHECK(*r->manifests[0].platform == Platform{"linux", "amd64", ""});
  CHECK(*r->manifests[1].platform == Platform{"linux", "arm64", "v8"});
  CHECK(r->manifests[1].digest.str() == kB);
  CHECK(r->manifests[2].platform->os == "unknown");
  CHECK(r->manifests[2].size == 566);
}

TEST_CASE("Docker manifest list") {
  Result<ParsedManifest> r = ParseManifest(kDockerList, kDockerManifestList);
  REQUIRE(r.ok());
  CHECK(r->kind == ManifestKind::kIndex);
  CHECK(r->media_type == kDockerManifestList);
  REQUIRE(r->manifests.size() == 1);
  CHECK(r->manifests[0].media_type == kDockerManifest);
  CHECK(r->manifests[0].platform->architecture == "ppc64le");
}

TEST_CASE("Media type: declared type, fingerprints, conflicts") {
  const std::string index_no_type =
      R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      kA + R"(","size":5}]})";
  const std::string manifest_no_type =
      R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      kA + R"(","size":5},"layers":[]})";

  // Declared type is used when the document has none (parameters are ignored).
  CHECK(ParseManifest(index_no_type, kDockerManifestList)->media_type == kDockerManifestList);
  CHECK(ParseManifest(manifest_no_type,
                      "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8")
            ->media_type == kDockerManifest);
  // Fingerprinted when neither says.
  CHECK(ParseManifest(index_no_type, "")->media_type == kOciImageIndex);
  CHECK(ParseManifest(index_no_type, kOctetStream)->kind == ManifestKind::kIndex);
  Result<ParsedManifest> fingerprinted = ParseManifest(manifest_no_type, kOctetStream);
  REQUIRE(fingerprinted.ok());
  CHECK(fingerprinted->media_type == kOciImageManifest);
  CHECK(fingerprinted->layers.empty());
  // Document type wins over a non-manifest declared type.
  CHECK(ParseManifest(kOciManifest, kOctetStream)->media_type == kOciImageManifest);
  // Conflicts.
  CHECK(Error(kOciManifest, kOciImageIndex).find("disagrees") != std::string::npos);
  CHECK(Error(kOciManifest, kDockerManifest).rfind("InvalidArgument", 0) == 0);
  // Declared as index but shaped as a manifest: no "manifests".
  CHECK(Error(manifest_no_type, kOciImageIndex).find("index without \"manifests\"") !=
        std::string::npos);
  CHECK(Error(index_no_type, kOciImageManifest).find("manifest without \"config\"") !=
        std::string::npos);
  // Nothing to go on.
  CHECK(Error(R"({"schemaVersion":2})").find("neither") != std::string::npos);
  CHECK(Error(R"({"schemaVersion":2,"manifests":[],"layers":[]})").find("neither") !=
        std::string::npos);
  // A document mediaType that is not a manifest type.
  CHECK(Error(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.config.v1+json"})")
            .find("not a manifest or index type") != std::string::npos);
  CHECK(Error(R"({"schemaVersion":2,"mediaType":7,"manifests":[]})")
            .find("\"mediaType\" must be a string") != std::string::npos);
}

TEST_CASE("An empty index is valid") {
  Result<ParsedManifest> r = ParseManifest(R"({"schemaVersion":2,"manifests":[]})", "");
  REQUIRE(r.ok());
  CHECK(r->kind == ManifestKind::kIndex);
  CHECK(r->manifests.empty());
}

TEST_CASE("Docker schema1 is Unimplemented") {
  const std::string schema1 =
      R"({"schemaVersion":1,"name":"library/x","tag":"1","fsLayers":[{"blobSum":")" + kA +
      R"("}]})";
  for (
      Result<ParsedManifest> r :
      {ParseManifest(schema1, ""), ParseManifest(schema1, kDockerManifestSchema1Signed),
       ParseManifest("not even json", kDockerManifestSchema1),
       ParseManifest(
           R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v1+json"})",
           "")}) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kUnimplemented);
    CHECK(r.status().message() == "schema1 not supported");
  }
}

TEST_CASE("Garbage JSON and wrong top-level shapes") {
  for (const std::string& bad :
       {std::string(""), std::string("   "), std::string("{"), std::string("nul"),
        std::string("[]"), std::string("2"), std::string("\"str\""), std::string("null"),
        std::string("{\"schemaVersion\":2,}"), std::string("{'schemaVersion':2}"),
        std::string("\xff\xfe{}"),
        std::string("{\"schemaVersion\":2,\"manifests\":[]}x"),           // trailing garbage
        std::string("{\"schemaVersion\":2,\"manifests\":[]}{}"),          // two documents
        std::string("{\"schemaVersion\":2,\"manifests\":[]}\0junk", 40),  // NUL then garbage
        std::string("{\"schemaVersion\":2,\"a\":\"\xc3\x28\",\"manifests\":[]}"),  // invalid UTF-8
        std::string("{\"schemaVersion\":NaN,\"manifests\":[]}")}) {
    INFO("input: ", bad);
    Result<ParsedManifest> r = ParseManifest(bad, "");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
  CHECK(Error("{\"schemaVersion\":2,\"manifests\":[]}x").find("JSON error at offset") !=
        std::string::npos);
  CHECK(Error("[]").find("top level must be a JSON object") != std::string::npos);
  CHECK(Error(std::string("{\"schemaVersion\":2,\"manifests\":[]}\0", 35))
            .find("NUL byte at offset 34") != std::string::npos);
}

TEST_CASE("schemaVersion must be the integer 2") {
  CHECK(Error(R"({"manifests":[]})").find("missing \"schemaVersion\"") != std::string::npos);
  CHECK(Error(R"({"schemaVersion":"2","manifests":[]})").find("must be an integer") !=
        std::string::npos);
  CHECK(Error(R"({"schemaVersion":2.0,"manifests":[]})").find("must be an integer") !=
        std::string::npos);
  CHECK(Error(R"({"schemaVersion":3,"manifests":[]})").find("must be 2, got 3") !=
        std::string::npos);
  CHECK(Error(R"({"schemaVersion":99999999999,"manifests":[]})").find("must be an integer") !=
        std::string::npos);
  CHECK(Error(R"({"schemaVersion":2,"schemaVersion":2,"manifests":[]})").find("duplicate key") !=
        std::string::npos);
}

TEST_CASE("Descriptor fields: wrong types, bad digests, bad sizes") {
  const std::string ok_fields =
      R"("mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + kB +
      R"(","size":3)";
  REQUIRE(Error(ManifestWithLayer(ok_fields)) == "OK");

  struct Bad {
    std::string fields;
    std::string message;
  };
  const Bad cases[] = {
      {R"("digest":")" + kB + R"(","size":3)", "layers[0]: missing \"mediaType\""},
      {R"("mediaType":5,"digest":")" + kB + R"(","size":3)", "\"mediaType\" must be a string"},
      {R"("mediaType":"bad type","digest":")" + kB + R"(","size":3)", "is not a valid media type"},
      {R"("mediaType":"a/b\r\nX-Injected: 1","digest":")" + kB + R"(","size":3)",
       "not a valid media type"},
      {R"("mediaType":"a/b","size":3)", "missing \"digest\""},
      {R"("mediaType":"a/b","digest":null,"size":3)", "\"digest\" must be a string"},
      {R"("mediaType":"a/b","digest":"sha256:abc","size":3)", "sha256 hex must be 64 characters"},
      {R"("mediaType":"a/b","digest":"sha256:../../etc/passwd","size":3)", "invalid digest"},
      {R"("mediaType":"a/b","digest":"SHA256:)" + std::string(64, 'a') + R"(","size":3)",
       "unsupported algorithm"},
      {R"("mediaType":"a/b","digest":")" + kB + R"(")", "missing \"size\""},
      {R"("mediaType":"a/b","digest":")" + kB + R"(","size":-1)", "non-negative integer"},
      {R"("mediaType":"a/b","digest":")" + kB + R"(","size":1.5)", "non-negative integer"},
      {R"("mediaType":"a/b","digest":")" + kB + R"(","size":1e3)", "non-negative integer"},
      {R"("mediaType":"a/b","digest":")" + kB + R"(","size":"3")", "non-negative integer"},
      {R"("mediaType":"a/b","digest":")" + kB + R"(","size":true)", "non-negative integer"},
      {R"("mediaType":"a/b","digest":")" + kB + R"(","size":9223372036854775808)",
       "non-negative integer"},
      {R"("mediaType":"a/b","digest":")" + kB + R"(","size":18446744073709551616)",
       "non-negative integer"},
      {R"("mediaType":"a/b","digest":")" + kB + R"(","size":1e400)", "JSON error"},
      {R"("mediaType":"a/b","digest":")" + kB + R"(","size":)" + std::string(400, '9'),
       "Number too big"},
      {R"("mediaType":"a/b","digest":")" + kB + R"(","digest":")" + kC + R"(","size":3)",
       "layers[0]: has duplicate key \"digest\""},
  };
  for (const Bad& c : cases) {
    INFO("fields: ", c.fields);
    const std::string error = Error(ManifestWithLayer(c.fields));
    CHECK(error.rfind("InvalidArgument: invalid manifest: ", 0) == 0);
    CHECK(error.find(c.message) != std::string::npos);
  }
  // The largest size that fits is accepted.
  Result<ParsedManifest> big = ParseManifest(
      ManifestWithLayer(R"("mediaType":"a/b","digest":")" + kB + R"(","size":9223372036854775807)"),
      "");
  REQUIRE(big.ok());
  CHECK(big->layers[0].size == INT64_MAX);
}

TEST_CASE("Wrong container types") {
  CHECK(
      Error(
          R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":{}})")
          .find("\"manifests\" must be an array") != std::string::npos);
  CHECK(
      Error(
          R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[1]})")
          .find("manifests[0]: descriptor must be an object") != std::string::npos);
  CHECK(
      Error(
          R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":[],"layers":[]})")
          .find("config: descriptor must be an object") != std::string::npos);
  CHECK(Error(ManifestWithLayer(R"("mediaType":"a/b","digest":")" + kB + R"(","size":1)")
                  .replace(ManifestWithLayer("").find("\"layers\":["), 10, "\"layers\":{\"x\":["))
            .find("JSON error") != std::string::npos);
  const std::string bad_platform =
      R"({"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":")" + kA +
      R"(","size":1,"platform":{"os":"linux","architecture":5}}]})";
  CHECK(Error(bad_platform).find("manifests[0]: platform: \"architecture\" must be a string") !=
        std::string::npos);
  const std::string platform_not_object =
      R"({"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":")" + kA +
      R"(","size":1,"platform":"linux"}]})";
  CHECK(Error(platform_not_object).find("platform: must be an object") != std::string::npos);
  const std::string platform_missing_os =
      R"({"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":")" + kA +
      R"(","size":1,"platform":{"architecture":"amd64"}}]})";
  CHECK(Error(platform_missing_os).find("missing \"os\"") != std::string::npos);
}

TEST_CASE("Deep nesting is refused before parsing; allowed depth still parses") {
  const std::string deep = R"({"schemaVersion":2,"manifests":[],"x":)" + std::string(100000, '[') +
                           std::string(100000, ']') + "}";
  const std::string error = Error(deep);
  CHECK(error.find("nested deeper than 32 levels") != std::string::npos);
  // Brackets inside strings do not count.
  const std::string in_string = R"({"schemaVersion":2,"manifests":[],"x":")" +
                                std::string(1000, '[') + R"("})";
  CHECK(Error(in_string) == "OK");
  const std::string escaped_quote =
      R"({"schemaVersion":2,"manifests":[],"x":"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})";
  CHECK(Error(escaped_quote) == "OK");
  // 32 levels in total is fine.
  const std::string at_limit = R"({"schemaVersion":2,"manifests":[],"x":)" + std::string(31, '[') +
                               std::string(31, ']') + "}";
  CHECK(Error(at_limit) == "OK");
  const std::string over_limit = R"({"schemaVersion":2,"manifests":[],"x":)" +
                                 std::string(32, '[') + std::string(32, ']') + "}";
  CHECK(Error(over_limit).find("nested deeper") != std::string::npos);
}

TEST_CASE("Size cap") {
  std::string huge = R"({"schemaVersion":2,"manifests":[],"x":")" +
                     std::string(kMaxManifestBytes, 'a') + "\"}";
  Result<ParsedManifest> r = ParseManifest(huge, "");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kResourceExhausted);
  // Just under the cap parses.
  std::string fits = R"({"schemaVersion":2,"manifests":[],"x":")";
  fits += std::string(kMaxManifestBytes - fits.size() - 2, 'a') + "\"}";
  REQUIRE(fits.size() == kMaxManifestBytes);
  CHECK(ParseManifest(fits, "").ok());
}

}  // namespace
}  // namespace spegel::oci
