#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "state/atomic_file.hpp"
#include "state/state_writer.hpp"

namespace fs = std::filesystem;

namespace {

using relay::test::TempDir;

std::string contents(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("an atomic write replaces the file and leaves no temporary behind") {
  TempDir dir;
  const std::string path = (dir.path / "state.json").string();
  REQUIRE(relay::state::write_file_atomically(path, "first"));
  REQUIRE(relay::state::write_file_atomically(path, "second"));
  REQUIRE(contents(path) == "second");
  REQUIRE(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  struct stat info {};
  REQUIRE(stat(path.c_str(), &info) == 0);
  REQUIRE((info.st_mode & 0777) == 0600);  // session ids stay private to the relay's user
}

TEST_CASE("an atomic write never follows what is planted at the temporary's name") {
  TempDir dir;
  const std::string path = (dir.path / "state.json").string();
  const fs::path victim = dir.path / "victim";
  { std::ofstream(victim) << "keep me"; }
  SECTION("a symlink") {
    fs::create_symlink(victim, path + ".tmp");
  }
  SECTION("a dangling symlink") {
    fs::remove(victim);
    fs::create_symlink(victim, path + ".tmp");
  }
  SECTION("a stale temporary left by a crash") {
    std::ofstream(path + ".tmp") << "half a state file";
  }
  const bool victim_existed = fs::exists(victim);
  REQUIRE(relay::state::write_file_atomically(path, "new state"));
  REQUIRE(contents(path) == "new state");
  REQUIRE_FALSE(fs::is_symlink(path));
  REQUIRE_FALSE(fs::exists(fs::symlink_status(path + ".tmp")));
  REQUIRE(fs::exists(victim) == victim_existed);
  if (victim_existed) {
    REQUIRE(contents(victim) == "keep me");
  }
}

TEST_CASE("an atomic write into a missing directory reports the path") {
  TempDir dir;
  const std::string path = (dir.path / "missing" / "state.json").string();
  const auto written = relay::state::write_file_atomically(path, "x");
  REQUIRE_FALSE(written);
  REQUIRE(written.error().find("cannot create " + path + ".tmp") == 0);
}

TEST_CASE("reading tells a missing file from an unreadable one") {
  TempDir dir;
  const auto missing = relay::state::read_whole_file((dir.path / "none").string());
  REQUIRE(missing);
  REQUIRE_FALSE(missing->has_value());
  const auto directory = relay::state::read_whole_file(dir.path.string());
  REQUIRE_FALSE(directory);
  REQUIRE(directory.error() == "cannot read " + dir.path.string() + ": Is a directory");
  REQUIRE(relay::state::write_file_atomically((dir.path / "f").string(), "abc"));
  const auto written = relay::state::read_whole_file((dir.path / "f").string());
  REQUIRE(written);
  REQUIRE(*written == "abc");
}

TEST_CASE("the writer keeps only the newest content and flush waits for it") {
  TempDir dir;
  const std::string path = (dir.path / "state.json").string();
  relay::state::StateWriter writer(path, nullptr);
  for (int i = 0; i < 100; ++i) {
    writer.submit("content " + std::to_string(i));
  }
  REQUIRE(writer.flush().empty());
  REQUIRE(contents(path) == "content 99");
  const auto counters = writer.counters();
  REQUIRE(counters.writes >= 1);
  REQUIRE(counters.writes <= 100);
  REQUIRE(counters.failures == 0);
}

TEST_CASE("the writer reports failures and recovery, and the destructor writes what is pending") {
  TempDir dir;
  const fs::path sub = dir.path / "sub";
  const std::string path = (sub / "state.json").string();
  std::vector<std::string> reports;
  std::mutex lock;
  {
    relay::state::StateWriter writer(path, [&](const std::string& problem) {
      std::lock_guard guard(lock);
      reports.push_back(problem);
    });
    writer.submit("lost");
    REQUIRE_FALSE(writer.flush().empty());
    REQUIRE(writer.counters().failures == 1);
    fs::create_directory(sub);
    writer.submit("kept");
    REQUIRE(writer.flush().empty());
    writer.submit("last words");
  }
  REQUIRE(contents(path) == "last words");
  REQUIRE(reports.size() == 2);
  REQUIRE_FALSE(reports[0].empty());
  REQUIRE(reports[1].empty());
}
