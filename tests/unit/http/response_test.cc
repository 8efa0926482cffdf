#include "http/response.h"

#include <doctest/doctest.h>

namespace spegel::http {
namespace {

TEST_CASE("SerializeHead owns Content-Length and Connection") {
  const std::string head = SerializeHead(
      200, {{"Content-Type", "application/json"}, {"content-length", "5"}, {"Connection", "x"}}, 42,
      /*keep_alive=*/true, /*http10=*/false);
  CHECK(head == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 42\r\n\r\n");
  CHECK(SerializeHead(404, {}, 0, false, false) ==
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(SerializeHead(206, {}, 1, true, true) ==
        "HTTP/1.1 206 Partial Content\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n");
}

TEST_CASE("SerializeHead drops headers that would split the response") {
  const std::string head = SerializeHead(
      200,
      {{"X-Ok", "1"}, {"X-Bad", "a\r\nSet-Cookie: x"}, {"Bad\nName", "v"}, {"A:B", "v"}, {"", "v"}},
      0, true, false);
  CHECK(head == "HTTP/1.1 200 OK\r\nX-Ok: 1\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("ErrorResponse has an exact Content-Length") {
  const std::string r = ErrorResponse(431, "too large");
  const std::string body = "too large\n";
  CHECK(r.find("HTTP/1.1 431 Request Header Fields Too Large\r\n") == 0);
  CHECK(r.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
  CHECK(r.find("Connection: close\r\n") != std::string::npos);
  CHECK(r.substr(r.size() - body.size()) == body);
  const std::string head_only = ErrorResponse(431, "too large", true);
  CHECK(head_only.substr(head_only.size() - 4) == "\r\n\r\n");
  CHECK(StatusReason(599) == "Unknown");
}

}  // namespace
}  // namespace spegel::http
