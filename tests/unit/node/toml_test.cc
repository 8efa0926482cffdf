#include "node/toml.h"

#include <doctest/doctest.h>

#include <string>

namespace spegel::node {
namespace {

TomlDocument MustParse(std::string_view text) {
  auto doc = ParseToml(text);
  REQUIRE_MESSAGE(doc.ok(), doc.status().ToString());
  return std::move(doc).value();
}

std::string ParseError(std::string_view text) {
  auto doc = ParseToml(text);
  REQUIRE_FALSE(doc.ok());
  CHECK(doc.status().code() == Code::kInvalidArgument);
  return doc.status().message();
}

TEST_CASE("toml: containerd 1.x config (version 2) with quoted dotted table names") {
  auto doc = MustParse(R"(version = 2
root = "/var/lib/containerd"   # trailing comment
oom_score = 0

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    max_container_log_line_size = -1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      discard_unpacked_layers = true
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d:/etc/docker/certs.d"
  [plugins."io.containerd.gc.v1.scheduler"]
    pause_threshold = 0.02
    schedule_delay = "0s"
)");
  CHECK(doc.FindInt({"version"}) == 2);
  CHECK(doc.FindInt({"oom_score"}) == 0);
  CHECK(doc.FindString({"root"}) == "/var/lib/containerd");
  CHECK(doc.FindBool({"plugins", "io.containerd.grpc.v1.cri", "containerd",
                      "discard_unpacked_layers"}) == true);
  const TomlValue* cp = doc.Find(
      {"plugins", "io.containerd.grpc.v1.cri", "registry", "config_path"});
  REQUIRE(cp != nullptr);
  CHECK(cp->text == "/etc/containerd/certs.d:/etc/docker/certs.d");
  CHECK(cp->line == 13);
  CHECK(doc.FindInt({"plugins", "io.containerd.grpc.v1.cri", "max_container_log_line_size"}) == -1);
  const TomlValue* f = doc.Find({"plugins", "io.containerd.gc.v1.scheduler", "pause_threshold"});
  REQUIRE(f != nullptr);
  CHECK(f->kind == TomlValue::Kind::kFloat);
  CHECK(doc.HasTable({"plugins", "io.containerd.grpc.v1.cri", "registry"}));
  CHECK(doc.HasTable({"plugins"}));
  CHECK_FALSE(doc.HasTable({"plugins", "io.containerd.cri.v1.images"}));
  // Wrong type and absent keys read as nullopt.
  CHECK_FALSE(doc.FindBool({"root"}).has_value());
  CHECK_FALSE(doc.FindString({"nope"}).has_value());
}

TEST_CASE("toml: containerd 2.x config (version 3) with single-quoted names, arrays of tables") {
  auto doc = MustParse(R"(version = 3
disabled_plugins = []
required_plugins = []
imports = ['/etc/containerd/conf.d/*.toml']

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  discard_unpacked_layers = false
  use_local_image_pull = true
  max_concurrent_downloads = 3

  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '/etc/containerd/certs.d'

[plugins.'io.containerd.transfer.v1.local']
  max_concurrent_downloads = 3
  config_path = ''

  [[plugins.'io.containerd.transfer.v1.local'.unpack_config]]
    platform = 'linux/amd64'
    snapshotter = 'overlayfs'

  [[plugins.'io.containerd.transfer.v1.local'.unpack_config]]
    platform = 'linux/arm64'
    snapshotter = 'native'
)");
  CHECK(doc.FindInt({"version"}) == 3);
  CHECK(doc.FindBool({"plugins", "io.containerd.cri.v1.images", "use_local_image_pull"}) == true);
  CHECK(doc.FindString({"plugins", "io.containerd.cri.v1.images", "registry", "config_path"}) ==
        "/etc/containerd/certs.d");
  CHECK(doc.FindString({"plugins", "io.containerd.transfer.v1.local", "unpack_config", "0",
                        "platform"}) == "linux/amd64");
  CHECK(doc.FindString({"plugins", "io.containerd.transfer.v1.local", "unpack_config", "1",
                        "snapshotter"}) == "native");
  const TomlValue* imports = doc.Find({"imports"});
  REQUIRE(imports != nullptr);
  REQUIRE(imports->kind == TomlValue::Kind::kArray);
  REQUIRE(imports->array.size() == 1);
  CHECK(imports->array[0].text == "/etc/containerd/conf.d/*.toml");
  CHECK(doc.Find({"disabled_plugins"})->array.empty());
}

TEST_CASE("toml: dotted keys, inline tables, multi-line arrays, CRLF") {
  auto doc = MustParse(
      "a.b.c = 1\r\n"
      "\"quoted key\".x = 'v'\r\n"
      "t = { name = \"n\", nested = { deep = true } }\r\n"
      "list = [\r\n  \"one\", # comment inside\r\n  'two',\r\n]\r\n"
      "mixed = [1, [2, 3], {k = 'v'}]\r\n");
  CHECK(doc.FindInt({"a", "b", "c"}) == 1);
  CHECK(doc.HasTable({"a", "b"}));
  CHECK(doc.FindString({"quoted key", "x"}) == "v");
  CHECK(doc.FindString({"t", "name"}) == "n");
  CHECK(doc.FindBool({"t", "nested", "deep"}) == true);
  CHECK(doc.HasTable({"t"}));
  const TomlValue* list = doc.Find({"list"});
  REQUIRE(list != nullptr);
  REQUIRE(list->array.size() == 2);
  CHECK(list->array[1].text == "two");
  CHECK(doc.Find({"mixed"})->array.size() == 3);
  CHECK(doc.Find({"mixed"})->array[2].kind == TomlValue::Kind::kInlineTable);
  CHECK(doc.Find({"mixed"})->line == 8);
}

TEST_CASE("toml: strings: escapes, literal, multi-line") {
  auto doc = MustParse(R"(a = "tab\tquote\"back\\slash\u00e9\U0001F600"
b = 'C:\no\escapes'
c = """
line1
line2 \
    joined"""
d = '''
raw\n'''
e = """ends with quotes"" """
)");
  CHECK(doc.FindString({"a"}) == "tab\tquote\"back\\slash\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(doc.FindString({"b"}) == "C:\\no\\escapes");
  CHECK(doc.FindString({"c"}) == "line1\nline2 joined");
  CHECK(doc.FindString({"d"}) == "raw\\n");
  CHECK(doc.FindString({"e"}) == "ends with quotes\"\" ");
}

TEST_CASE("toml: numbers, booleans and dates") {
  auto doc = MustParse(
      "i = +1_000\nh = 0xff\no = 0o17\nb = 0b101\nn = -9223372036854775808\n"
      "f = 6.02e23\ng = -inf\nd = 1979-05-27T07:32:00Z\nt = true\nu = false\n");
  CHECK(doc.FindInt({"i"}) == 1000);
  CHECK(doc.FindInt({"h"}) == 255);
  CHECK(doc.FindInt({"o"}) == 15);
  CHECK(doc.FindInt({"b"}) == 5);
  CHECK(doc.FindInt({"n"}) == INT64_MIN);
  CHECK(doc.Find({"f"})->kind == TomlValue::Kind::kFloat);
  CHECK(doc.Find({"g"})->kind == TomlValue::Kind::kFloat);
  CHECK(doc.Find({"d"})->kind == TomlValue::Kind::kDateTime);
  CHECK(doc.FindBool({"t"}) == true);
  CHECK(doc.FindBool({"u"}) == false);
}

TEST_CASE("toml: empty and comment-only documents") {
  CHECK(MustParse("").values().empty());
  CHECK(MustParse("# nothing\n\n   # here\n").values().empty());
}

TEST_CASE("toml: errors name the line") {
  CHECK(ParseError("a = 1\nb = \n") == "line 2: expected a value, found end of line");
  CHECK(ParseError("a = 1\na = 2\n") == "line 2: duplicate key a");
  CHECK(ParseError("[t]\nx = 1\n[t]\nx = 2\n") == "line 4: duplicate key t.x");
  CHECK(ParseError("x = 1\n[x]\n") == "line 2: x is a value and cannot also be a table");
  CHECK(ParseError("x = \"unterminated\n") == "line 1: unterminated string");
  CHECK(ParseError("x = bare\n") == "line 1: invalid value 'bare' (strings need quotes)");
  CHECK(ParseError("x = 1 2\n") == "line 1: expected the end of the line, found '2'");
  CHECK(ParseError("[a.b\n") == "line 1: expected ']' after the table name, found end of line");
  CHECK(ParseError("x = [1, 2\n") == "line 2: unterminated array");
  CHECK(ParseError("x = \"\\q\"\n") == "line 1: unknown escape \\'q'");
  CHECK(ParseError("x = \"\\uD800\"\n") == "line 1: escape is not a Unicode scalar value");
  CHECK(ParseError("x = 9223372036854775808\n").find("invalid value") != std::string::npos);
  CHECK(ParseError("x = 012\n").find("invalid value") != std::string::npos);
  CHECK(ParseError(std::string("x = \"a\x01\"\n")) == "line 1: control character in a string");
  CHECK(ParseError("= 1\n") == "line 1: expected a key, found '='");
  CHECK(ParseError("t = {a = 1\n") ==
        "line 1: expected ',' or '}' in an inline table, found end of line");
}

TEST_CASE("toml: nesting is bounded") {
  std::string deep = "x = " + std::string(kMaxTomlDepth, '[') + std::string(kMaxTomlDepth, ']');
  CHECK(ParseToml(deep).ok());
  std::string deeper = "x = " + std::string(kMaxTomlDepth + 1, '[') +
                       std::string(kMaxTomlDepth + 1, ']');
  CHECK(ParseError(deeper) == "line 1: arrays and inline tables nest too deeply");
  // A huge nesting attempt fails fast instead of recursing.
  CHECK_FALSE(ParseToml("x = " + std::string(100000, '[')).ok());
}

TEST_CASE("toml: FormatTomlPath quotes what is not bare") {
  CHECK(FormatTomlPath({"plugins", "io.containerd.cri.v1.images", "registry"}) ==
        "plugins.\"io.containerd.cri.v1.images\".registry");
  CHECK(FormatTomlPath({"a", "", "b\"c"}) == "a.\"\".\"b\\\"c\"");
}

}  // namespace
}  // namespace spegel::node
