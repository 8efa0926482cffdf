// HeadFields and BytesBeforePause on their own; the parsers' behaviour on top of them is tested
// in request_parser_test.cc and response_parser_test.cc.
#include "http/llhttp_glue.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace spegel::http {
namespace {

TEST_CASE("HeadFields: a field split over callbacks comes out whole, its value trimmed") {
  HeadFields head(1024);
  const std::string name = "Content-Type";
  const std::string value = " \tapplication/json \t";
  CHECK(head.AppendName(name.data(), 7));
  CHECK(head.AppendName(name.data() + 7, name.size() - 7));
  CHECK(head.AppendValue(value.data(), 5));
  CHECK(head.AppendValue(value.data() + 5, value.size() - 5));
  HeaderField field;
  CHECK(head.EndField(&field) == HeadFields::FieldEnd::kOk);
  CHECK(field.name == "Content-Type");
  CHECK(field.value == "application/json");
  // The next field starts empty.
  CHECK(head.AppendName("A", 1));
  CHECK(head.AppendValue("1", 1));
  CHECK(head.EndField(&field) == HeadFields::FieldEnd::kOk);
  CHECK(field.name == "A");
  CHECK(field.value == "1");
}

TEST_CASE(
    "HeadFields: the budget counts names, values and 4 bytes per field, and Reset renews it") {
  // "Ab: cd\r\n" is 8 bytes: exactly the budget.
  HeadFields head(8);
  CHECK(head.AppendName("Ab", 2));
  CHECK(head.AppendValue("cd", 2));
  HeaderField field;
  CHECK(head.EndField(&field) == HeadFields::FieldEnd::kOk);
  CHECK(!head.Count(1));
  head.Reset();
  CHECK(head.AppendName("Ab", 2));
  CHECK(head.AppendValue("cde", 3));
  CHECK(head.EndField(&field) == HeadFields::FieldEnd::kTooLarge);
  CHECK(head.max_bytes() == 8);
}

TEST_CASE("HeadFields: a name that is not a token is refused; a null out checks and drops") {
  HeadFields head(1024);
  CHECK(head.AppendName("Bad Name", 8));
  CHECK(head.AppendValue("x", 1));
  HeaderField field{"kept", "kept"};
  CHECK(head.EndField(&field) == HeadFields::FieldEnd::kInvalidName);
  CHECK(field.name == "kept");
  CHECK(head.AppendName("Good", 4));
  CHECK(head.EndField(nullptr) == HeadFields::FieldEnd::kOk);
  CHECK(head.AppendName("Bad:", 4));
  CHECK(head.EndField(nullptr) == HeadFields::FieldEnd::kInvalidName);
}

TEST_CASE("BytesBeforePause: the bytes of each chunk up to where llhttp paused") {
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_message_complete = [](llhttp_t*) { return static_cast<int>(HPE_PAUSED); };
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  const std::string first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string second = "GET /bb HTTP/1.1\r\nHost: y\r\n\r\n";
  const std::string both = first + second + "GET";
  CHECK(llhttp_execute(&parser, both.data(), both.size()) == HPE_PAUSED);
  CHECK(BytesBeforePause(parser, both.data(), both.size()) == first.size());
  llhttp_resume(&parser);
  const std::string rest = both.substr(first.size());  // Another buffer, as after a compaction.
  CHECK(llhttp_execute(&parser, rest.data(), rest.size()) == HPE_PAUSED);
  CHECK(BytesBeforePause(parser, rest.data(), rest.size()) == second.size());
}

}  // namespace
}  // namespace spegel::http
