#include <catch2/catch.hpp>

#include "state/state_file.hpp"

using relay::state::decode_state;
using relay::state::encode_state;
using relay::state::SavedShard;
using relay::state::SavedState;
using relay::state::StateProblem;

namespace {

SavedState two_shards() {
  SavedState state;
  state.app_id = "102000000";
  state.saved_at_us = 1'700'000'000'000'000;
  state.relay_seq = 18'446'744'073'709'551'000u;  // beyond 2^53: kept exactly
  state.shards = {SavedShard{0, 2, "6f1c-\"quoted\"", 41}, SavedShard{1, 2, "a9e2", 0}};
  return state;
}

StateProblem problem_of(std::string_view text, std::string_view app_id = "102000000") {
  auto decoded = decode_state(text, app_id);
  REQUIRE_FALSE(decoded);
  return decoded.error();
}

}  // namespace

TEST_CASE("a saved state reads back exactly") {
  const SavedState original = two_shards();
  auto decoded = decode_state(encode_state(original), "102000000");
  REQUIRE(decoded);
  const SavedState& state = *decoded;
  REQUIRE(state.app_id == original.app_id);
  REQUIRE(state.saved_at_us == original.saved_at_us);
  REQUIRE(state.relay_seq == original.relay_seq);
  REQUIRE(state.shards.size() == 2);
  REQUIRE(state.shards[0].session_id == "6f1c-\"quoted\"");
  REQUIRE(state.shards[0].seq == 41);
  REQUIRE(state.shards[1].index == 1);
  REQUIRE(state.shards[1].count == 2);
}

TEST_CASE("a state without shards is valid") {
  SavedState state;
  state.app_id = "1";
  auto decoded = decode_state(encode_state(state), "1");
  REQUIRE(decoded);
  REQUIRE(decoded->shards.empty());
}

TEST_CASE("another bot's state file is foreign") {
  const auto problem = problem_of(encode_state(two_shards()), "999");
  REQUIRE(problem.kind == StateProblem::Kind::foreign);
  REQUIRE(problem.message == "written for app_id 102000000, not 999");
}

TEST_CASE("other files and other versions are foreign") {
  REQUIRE(problem_of(R"({"hello":"world"})").kind == StateProblem::Kind::foreign);
  std::string text = encode_state(two_shards());
  text.replace(text.find(R"("version":1)"), 11, R"("version":2)");
  const auto problem = problem_of(text);
  REQUIRE(problem.kind == StateProblem::Kind::foreign);
  REQUIRE(problem.message == "state format version 2 (this relay reads 1)");
}

TEST_CASE("damaged state files are corrupt, never a crash") {
  const std::string good = encode_state(two_shards());
  // Every prefix of a good file: what a torn write without rename would leave.
  for (std::size_t length = 0; length + 1 < good.size(); ++length) {
    INFO(length);
    auto decoded = decode_state(good.substr(0, length), "102000000");
    REQUIRE_FALSE(decoded);
  }
  REQUIRE(problem_of(std::string_view("\x00\xff\xfe garbage", 12)).kind == StateProblem::Kind::corrupt);
  const char* damaged[] = {
      "",
      "[]",
      R"({"format":"qq-gateway-relay-state","version":1,"app_id":"102000000","saved_at_us":1,"relay_seq":-1,"shards":[]})",
      R"({"format":"qq-gateway-relay-state","version":1,"app_id":"102000000","saved_at_us":1,"relay_seq":1,"shards":[{"shard":[2,2],"session_id":"x","seq":1}]})",
      R"({"format":"qq-gateway-relay-state","version":1,"app_id":"102000000","saved_at_us":1,"relay_seq":1,"shards":[{"shard":[0,2],"session_id":"","seq":1}]})",
      R"({"format":"qq-gateway-relay-state","version":1,"app_id":"102000000","saved_at_us":1,"relay_seq":1,"shards":[{"shard":[0,2],"session_id":"x","seq":"1"}]})",
      R"({"format":"qq-gateway-relay-state","version":1,"app_id":"102000000","saved_at_us":1,"relay_seq":1,"shards":[{"shard":[0,2],"session_id":"x","seq":1},{"shard":[0,2],"session_id":"y","seq":1}]})",
      R"({"format":"qq-gateway-relay-state","version":1,"app_id":"102000000","saved_at_us":1,"relay_seq":1,"shards":[{"shard":[0,2],"session_id":"x","seq":1},{"shard":[1,3],"session_id":"y","seq":1}]})",
  };
  for (const char* text : damaged) {
    INFO(text);
    REQUIRE(problem_of(text).kind == StateProblem::Kind::corrupt);
  }
}
