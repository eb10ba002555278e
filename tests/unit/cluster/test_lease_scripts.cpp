#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "cluster/lease_keys.hpp"
#include "cluster/lease_scripts.hpp"

using namespace relay::cluster;

namespace {
std::string read_script(std::string_view name) {
  std::ifstream in(std::string(RELAY_SOURCE_DIR) + "/daemon/cluster/scripts/" + std::string(name) + ".lua");
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

TEST_CASE("the embedded lease scripts are the .lua files as they are now (the build regenerates them)") {
  REQUIRE(lease_scripts().size() == 8);
  for (const auto& script : lease_scripts()) {
    INFO(script.name);
    CHECK(script.source == read_script(script.name));
  }
}

TEST_CASE("a shard's lease, fencing counter and position share one hash tag") {
  const LeaseKeys keys{"qq:bot1:"};
  CHECK(keys.lease(2, 4) == "qq:bot1:{shard:2/4}:lease");
  CHECK(keys.fence(2, 4) == "qq:bot1:{shard:2/4}:fence");
  CHECK(keys.position(2, 4) == "qq:bot1:{shard:2/4}:position");
  CHECK(keys.identify_bucket(5, 2) == "qq:bot1:identify:1");
  CHECK(keys.identify_bucket(4, 2) == "qq:bot1:identify:0");
  CHECK(keys.quota() == "qq:bot1:identify:quota");
  CHECK(keys.seen("evt-1") == "qq:bot1:seen:evt-1");
  CHECK(keys.nodes() == "qq:bot1:nodes");
}
