#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace relay::publish {

// Messages published, by source and event type (qq_relay_events_total). Event types are a short, fixed list:
// after the first of each, counting allocates nothing. A flood is mostly one type from one source: the last
// pair's counter is kept (map nodes never move, and none is ever erased), so a repeat skips both lookups.
class EventCounts {
 public:
  using ByType = std::map<std::string, std::uint64_t, std::less<>>;
  // std::less<> lets a string_view find an entry without building a string.
  using BySource = std::map<std::string, ByType, std::less<>>;

  EventCounts() = default;
  // A copy would keep a pointer into the other's map.
  EventCounts(const EventCounts&) = delete;
  EventCounts& operator=(const EventCounts&) = delete;

  void add(std::string_view source, std::string_view type);
  const BySource& by_source() const { return m_counts; }
  std::uint64_t count(std::string_view source, std::string_view type) const;

 private:
  BySource m_counts;
  std::string m_last_source;
  std::string m_last_type;
  std::uint64_t* m_last_count = nullptr;
};

}  // namespace relay::publish
