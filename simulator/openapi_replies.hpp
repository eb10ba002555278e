#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qqsim {

// The passive-reply rules of C2C and group sends (docs/simulator.md, OPENAPI.md section 2): a reference
// (msg_id or event_id) and msg_seq pair is taken once, and one reference takes at most k_max_replies replies.
// Bounded: past max_references the oldest reference is forgotten.
class ReplyLedger {
 public:
  static constexpr std::size_t k_max_replies = 5;

  enum class Verdict : std::uint8_t { ok, duplicate, exhausted };

  explicit ReplyLedger(std::size_t max_references) : max_references_(max_references) {}

  // Records the reply when it is allowed; a refused one leaves no trace.
  Verdict claim(const std::string& reference, std::int64_t msg_seq);

 private:
  std::size_t max_references_;
  std::unordered_map<std::string, std::vector<std::int64_t>> seqs_;  // reference -> msg_seq values taken
  std::deque<std::string> order_;                                    // references, oldest first
};

}  // namespace qqsim
