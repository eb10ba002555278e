#include "publish/event_counts.hpp"

namespace relay::publish {

void EventCounts::add(std::string_view source, std::string_view type) {
  auto by_source = m_counts.find(source);
  if (by_source == m_counts.end()) {
    by_source = m_counts.emplace(std::string(source), ByType{}).first;
  }
  auto& by_type = by_source->second;
  if (auto it = by_type.find(type); it != by_type.end()) {
    ++it->second;
  } else {
    by_type.emplace(std::string(type), 1);
  }
}

std::uint64_t EventCounts::count(std::string_view source, std::string_view type) const {
  const auto by_source = m_counts.find(source);
  if (by_source == m_counts.end()) {
    return 0;
  }
  const auto it = by_source->second.find(type);
  return it == by_source->second.end() ? 0 : it->second;
}

}  // namespace relay::publish
