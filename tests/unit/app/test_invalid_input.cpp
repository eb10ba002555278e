#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "app/invalid_input.hpp"

using relay::app::InvalidInput;
namespace fs = std::filesystem;

TEST_CASE("invalid input is counted by source and every record reaches the quarantine") {
  relay::test::TempDir temp;
  const fs::path& dir = temp.path;
  {
    InvalidInput invalid(dir.string(), 1 << 20);
    const auto now = relay::util::Clock::now();
    // A burst: only the first is logged at once, but all are counted and kept.
    for (int i = 0; i < 5; ++i) {
      invalid.note({0, "gateway", std::pair{1u, 4u}, 10u + i, "trailing bytes", 9, R"({"op":0} x)"}, now);
    }
    invalid.note({0, "webhook", std::nullopt, std::nullopt, "not JSON", 0, "\xff\xfe"}, now);
    REQUIRE(invalid.gateway_count() == 5);
    REQUIRE(invalid.webhook_count() == 1);
  }
  std::ifstream in(dir / "quarantine.jsonl");
  int lines = 0;
  int webhook_lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    webhook_lines += line.find(R"("source":"webhook")") != std::string::npos;
  }
  REQUIRE(lines == 6);
  REQUIRE(webhook_lines == 1);
}

TEST_CASE("the log excerpt is hex of the first bytes") {
  REQUIRE(InvalidInput::hex_excerpt("{\"op", 3) == "7b 22 6f ...");
  REQUIRE(InvalidInput::hex_excerpt("ab", 8) == "61 62");
  REQUIRE(InvalidInput::hex_excerpt("", 8).empty());
}
