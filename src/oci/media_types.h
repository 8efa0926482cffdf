// OCI and Docker media types, and the predicates the registry and index layers decide with.
//
// Constants only plus pure functions; thread-safe.
#pragma once

#include <string_view>

namespace spegel::oci {

// OCI image-spec.
inline constexpr std::string_view kOciImageIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciImageManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciImageConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciEmptyJson = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerTarZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
// Non-distributable ("foreign") layers, deprecated by image-spec 1.1 but still in old images.
inline constexpr std::string_view kOciLayerNondistributableTar =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNondistributableTarGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNondistributableTarZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

// Docker image manifest v2, schema 2.
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerTarGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerTarZstd =
    "application/vnd.docker.image.rootfs.diff.tar.zstd";
inline constexpr std::string_view kDockerLayerForeignTarGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

// Docker schema 1: recognised only to be refused (Unimplemented).
inline constexpr std::string_view kDockerManifestSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerManifestSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

// What a blob of unknown type is served as.
inline constexpr std::string_view kOctetStream = "application/octet-stream";

// The four types served from /v2/<name>/manifests/: OCI index and manifest, Docker manifest list
// and manifest. Exact, case-sensitive comparison (registries send these verbatim).
bool IsManifestMediaType(std::string_view media_type);
// OCI index or Docker manifest list.
bool IsIndexMediaType(std::string_view media_type);
// OCI image config or Docker container config.
bool IsConfigMediaType(std::string_view media_type);
// Any of the OCI or Docker layer types above.
bool IsLayerMediaType(std::string_view media_type);
// Docker schema 1 (signed or not).
bool IsSchema1MediaType(std::string_view media_type);

// True when `media_type` is "type/subtype" per RFC 6838 §4.2 (restricted-name: an alphanumeric
// first, then [A-Za-z0-9!#$&^_.+-], at most 127 bytes each), with no parameters. Media types
// from manifests end up in Content-Type headers, so this also keeps CR, LF and NUL out of them.
bool IsValidMediaType(std::string_view media_type);

}  // namespace spegel::oci
