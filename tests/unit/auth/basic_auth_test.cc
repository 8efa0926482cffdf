#include "auth/basic_auth.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fakes/fake_writer.h"
#include "http/request_parser.h"

namespace spegel::auth {
namespace {

namespace fs = std::filesystem;

http::Request Parse(const std::string& raw) {
  http::RequestParser parser(http::ParserLimits{});
  auto r = parser.Feed(raw.data(), raw.size());
  REQUIRE(r.event == http::RequestParser::Event::kRequest);
  return parser.TakeRequest();
}

// Answers 200 "inner" to everything, counting calls.
class Inner : public http::Handler {
 public:
  void Handle(http::Request&, http::ResponseWriter& writer) override {
    ++calls;
    writer.Respond(200, {}, "inner");
  }
  int calls = 0;
};

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() /
           ("spegel-auth-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(path / name, std::ios::binary) << text;
  }
  static inline int counter = 0;
  fs::path path;
};

TEST_CASE("basic auth: base64 decoding") {
  CHECK(DecodeBase64("") == "");
  CHECK(DecodeBase64("Zg==") == "f");
  CHECK(DecodeBase64("Zm8=") == "fo");
  CHECK(DecodeBase64("Zm9v") == "foo");
  CHECK(DecodeBase64("dXNlcjpwYXNz") == "user:pass");
  CHECK_FALSE(DecodeBase64("Zm9").has_value());       // length
  CHECK_FALSE(DecodeBase64("Zm9v!A==").has_value());  // bad character
  CHECK_FALSE(DecodeBase64("Z===").has_value());      // too much padding
  CHECK_FALSE(DecodeBase64("Zg==Zm9v").has_value());  // padding in the middle
  CHECK_FALSE(DecodeBase64("Zm=v").has_value());      // data after padding
}

TEST_CASE("basic auth: base64 encoding round-trips (what peers send)") {
  CHECK(EncodeBase64("") == "");
  CHECK(EncodeBase64("f") == "Zg==");
  CHECK(EncodeBase64("fo") == "Zm8=");
  CHECK(EncodeBase64("foo") == "Zm9v");
  CHECK(BasicAuthorization({"user", "pass"}) == "Basic dXNlcjpwYXNz");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 37) {
    CHECK(DecodeBase64(EncodeBase64(all.substr(0, n))) == all.substr(0, n));
  }
}

TEST_CASE("basic auth: constant-time equality is still equality") {
  CHECK(ConstantTimeEquals("", ""));
  CHECK(ConstantTimeEquals("abc", "abc"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abd"));
  CHECK_FALSE(ConstantTimeEquals("abc", "ab"));
  CHECK_FALSE(ConstantTimeEquals("ab", "abc"));
  CHECK_FALSE(ConstantTimeEquals(std::string_view("a\0", 2), "a"));
}

TEST_CASE("basic auth: Authorization header check") {
  const Credentials c{"user", "pass"};
  CHECK(CheckAuthorization(c, "Basic dXNlcjpwYXNz"));
  CHECK(CheckAuthorization(c, "basic  dXNlcjpwYXNz"));
  CHECK_FALSE(CheckAuthorization(c, std::nullopt));
  CHECK_FALSE(CheckAuthorization(c, ""));
  CHECK_FALSE(CheckAuthorization(c, "Basic"));
  CHECK_FALSE(CheckAuthorization(c, "Bearer dXNlcjpwYXNz"));
  CHECK_FALSE(CheckAuthorization(c, "BasicdXNlcjpwYXNz"));
  CHECK_FALSE(CheckAuthorization(c, "Basic dXNlcjpwYXN6"));      // user:pasz
  CHECK_FALSE(CheckAuthorization(c, "Basic dXNlcjpwYXNzeA=="));  // user:passx
  CHECK_FALSE(CheckAuthorization(c, "Basic !!!!"));
  // A username alone (empty password) is allowed.
  CHECK(CheckAuthorization(Credentials{"user", ""}, "Basic dXNlcjo="));  // user:
}

TEST_CASE("basic auth: credentials files") {
  TempDir dir;
  auto none = LoadCredentials(dir.path.string());
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  auto missing_dir = LoadCredentials((dir.path / "absent").string());
  REQUIRE(missing_dir.ok());
  CHECK_FALSE(missing_dir->has_value());

  dir.Write("password", "pw");
  auto orphan = LoadCredentials(dir.path.string());
  CHECK_FALSE(orphan.ok());

  dir.Write("username", "alice\n");
  dir.Write("password", "s3cret\r\n");
  auto both = LoadCredentials(dir.path.string());
  REQUIRE(both.ok());
  REQUIRE(both->has_value());
  CHECK((*both)->username == "alice");
  CHECK((*both)->password == "s3cret");

  fs::remove(dir.path / "password");
  auto user_only = LoadCredentials(dir.path.string());
  REQUIRE(user_only.ok());
  REQUIRE(user_only->has_value());
  CHECK((*user_only)->password.empty());

  dir.Write("username", std::string(5000, 'u'));
  CHECK_FALSE(LoadCredentials(dir.path.string()).ok());
}

TEST_CASE("basic auth: /v2 needs credentials, probes and other paths do not") {
  Inner inner;
  AuthHandler auth(&inner, Credentials{"user", "pass"});
  auto run = [&](const std::string& method, const std::string& target, const std::string& headers) {
    http::Request request = Parse(method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + headers +
                                  "\r\n");
    testing::FakeWriter writer;
    auth.Handle(request, writer);
    REQUIRE(writer.calls == 1);
    return writer;
  };
  const std::string good = "Authorization: Basic dXNlcjpwYXNz\r\n";
  CHECK(run("GET", "/v2/", good).status == 200);
  CHECK(run("GET", "/v2/x/blobs/sha256:00", good).body == "inner");
  CHECK(inner.calls == 2);

  for (const std::string& bad :
       {std::string(), std::string("Authorization: Basic dXNlcjpwYXN6\r\n"),
        std::string("Authorization: Basic d3Jvbmc6cGFzcw==\r\n"),  // wrong:pass
        std::string("Authorization: Bearer abc\r\n")}) {
    auto w = run("GET", "/v2/x/manifests/latest?ns=docker.io", bad);
    CHECK(w.status == 401);
    CHECK(w.body ==
          "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"invalid credentials\"}]}");
    CHECK(w.Header("Content-Type") == "application/json");
    CHECK_FALSE(w.Header("WWW-Authenticate").has_value());
  }
  auto head = run("HEAD", "/v2", "");
  CHECK(head.status == 401);
  CHECK(head.head_only);
  CHECK(head.content_length == kUnauthorizedBody.size());
  CHECK(inner.calls == 2);

  CHECK(run("GET", "/readyz", "").status == 200);
  CHECK(run("GET", "/livez", "").status == 200);
  CHECK(run("GET", "/v2x", "").status == 200);  // not the registry API: passed on
  CHECK(inner.calls == 5);
}

}  // namespace
}  // namespace spegel::auth
