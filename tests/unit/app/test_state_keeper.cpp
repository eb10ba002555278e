#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "../support/run_loop.hpp"
#include "../support/temp_dir.hpp"
#include "app/state_keeper.hpp"
#include "state/state_file.hpp"

using relay::app::StateKeeper;
using relay::util::Millis;
namespace fs = std::filesystem;

using relay::test::TempDir;

TEST_CASE("positions that move are written once within the save interval, and not while idle") {
  TempDir dir;
  relay::ingress::EventLoop loop;
  relay::state::SavedState current;
  current.app_id = "102";
  int snapshots = 0;
  StateKeeper keeper(loop, dir.path.string(), Millis(30), "102", [&] {
    ++snapshots;
    return current;
  });
  REQUIRE_FALSE(keeper.load());  // nothing saved yet

  current.relay_seq = 7;
  current.relay_seq_reserved = 7;
  current.shards.push_back({0, 1, "session-a", 99});
  keeper.mark_changed();
  keeper.mark_changed();
  keeper.mark_changed();
  REQUIRE(snapshots == 0);  // not at once: within the interval
  REQUIRE(relay::test::run_loop_until(loop, [&] { return keeper.counters().writes == 1; }));
  REQUIRE(snapshots == 1);

  // Another keeper reads it back (load() needs no running loop; one lws context per process, as in the
  // relay).
  StateKeeper reader(loop, dir.path.string(), Millis(30), "102", [] { return relay::state::SavedState{}; });
  const auto loaded = reader.load();
  REQUIRE(loaded);
  REQUIRE(loaded->relay_seq == 7);
  REQUIRE(loaded->shards.at(0).session_id == "session-a");
  REQUIRE(loaded->shards.at(0).seq == 99);
}

TEST_CASE("save_now writes at once and waits for the disk") {
  TempDir dir;
  relay::ingress::EventLoop loop;
  relay::state::SavedState current;
  current.app_id = "102";
  current.relay_seq = 3;
  current.relay_seq_reserved = 10'003;
  StateKeeper keeper(loop, dir.path.string(), Millis(60'000), "102", [&] { return current; });
  REQUIRE(keeper.save_now());
  REQUIRE(keeper.counters().writes == 1);
  REQUIRE(relay::test::file_contents(keeper.path()).find("10003") != std::string::npos);
  const auto ticket = keeper.save_soon();
  REQUIRE(relay::test::run_loop_until(loop, [&] { return keeper.written(ticket); }));
}

TEST_CASE("a corrupt or foreign state file is moved aside and ignored, never fatal") {
  TempDir dir;
  relay::ingress::EventLoop loop;
  const fs::path file = dir.path / std::string(relay::state::k_state_file_name);
  SECTION("corrupt") {
    std::ofstream(file) << "{not json";
    StateKeeper keeper(loop, dir.path.string(), Millis(30), "102", [] { return relay::state::SavedState{}; });
    REQUIRE_FALSE(keeper.load());
    REQUIRE(fs::exists(file.string() + ".bad"));
    REQUIRE_FALSE(fs::exists(file));
  }
  SECTION("another bot's") {
    relay::state::SavedState other;
    other.app_id = "999";
    {
      StateKeeper writer(loop, dir.path.string(), Millis(30), "999", [&] { return other; });
      REQUIRE(writer.save_now());
    }
    StateKeeper keeper(loop, dir.path.string(), Millis(30), "102", [] { return relay::state::SavedState{}; });
    REQUIRE_FALSE(keeper.load());
    REQUIRE(fs::exists(file.string() + ".foreign"));
  }
}
