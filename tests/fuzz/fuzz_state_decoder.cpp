// decode_state (the state file, read at start): no crash whatever the bytes, and whatever it accepts survives
// encode_state and a second decode unchanged.
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "state/state_file.hpp"

namespace {

using relay::state::SavedState;

bool same(const SavedState& a, const SavedState& b) {
  if (a.app_id != b.app_id || a.saved_at_us != b.saved_at_us || a.relay_seq != b.relay_seq ||
      a.relay_seq_reserved != b.relay_seq_reserved || a.shards.size() != b.shards.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.shards.size(); ++i) {
    const auto& x = a.shards[i];
    const auto& y = b.shards[i];
    if (x.index != y.index || x.count != y.count || x.session_id != y.session_id || x.seq != y.seq) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The app_id of the seed corpus's state files.
  constexpr std::string_view k_app_id = "102000000";
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto decoded = relay::state::decode_state(text, k_app_id);
  if (!decoded) {
    FUZZ_CHECK(!decoded.error().message.empty());
    return 0;
  }
  const SavedState& state = *decoded;
  FUZZ_CHECK(state.app_id == k_app_id);
  FUZZ_CHECK(state.relay_seq_reserved >= state.relay_seq);
  for (const auto& shard : state.shards) {
    FUZZ_CHECK(shard.index < shard.count && shard.count == state.shards.front().count);
    FUZZ_CHECK(!shard.session_id.empty());
  }
  const std::string encoded = relay::state::encode_state(state);
  const auto again = relay::state::decode_state(encoded, k_app_id);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(same(state, *again));
  FUZZ_CHECK(relay::state::encode_state(*again) == encoded);
  return 0;
}
