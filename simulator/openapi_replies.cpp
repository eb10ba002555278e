#include "openapi_replies.hpp"

#include <algorithm>

namespace qqsim {

ReplyLedger::Verdict ReplyLedger::claim(const std::string& reference, std::int64_t msg_seq) {
  auto it = seqs_.find(reference);
  if (it != seqs_.end()) {
    std::vector<std::int64_t>& taken = it->second;
    if (std::find(taken.begin(), taken.end(), msg_seq) != taken.end()) {
      return Verdict::duplicate;
    }
    if (taken.size() >= k_max_replies) {
      return Verdict::exhausted;
    }
    taken.push_back(msg_seq);
    return Verdict::ok;
  }
  while (!order_.empty() && seqs_.size() >= max_references_) {
    seqs_.erase(order_.front());
    order_.pop_front();
  }
  seqs_.emplace(reference, std::vector<std::int64_t>{msg_seq});
  order_.push_back(reference);
  return Verdict::ok;
}

}  // namespace qqsim
