#include "publish/reply_budget.hpp"

#include <algorithm>

namespace relay::publish {

struct ReplyBudget::Block {
  std::string bytes;
  std::shared_ptr<Account> client;
  std::shared_ptr<Account> all;
  // Frames still alive, plus one held by make_reply while it builds them.
  std::atomic<std::size_t> references{1};
};

ReplyBudget::ReplyBudget(std::size_t per_client, std::size_t total)
    : m_per_client(per_client), m_total(total) {}

ReplyBudget::~ReplyBudget() = default;

void ReplyBudget::release(void* /*data*/, void* hint) {
  // Runs on libzmq's I/O thread (or ours, for a frame that was never sent).
  auto* block = static_cast<Block*>(hint);
  if (block->references.fetch_sub(1, std::memory_order_acq_rel) != 1) {
    return;
  }
  block->client->queued.fetch_sub(block->bytes.size(), std::memory_order_relaxed);
  block->all->queued.fetch_sub(block->bytes.size(), std::memory_order_relaxed);
  delete block;
}

ReplyBudget::Room ReplyBudget::room_for(std::string_view client) const {
  const auto left = [](std::size_t budget, std::size_t used) { return used < budget ? budget - used : 0; };
  Room room;
  std::size_t client_queued = 0;
  if (auto it = m_clients.find(std::string(client)); it != m_clients.end()) {
    client_queued = it->second->queued.load(std::memory_order_relaxed);
  }
  room.client = left(m_per_client, client_queued);
  room.total = left(m_total, queued_bytes());
  room.client_idle = client_queued == 0;
  return room;
}

std::vector<zmq::message_t> ReplyBudget::make_reply(std::string_view client,
                                                    const std::vector<std::string_view>& parts) {
  forget_idle_clients();
  std::shared_ptr<Account>& account = m_clients[std::string(client)];
  if (!account) {
    account = std::make_shared<Account>();
  }
  auto* block = new Block{{}, account, m_all};
  std::size_t size = 0;
  for (std::string_view part : parts) {
    size += part.size();
  }
  block->bytes.reserve(size);
  for (std::string_view part : parts) {
    block->bytes += part;
  }
  account->queued.fetch_add(size, std::memory_order_relaxed);
  m_all->queued.fetch_add(size, std::memory_order_relaxed);

  std::vector<zmq::message_t> frames;
  frames.reserve(parts.size());
  char* data = block->bytes.data();
  try {
    for (std::string_view part : parts) {
      frames.emplace_back(data, part.size(), &ReplyBudget::release, block);
      block->references.fetch_add(1, std::memory_order_relaxed);
      data += part.size();
    }
  } catch (...) {
    frames.clear();
    release(nullptr, block);
    throw;
  }
  release(nullptr, block);  // make_reply's own reference; the frames now keep the block
  return frames;
}

std::size_t ReplyBudget::queued_bytes() const {
  return m_all->queued.load(std::memory_order_relaxed);
}

void ReplyBudget::forget_idle_clients() {
  // A client whose replies have all been freed needs no entry: it is recreated at its next reply. Swept when
  // the table has doubled, so the cost per reply stays constant.
  if (m_clients.size() < m_forget_above) {
    return;
  }
  std::erase_if(m_clients, [](const auto& entry) { return entry.second->queued.load() == 0; });
  m_forget_above = std::max<std::size_t>(64, 2 * m_clients.size());
}

}  // namespace relay::publish
