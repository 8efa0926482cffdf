#include "registry/filters.h"

#include <algorithm>

#include "node/hosts_config.h"

namespace spegel::registry {

Result<RegistryFilters> RegistryFilters::Create(const std::vector<std::string>& mirrored_registries,
                                                const std::vector<std::string>& regexes) {
  RegistryFilters filters;
  auto registries = node::ParseMirroredRegistries(mirrored_registries);
  if (!registries.ok()) {
    return Status::InvalidArgument("--mirrored-registries: " + registries.status().message());
  }
  bool wildcard = false;
  for (const auto& url : *registries) {
    if (url.wildcard) wildcard = true;
    filters.registries_.push_back(url.authority);
  }
  if (wildcard) filters.registries_.clear();
  auto compiled = std::make_shared<std::vector<std::regex>>();
  for (const auto& text : regexes) {
    if (text.empty()) return Status::InvalidArgument("--registry-filters: empty regex");
    try {
      compiled->emplace_back(text, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return Status::InvalidArgument("--registry-filters: invalid regex \"" + text +
                                     "\": " + e.what());
    }
    filters.regexes_.push_back(text);
  }
  filters.regexes_holder_ = std::move(compiled);
  return filters;
}

bool RegistryFilters::AllowsRegistry(std::string_view registry) const {
  if (registries_.empty()) return true;
  return std::find(registries_.begin(), registries_.end(), registry) != registries_.end();
}

bool RegistryFilters::Allows(std::string_view reference) const {
  const size_t slash = reference.find('/');
  if (!AllowsRegistry(slash == std::string_view::npos ? reference : reference.substr(0, slash))) {
    return false;
  }
  if (!regexes_holder_) return true;
  try {
    for (const auto& re : *regexes_holder_) {
      if (std::regex_search(reference.begin(), reference.end(), re)) return false;
    }
  } catch (const std::regex_error&) {
    return false;  // Too complex to evaluate: refuse rather than guess.
  }
  return true;
}

bool RegistryFilters::AllowsImage(const index::ImageWalk& image) const {
  return empty() || Allows(image.tag_key ? *image.tag_key : image.name);
}

}  // namespace spegel::registry
