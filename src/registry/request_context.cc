#include "registry/request_context.h"

#include <optional>

namespace spegel::registry {
namespace {

RequestContext Derive(const http::Request& request) {
  RequestContext context;
  const std::string_view path = request.path();
  context.api = IsApiPath(path);
  if (context.api) context.route = ParseRoute(path, request.query());
  context.mirrored = request.Header(kMirroredHeader) == std::optional<std::string_view>("true");
  return context;
}

}  // namespace

const RequestContext& RequestContext::Of(const http::Request& request) {
  return request.Derived<RequestContext>([&request] { return Derive(request); });
}

}  // namespace spegel::registry
