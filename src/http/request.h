// Request: one parsed HTTP/1.x request head, as handed to a Handler.
//
// A Request is a plain value that owns copies of every byte it exposes, so the string_views it
// returns stay valid as long as the Request object does. The Server owns the Request of each
// exchange and keeps it alive until that exchange's response completes or is aborted (see
// server.h). Not thread-safe; used on the loop thread.
#pragma once

#include <any>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "http/request_body.h"

namespace spegel::http {

// Methods the server distinguishes. Every other method llhttp accepts is kOther; method_name()
// then gives its name (e.g. "PROPFIND").
enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

struct HeaderField {
  std::string name;   // As received (case preserved).
  std::string value;  // Leading and trailing spaces and tabs removed.
};

// A handler's answer to a request head before the server reads the body it announces
// (Handler::AcceptHead): go on, or refuse the request with `status` and a one-line `reason`.
struct HeadVerdict {
  int status = 0;  // 0: accepted.
  std::string reason;

  bool accepted() const { return status == 0; }
  // REQUIRES: status is an HTTP error status (4xx, 5xx).
  static HeadVerdict Refuse(int status, std::string reason) { return {status, std::move(reason)}; }
};

class Request {
 public:
  Method method() const { return method_; }
  std::string_view method_name() const { return method_name_; }
  // The raw request-target, e.g. "/v2/a/blobs/sha256:…?ns=docker.io" (undecoded).
  std::string_view target() const { return target_; }
  // target() up to the first '?' (undecoded).
  std::string_view path() const;
  // target() after the first '?', without it; empty when there is none.
  std::string_view query() const;
  // Value of the first header named `name` (ASCII case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
  const std::vector<HeaderField>& headers() const { return headers_; }
  int version_major() const { return version_major_; }
  int version_minor() const { return version_minor_; }
  // Whether the client allows the connection to stay open after this exchange (HTTP/1.1 without
  // `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`).
  bool keep_alive() const { return keep_alive_; }
  // The request body, kept only when the server's keep_request_body option is on (else empty).
  // Valid as long as this Request (http/request_body.h says where it lives).
  std::string_view body() const { return body_.view(); }
  // The client's IP address as a literal ("10.0.0.1", "fd00::1"; IPv4-mapped IPv6 shown as
  // IPv4), set by the server from the socket; empty for requests not from a socket.
  const std::string& peer_address() const { return peer_address_; }
  void set_peer_address(std::string address) { peer_address_ = std::move(address); }
  // This end's IP address on the connection (the one the client reached), as peer_address().
  const std::string& local_address() const { return local_address_; }
  void set_local_address(std::string address) { local_address_ = std::move(address); }

  // A value derived from this request once and kept with it: the first call for a type T runs
  // `derive()` (which returns a T) and keeps the result; every later call for T returns that same
  // object, whatever it is given. This is how the handlers of one chain (metrics → auth →
  // registry) share what a layer above http reads from a request, instead of each reading it
  // again and perhaps differently (registry/request_context.h). The reference is valid as long
  // as this Request; a copy of the Request carries copies of the values.
  template <typename T, typename Derive>
  const T& Derived(Derive&& derive) const {
    for (const std::any& kept : derived_) {
      if (const T* value = std::any_cast<T>(&kept)) return *value;
    }
    return *std::any_cast<T>(&derived_.emplace_back(std::in_place_type<T>, derive()));
  }

 private:
  friend class RequestParser;
  Method method_ = Method::kOther;
  std::string method_name_;
  std::string target_;
  std::vector<HeaderField> headers_;
  int version_major_ = 1;
  int version_minor_ = 1;
  bool keep_alive_ = true;
  RequestBody body_;
  std::string peer_address_;
  std::string local_address_;
  // Derived(): a cache of values computed from the fields above, hence mutable. A deque, so that
  // keeping a value never moves the ones already handed out.
  mutable std::deque<std::any> derived_;
};

// ASCII case-insensitive equality, as header names compare.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// An RFC 9110 token (method, header name): one or more tchar.
bool IsToken(std::string_view s);

// `s` without leading and trailing optional whitespace (RFC 9110 OWS: spaces and tabs).
std::string_view TrimOws(std::string_view s);

// The decoded value of the first `name` parameter in a raw query string ("a=1&ns=docker.io"):
// nullopt when absent, "" for "name" or "name=", '+' decoded as a space; a bad percent-escape is
// InvalidArgument naming the parameter.
Result<std::optional<std::string>> QueryParam(std::string_view query, std::string_view name);
// `value` as a query parameter value: every byte other than ALPHA, DIGIT and -._~ as %XX.
std::string PercentEncode(std::string_view value);

}  // namespace spegel::http
