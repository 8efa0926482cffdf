// Optional HTTP Basic authentication of the registry API, as upstream Spegel does it.
//
// Credentials come from a directory holding the files `username` and `password` (a mounted
// Kubernetes Secret, default /etc/secrets/basic-auth). When neither file exists, auth is off.
// A username alone is allowed (empty password). One trailing newline ("\n" or "\r\n") is
// stripped from each file, since `echo x > file` adds one and it is never meant as part of the
// secret.
//
// AuthHandler wraps the registry handler: requests to /v2 and /v2/... must carry
// `Authorization: Basic base64(user:password)` matching the credentials, compared in constant
// time; otherwise 401 with the OCI JSON body
// {"errors":[{"code":"UNAUTHORIZED","message":"invalid credentials"}]} and no WWW-Authenticate
// (as upstream). Probes (/readyz, /livez) and everything else pass through unauthenticated.
//
// Threading: AuthHandler runs on the loop thread like every http::Handler; the inner handler must
// outlive it. The free functions are pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "http/handler.h"

namespace spegel::auth {

struct Credentials {
  std::string username;
  std::string password;
};

// nullopt when neither file exists (auth off). An unreadable file, or a password without a
// username, is an error naming the file.
Result<std::optional<Credentials>> LoadCredentials(const std::string& dir);

// Standard base64 (with padding, RFC 4648 §4). nullopt on any invalid character or length.
std::optional<std::string> DecodeBase64(std::string_view text);
// Standard base64 with padding (RFC 4648 §4).
std::string EncodeBase64(std::string_view data);
// "Basic base64(user:password)": what peers send so a node with basic auth serves them.
std::string BasicAuthorization(const Credentials& credentials);

// Equality whose time depends only on the lengths, not on where the strings differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Whether an Authorization header value (nullopt = absent) carries exactly these credentials.
bool CheckAuthorization(const Credentials& credentials,
                        std::optional<std::string_view> authorization);

// The exact 401 body.
inline constexpr std::string_view kUnauthorizedBody =
    "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"invalid credentials\"}]}";

class AuthHandler : public http::Handler {
 public:
  AuthHandler(http::Handler* inner, Credentials credentials)
      : inner_(inner), credentials_(std::move(credentials)) {}
  const Credentials& credentials() const { return credentials_; }

  void Handle(http::Request& request, http::ResponseWriter& writer) override;

 private:
  http::Handler* inner_;
  Credentials credentials_;
};

}  // namespace spegel::auth
