// Fuzzes the status page's query parameters: /debug/measure's `image` (ParseMeasureQuery) and
// /debug/routing's `key`, and the measure page rendered from what the client typed.
// Invariants checked: a bad query is InvalidArgument with a bounded one-line message naming the
// parameter; a parsed image is a valid reference; the rendered page never carries the typed
// text unescaped (no '<', '>' or '"' from the input reaches the HTML raw).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/request.h"
#include "metrics/measure.h"
#include "metrics/status_page.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckError(const spegel::Status& status) {
  Check(status.code() == spegel::Code::kInvalidArgument);
  Check(status.message().size() < 4096);
  Check(status.message().find('\n') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);

  auto image = spegel::metrics::ParseMeasureQuery(query);
  auto typed = spegel::http::QueryParam(query, "image");
  if (!image.ok()) {
    CheckError(image.status());
    Check(image.status().message().rfind("image", 0) == 0 || !typed.ok());
  } else if (image->has_value()) {
    const spegel::oci::Reference& r = **image;
    Check(!r.registry.empty());
    Check(spegel::oci::IsValidRepository(r.repository));
    Check(!r.tag.empty() || r.digest.has_value());
  }
  if (typed.ok() && typed->has_value()) {
    const std::string& text = **typed;
    const std::string page = spegel::metrics::RenderMeasurePage(
        text, image.ok() ? "" : image.status().message(), nullptr);
    // The typed text sits in the form's value attribute (and maybe a message): escaped.
    if (text.find_first_of("<>\"") != std::string::npos) {
      Check(page.find(text) == std::string::npos);
    }
    Check(page.find("<script") == std::string::npos);
  }

  auto key = spegel::http::QueryParam(query, "key");
  if (!key.ok()) CheckError(key.status());
  return 0;
}
