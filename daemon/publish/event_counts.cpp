#include "publish/event_counts.hpp"

namespace relay::publish {

void EventCounts::add(std::string_view source, std::string_view type) {
  if (m_last_count != nullptr && type == m_last_type && source == m_last_source) {
    ++*m_last_count;
    return;
  }
  auto by_source = m_counts.find(source);
  if (by_source == m_counts.end()) {
    by_source = m_counts.emplace(std::string(source), ByType{}).first;
  }
  auto& by_type = by_source->second;
  auto it = by_type.find(type);
  if (it == by_type.end()) {
    it = by_type.emplace(std::string(type), 0).first;
  }
  ++it->second;
  m_last_source.assign(source);
  m_last_type.assign(type);
  m_last_count = &it->second;
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
