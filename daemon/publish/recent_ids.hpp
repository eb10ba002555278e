#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace relay::publish {

// The event ids published most recently, for dropping an event the platform delivers twice (a retry, a
// replay, the same event on the gateway and the webhook). Fixed memory: `capacity` 64-bit id hashes in an
// open-addressing table, evicted oldest first. Nothing is allocated after construction.
//
// Ids are compared by a 64-bit hash; with 2^16 ids remembered the chance that an unrelated id is taken for a
// repeat is about 2^-48 per event.
class RecentIds {
 public:
  explicit RecentIds(std::size_t capacity);

  // Remembers `id`; returns false if it was already among the remembered ids.
  bool insert(std::string_view id);
  bool contains(std::string_view id) const;

  std::size_t size() const { return m_size; }
  std::size_t capacity() const { return m_ring.size(); }

 private:
  static std::uint64_t hash_of(std::string_view id);
  std::size_t find_slot(std::uint64_t hash) const;
  void erase(std::uint64_t hash);

  std::vector<std::uint64_t> m_table;  // 0 = empty slot
  std::size_t m_mask = 0;
  std::vector<std::uint64_t> m_ring;  // insertion order, for eviction
  std::size_t m_next = 0;             // where the next insertion goes in m_ring
  std::size_t m_size = 0;
};

}  // namespace relay::publish
