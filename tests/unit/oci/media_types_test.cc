#include "oci/media_types.h"

#include <doctest/doctest.h>

#include <string>

namespace spegel::oci {
namespace {

TEST_CASE("Manifest and index media type sets") {
  CHECK(IsManifestMediaType(kOciImageIndex));
  CHECK(IsManifestMediaType(kOciImageManifest));
  CHECK(IsManifestMediaType(kDockerManifestList));
  CHECK(IsManifestMediaType(kDockerManifest));
  CHECK(IsManifestMediaType("application/vnd.oci.image.manifest.v1+json"));
  CHECK_FALSE(IsManifestMediaType(kOciImageConfig));
  CHECK_FALSE(IsManifestMediaType(kDockerConfig));
  CHECK_FALSE(IsManifestMediaType(kOciLayerTarGzip));
  CHECK_FALSE(IsManifestMediaType(kDockerManifestSchema1));
  CHECK_FALSE(IsManifestMediaType(kOctetStream));
  CHECK_FALSE(IsManifestMediaType(""));
  CHECK_FALSE(IsManifestMediaType("application/vnd.oci.image.manifest.v1+json; charset=utf-8"));
  CHECK_FALSE(IsManifestMediaType("APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON"));

  CHECK(IsIndexMediaType(kOciImageIndex));
  CHECK(IsIndexMediaType(kDockerManifestList));
  CHECK_FALSE(IsIndexMediaType(kOciImageManifest));
  CHECK_FALSE(IsIndexMediaType(kDockerManifest));
}

TEST_CASE("Config, layer and schema1 sets") {
  CHECK(IsConfigMediaType(kOciImageConfig));
  CHECK(IsConfigMediaType(kDockerConfig));
  CHECK_FALSE(IsConfigMediaType(kOciImageManifest));
  for (std::string_view layer :
       {kOciLayerTar, kOciLayerTarGzip, kOciLayerTarZstd, kOciLayerNondistributableTar,
        kOciLayerNondistributableTarGzip, kOciLayerNondistributableTarZstd, kDockerLayerTar,
        kDockerLayerTarGzip, kDockerLayerTarZstd, kDockerLayerForeignTarGzip}) {
    INFO(layer);
    CHECK(IsLayerMediaType(layer));
    CHECK_FALSE(IsManifestMediaType(layer));
    CHECK(IsValidMediaType(layer));
  }
  CHECK_FALSE(IsLayerMediaType(kOciImageConfig));
  CHECK(IsSchema1MediaType(kDockerManifestSchema1));
  CHECK(IsSchema1MediaType(kDockerManifestSchema1Signed));
  CHECK_FALSE(IsSchema1MediaType(kDockerManifest));
}

TEST_CASE("IsValidMediaType keeps header-unsafe text out") {
  CHECK(IsValidMediaType(kOciImageManifest));
  CHECK(IsValidMediaType(kOctetStream));
  CHECK(IsValidMediaType(kOciEmptyJson));
  CHECK(IsValidMediaType("application/vnd.in-toto+json"));
  CHECK_FALSE(IsValidMediaType(""));
  CHECK_FALSE(IsValidMediaType("application"));
  CHECK_FALSE(IsValidMediaType("/json"));
  CHECK_FALSE(IsValidMediaType("application/"));
  CHECK_FALSE(IsValidMediaType("application/json; charset=utf-8"));
  CHECK_FALSE(IsValidMediaType("application/json\r\nX-Evil: 1"));
  CHECK_FALSE(IsValidMediaType(std::string("application/js\0n", 16)));
  CHECK_FALSE(IsValidMediaType("application/a/b"));
  CHECK_FALSE(IsValidMediaType("application/.json"));
  CHECK(IsValidMediaType("a/" + std::string(127, 'b')));
  CHECK_FALSE(IsValidMediaType("a/" + std::string(128, 'b')));
}

}  // namespace
}  // namespace spegel::oci
