#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/expected.hpp"

namespace relay::state {

// One shard's gateway session, as far as the relay has published it.
struct SavedShard {
  unsigned index = 0;
  unsigned count = 1;
  std::string session_id;
  std::uint64_t seq = 0;  // the `s` of the last Dispatch published
};

struct SavedState {
  std::string app_id;
  std::int64_t saved_at_us = 0;
  std::uint64_t relay_seq = 0;  // the last relay_seq published
  // Numbers up to here may have been used by a run that did not stop cleanly; a new run starts after it.
  std::uint64_t relay_seq_reserved = 0;
  std::vector<SavedShard> shards;
};

// Why a state file could not be used. `foreign` files are well formed but belong to another bot or
// another format version; everything else is `corrupt`.
struct StateProblem {
  enum class Kind { corrupt, foreign };
  Kind kind;
  std::string message;
};

inline constexpr std::string_view k_state_format = "qq-gateway-relay-state";
inline constexpr int k_state_version = 1;
inline constexpr std::string_view k_state_file_name = "relay-state.json";

std::string encode_state(const SavedState& state);
// Checks everything a resume would rely on: format, version, the bot, and one consistent shard layout.
util::Expected<SavedState, StateProblem> decode_state(std::string_view text,
                                                      std::string_view expected_app_id);

}  // namespace relay::state
