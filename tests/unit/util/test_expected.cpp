#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "util/expected.hpp"

using relay::util::BadExpectedAccess;
using relay::util::Expected;
using relay::util::Unexpected;

namespace {

struct Problem {
  int code = 0;
  std::string text;
};

Expected<int, Problem> half(int n) {
  if (n % 2 != 0) {
    return Unexpected(Problem{n, "odd"});
  }
  return n / 2;
}

}  // namespace

TEST_CASE("Expected holds a value or an error and says which") {
  const auto good = half(8);
  REQUIRE(good.has_value());
  REQUIRE(static_cast<bool>(good));
  REQUIRE(*good == 4);
  REQUIRE(good.value() == 4);
  REQUIRE(good.value_or(-1) == 4);

  const auto bad = half(7);
  REQUIRE_FALSE(bad.has_value());
  REQUIRE_FALSE(static_cast<bool>(bad));
  REQUIRE(bad.error().code == 7);
  REQUIRE(bad.error().text == "odd");
  REQUIRE(bad.value_or(-1) == -1);
  REQUIRE_THROWS_AS(bad.value(), BadExpectedAccess);
}

TEST_CASE("Expected with the same value and error type keeps them apart") {
  const Expected<std::string, std::string> value = std::string("content");
  const Expected<std::string, std::string> error = Unexpected(std::string("no such file"));
  REQUIRE(value.has_value());
  REQUIRE(*value == "content");
  REQUIRE(value->size() == 7);
  REQUIRE_FALSE(error.has_value());
  REQUIRE(error.error() == "no such file");
}

TEST_CASE("Expected carries a move-only value and moves it out") {
  Expected<std::unique_ptr<int>, std::string> result = std::make_unique<int>(42);
  REQUIRE(result);
  REQUIRE(**result == 42);
  std::unique_ptr<int> taken = std::move(result).value();
  REQUIRE(*taken == 42);

  Expected<std::unique_ptr<int>, std::string> failed = Unexpected(std::string("refused"));
  REQUIRE_THROWS_AS(std::move(failed).value(), BadExpectedAccess);
  std::string why = std::move(failed).error();
  REQUIRE(why == "refused");
}

TEST_CASE("Expected converts an error of a compatible type") {
  const char* text = "literal";
  const Expected<int, std::string> result = Unexpected(text);
  REQUIRE(result.error() == "literal");
}

TEST_CASE("Expected<void> is success by default and can carry an error") {
  const Expected<void, std::string> ok;
  REQUIRE(ok.has_value());
  REQUIRE_NOTHROW(ok.value());

  Expected<void, std::string> failed = Unexpected(std::string("disk full"));
  REQUIRE_FALSE(failed);
  REQUIRE(failed.error() == "disk full");
  REQUIRE_THROWS_AS(failed.value(), BadExpectedAccess);
  failed = {};
  REQUIRE(failed);
}
