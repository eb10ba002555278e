#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

namespace relay::publish {

// Bytes of catch-up replies that libzmq still holds, per client (a ROUTER routing id, i.e. one connection)
// and in total. A reply is copied once into one buffer and its frames point into it; libzmq frees the frames
// from its I/O thread when it has written their last byte to the kernel or dropped the client, and only then
// do the counts go down. So the counts are exactly the reply bytes the process holds, whatever the client
// does.
class ReplyBudget {
 public:
  ReplyBudget(std::size_t per_client, std::size_t total);
  ~ReplyBudget();
  ReplyBudget(const ReplyBudget&) = delete;
  ReplyBudget& operator=(const ReplyBudget&) = delete;

  struct Room {
    std::size_t client = 0;    // bytes this client may still be sent
    std::size_t total = 0;     // bytes all clients together may still be sent
    bool client_idle = false;  // nothing of an earlier reply to this client is still held
  };
  Room room_for(std::string_view client) const;

  // One buffer holding `parts` back to back, counted against `client` until libzmq has freed every frame;
  // returns one message per part, in order.
  std::vector<zmq::message_t> make_reply(std::string_view client, const std::vector<std::string_view>& parts);

  std::size_t queued_bytes() const;
  std::size_t clients_tracked() const { return m_clients.size(); }

 private:
  struct Account {
    std::atomic<std::size_t> queued{0};
  };
  struct Block;
  static void release(void* data, void* hint);
  void forget_idle_clients();

  std::size_t m_per_client;
  std::size_t m_total;
  // Shared with the buffers in flight, which may be freed after this object is gone (the ROUTER's context
  // outlives it).
  std::shared_ptr<Account> m_all = std::make_shared<Account>();
  std::unordered_map<std::string, std::shared_ptr<Account>> m_clients;
  std::size_t m_forget_above = 64;
};

}  // namespace relay::publish
