#include "http/request_body.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>

namespace spegel::http {
namespace {

TEST_CASE("BodyBudget: takes what is left, refuses more, counts refusals") {
  BodyBudget budget(100);
  CHECK(budget.Take(60));
  CHECK_FALSE(budget.Take(41));
  CHECK(budget.used() == 60);
  CHECK(budget.refusals() == 1);
  CHECK(budget.Take(40));
  budget.Give(100);
  CHECK(budget.used() == 0);
  CHECK(budget.limit() == 100);
}

TEST_CASE("RequestBody: room charged page-rounded, appended up to its capacity") {
  BodyBudget budget(64 * 1024);
  RequestBody body;
  REQUIRE(body.Reserve(5000, &budget, 5000) == RequestBody::Reserved::kOk);
  CHECK(budget.used() == 8192);
  CHECK(body.charged() == 8192);
  CHECK(body.Append(std::string(3000, 'a')));
  CHECK(body.Append(std::string(2000, 'b')));
  CHECK_FALSE(body.Append("x"));  // Beyond the capacity: nothing appended.
  CHECK(body.view() == std::string(3000, 'a') + std::string(2000, 'b'));
  CHECK(budget.used() == 8192);
  // A copy has its own room, charged to no budget; a move takes the charge along.
  const RequestBody copy = body;
  CHECK(copy.view() == body.view());
  CHECK(copy.charged() == 0);
  RequestBody moved = std::move(body);
  CHECK(body.empty());  // NOLINT(bugprone-use-after-move): a moved-from body is empty.
  CHECK(moved.size() == 5000);
  CHECK(budget.used() == 8192);
  moved = RequestBody();
  CHECK(budget.used() == 0);
}

TEST_CASE("RequestBody: without an up-front charge, the budget is taken page by page") {
  BodyBudget budget(8192);
  RequestBody body;
  REQUIRE(body.Reserve(64 * 1024, &budget, 0) == RequestBody::Reserved::kOk);
  CHECK(budget.used() == 0);
  CHECK(body.Append("x"));
  CHECK(budget.used() == 4096);
  CHECK(body.Append(std::string(8191, 'y')));
  CHECK(budget.used() == 8192);
  CHECK_FALSE(body.Append("z"));  // A third page: refused, nothing appended.
  CHECK(body.size() == 8192);
  // Refused up front: nothing reserved.
  RequestBody other;
  CHECK(other.Reserve(10, &budget, 10) == RequestBody::Reserved::kOverBudget);
  CHECK(other.capacity() == 0);
  CHECK(budget.refusals() == 2);
}

TEST_CASE("RequestBody: without a budget nothing is charged") {
  RequestBody body;
  REQUIRE(body.Reserve(10, nullptr, 10) == RequestBody::Reserved::kOk);
  CHECK(body.Append("0123456789"));
  CHECK(body.charged() == 0);
  CHECK(body.view() == "0123456789");
  const RequestBody empty;
  CHECK(empty.view().empty());
  RequestBody assigned = body;
  CHECK(assigned.view() == "0123456789");
  assigned = empty;  // Copying an empty body over one gives the old room back.
  CHECK(assigned.empty());
  CHECK(assigned.capacity() == 0);
}

}  // namespace
}  // namespace spegel::http
