#include "auth/basic_auth.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace spegel::auth {
namespace {

constexpr size_t kMaxSecretBytes = 4096;

// Reads a whole small file. nullopt when it does not exist.
Result<std::optional<std::string>> ReadSecretFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Status::InvalidArgument("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::InvalidArgument("cannot read " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxSecretBytes) {
      ::close(fd);
      return Status::InvalidArgument(path + " is larger than 4096 bytes");
    }
  }
  ::close(fd);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return std::optional<std::string>(std::move(text));
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Result<std::optional<Credentials>> LoadCredentials(const std::string& dir) {
  auto username = ReadSecretFile(dir + "/username");
  if (!username.ok()) return username.status();
  auto password = ReadSecretFile(dir + "/password");
  if (!password.ok()) return password.status();
  if (!username->has_value() && !password->has_value()) return std::optional<Credentials>();
  if (!username->has_value()) {
    return Status::InvalidArgument(dir + "/password exists but " + dir + "/username does not");
  }
  Credentials c;
  c.username = std::move(**username);
  if (password->has_value()) c.password = std::move(**password);
  return std::optional<Credentials>(std::move(c));
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = text[i + static_cast<size_t>(j)];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // Data after padding.
      v[j] = Base64Value(c);
      if (v[j] < 0) return std::nullopt;
    }
    const uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                       (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

bool CheckAuthorization(const Credentials& credentials,
                        std::optional<std::string_view> authorization) {
  if (!authorization) return false;
  std::string_view value = *authorization;
  constexpr std::string_view kScheme = "basic";
  if (value.size() <= kScheme.size() ||
      !http::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme) ||
      (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t')) {
    return false;
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  const std::optional<std::string> decoded = DecodeBase64(value);
  if (!decoded) return false;
  const std::string expected = credentials.username + ":" + credentials.password;
  return ConstantTimeEquals(*decoded, expected);
}

void AuthHandler::Handle(http::Request& request, http::ResponseWriter& writer) {
  const std::string_view path = request.path();
  const bool protected_path = path == "/v2" || path.substr(0, 4) == "/v2/";
  if (!protected_path || CheckAuthorization(credentials_, request.Header("Authorization"))) {
    inner_->Handle(request, writer);
    return;
  }
  http::Headers headers{{"Content-Type", "application/json"}};
  if (request.method() == http::Method::kHead) {
    writer.RespondHead(401, std::move(headers), kUnauthorizedBody.size());
  } else {
    writer.Respond(401, std::move(headers), std::string(kUnauthorizedBody));
  }
}

std::string EncodeBase64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(data[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(data[i + 1])} << 8) |
                       uint32_t{static_cast<uint8_t>(data[i + 2])};
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(data[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(data[i + 1])} << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string BasicAuthorization(const Credentials& credentials) {
  return "Basic " + EncodeBase64(credentials.username + ":" + credentials.password);
}

}  // namespace spegel::auth
