#include "publish/recent_ids.hpp"

#include <algorithm>
#include <bit>
#include <functional>

namespace relay::publish {

RecentIds::RecentIds(std::size_t capacity) : m_ring(capacity, 0) {
  // At most half full, so linear probes stay short.
  const std::size_t slots = std::bit_ceil(std::max<std::size_t>(capacity * 2, 2));
  m_table.assign(slots, 0);
  m_mask = slots - 1;
}

std::uint64_t RecentIds::hash_of(std::string_view id) {
  const std::uint64_t hash = std::hash<std::string_view>{}(id);
  return hash == 0 ? 1 : hash;
}

std::size_t RecentIds::find_slot(std::uint64_t hash) const {
  std::size_t slot = hash & m_mask;
  while (m_table[slot] != 0 && m_table[slot] != hash) {
    slot = (slot + 1) & m_mask;
  }
  return slot;
}

bool RecentIds::contains(std::string_view id) const {
  if (m_ring.empty()) {
    return false;
  }
  return m_table[find_slot(hash_of(id))] != 0;
}

bool RecentIds::insert(std::string_view id) {
  if (m_ring.empty()) {
    return true;
  }
  const std::uint64_t hash = hash_of(id);
  std::size_t slot = find_slot(hash);
  if (m_table[slot] != 0) {
    return false;
  }
  if (m_size == m_ring.size()) {
    erase(m_ring[m_next]);
    --m_size;
    // The eviction may have moved entries, so look for the free slot again.
    slot = find_slot(hash);
  }
  m_table[slot] = hash;
  m_ring[m_next] = hash;
  m_next = (m_next + 1) % m_ring.size();
  ++m_size;
  return true;
}

void RecentIds::erase(std::uint64_t hash) {
  std::size_t hole = find_slot(hash);
  if (m_table[hole] == 0) {
    return;
  }
  m_table[hole] = 0;
  // Backward-shift deletion: move later entries of the probe run into the hole, so lookups never stop early.
  for (std::size_t next = (hole + 1) & m_mask; m_table[next] != 0; next = (next + 1) & m_mask) {
    const std::size_t home = m_table[next] & m_mask;
    // The entry at `next` may move to `hole` only if its home is not cyclically within (hole, next].
    const bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
    if (!stays) {
      m_table[hole] = m_table[next];
      m_table[next] = 0;
      hole = next;
    }
  }
}

}  // namespace relay::publish
