#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "state/quarantine.hpp"
#include "util/json_validate.hpp"

namespace fs = std::filesystem;

namespace {

using QuarantineDir = relay::test::TempDir;

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

TEST_CASE("a quarantine record is one valid JSON line whatever the bytes, with the bytes in base64") {
  relay::state::QuarantineRecord record;
  record.unix_ms = 1700000000123;
  record.source = "gateway";
  record.shard = std::pair{1u, 4u};
  record.seq = 42;
  record.problem = "more bytes after the document";
  record.offset = 3;
  record.bytes = "{}\xff";
  const std::string line = relay::state::Quarantine::encode(record, 100);
  CHECK(
      line ==
      R"({"time_ms":1700000000123,"source":"gateway","shard":[1,4],"s":42,"problem":"more bytes after the document",)"
      R"("offset":3,"length":3,"truncated":false,"base64":"e33/"})"
      "\n");
  record.shard.reset();
  record.seq.reset();
  record.bytes = "0123456789";
  const std::string cut = relay::state::Quarantine::encode(record, 4);
  CHECK(cut.find(R"("shard":null,"s":null)") != std::string::npos);
  CHECK(cut.find(R"("length":10,"truncated":true,"base64":"MDEyMw=="})") != std::string::npos);
  CHECK(relay::util::is_valid_json(cut));
}

TEST_CASE("the quarantine stays within its size, keeping the newest records") {
  QuarantineDir dir;
  constexpr std::size_t k_max = 4096;
  relay::state::Quarantine quarantine(dir.path.string(), k_max);
  const std::string bytes(300, 'x');
  relay::state::QuarantineRecord record;
  record.source = "webhook";
  record.problem = "not UTF-8";
  record.bytes = bytes;
  for (int i = 0; i < 100; ++i) {
    record.seq = i;
    REQUIRE(quarantine.keep(record).empty());
    const auto current = fs::file_size(dir.path / "quarantine.jsonl");
    const auto rotated =
        fs::exists(dir.path / "quarantine.1.jsonl") ? fs::file_size(dir.path / "quarantine.1.jsonl") : 0;
    REQUIRE(current + rotated <= k_max);
  }
  const auto newest = lines_of(dir.path / "quarantine.jsonl");
  REQUIRE_FALSE(newest.empty());
  CHECK(newest.back().find(R"("s":99)") != std::string::npos);
  REQUIRE_FALSE(lines_of(dir.path / "quarantine.1.jsonl").empty());
  struct stat info {};
  REQUIRE(::stat((dir.path / "quarantine.jsonl").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("a record larger than a quarter of the quarantine is cut, and a size of 0 keeps nothing") {
  QuarantineDir dir;
  const std::string bytes(100'000, 'y');
  relay::state::QuarantineRecord record;
  record.source = "gateway";
  record.problem = "p";
  record.bytes = bytes;
  relay::state::Quarantine small(dir.path.string(), 8192);
  REQUIRE(small.keep(record).empty());
  const auto lines = lines_of(dir.path / "quarantine.jsonl");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].size() <= 8192 / 4 + 200);
  CHECK(lines[0].find(R"("length":100000,"truncated":true)") != std::string::npos);

  QuarantineDir other;
  relay::state::Quarantine off(other.path.string(), 0);
  REQUIRE(off.keep(record).empty());
  CHECK_FALSE(fs::exists(other.path / "quarantine.jsonl"));
}

TEST_CASE("the quarantine does not follow a link planted at its path") {
  QuarantineDir dir;
  const fs::path target = dir.path / "elsewhere";
  { std::ofstream(target) << "untouched\n"; }
  fs::create_symlink(target, dir.path / "quarantine.jsonl");
  relay::state::Quarantine quarantine(dir.path.string(), 4096);
  relay::state::QuarantineRecord record;
  record.source = "gateway";
  record.problem = "p";
  record.bytes = "x";
  CHECK_FALSE(quarantine.keep(record).empty());
  CHECK(lines_of(target) == std::vector<std::string>{"untouched"});
}
