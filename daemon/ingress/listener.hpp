#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "ingress/event_loop.hpp"
#include "util/log_throttle.hpp"

struct lws;

namespace relay::ingress {

struct ListenerSettings {
  std::string name;  // for logs and metrics: "webhook", "metrics"
  std::string host;  // a numeric address binds exactly that address and family; a name, its first address
  int port = 0;      // 0: the kernel picks one (tests)
  unsigned max_connections = 256;
};

struct ListenerCounters {
  std::uint64_t accepted = 0;
  std::uint64_t rejected_max_connections = 0;  // accepted and closed at once: the cap was reached
  std::uint64_t accept_errors = 0;             // accept() failures that paused the listener
};

// A TCP listening socket of our own, watched on the event loop, whose connections are handed to a
// libwebsockets vhost that does not listen itself. Owning the socket is what makes three things possible that
// lws 4.1 does not do: binding exactly the configured address (IPv4 stays IPv4; an IPv6 address is
// IPv6-only), a cap on concurrent connections, and backing off when accept() fails for want of descriptors or
// memory instead of polling a socket that stays readable in a busy loop.
class Listener {
 public:
  // Binds and listens at once; throws std::runtime_error naming the address when it cannot.
  Listener(EventLoop& loop, ListenerSettings settings);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Hands a connection's descriptor to libwebsockets; returns its wsi, or null (descriptor closed) on
  // failure.
  using Adopt = std::function<lws*(int fd)>;
  // Starts accepting connections, each handed to `adopt`.
  void serve(Adopt adopt);
  // Accepts no more connections (the relay is stopping); those open stay.
  void stop_accepting();
  // The owning server calls this when a connection `adopt` returned is gone (LWS_CALLBACK_WSI_DESTROY, or
  // RAW_CLOSE); other connections are ignored.
  void on_connection_closed(lws* wsi);

  int port() const { return m_port; }
  const std::string& name() const { return m_settings.name; }
  std::size_t open_connections() const { return m_open.size(); }
  std::vector<lws*> connections() const { return {m_open.begin(), m_open.end()}; }
  unsigned max_connections() const { return m_settings.max_connections; }
  const ListenerCounters& counters() const { return m_counters; }

 private:
  void accept_ready();
  void take(int fd);
  void back_off(std::string_view why);
  void resume();

  EventLoop& m_loop;
  ListenerSettings m_settings;
  int m_fd = -1;  // until serve() hands it to the loop
  int m_port = 0;
  Adopt m_adopt;
  std::unique_ptr<FdWatch> m_watch;
  std::unordered_set<lws*> m_open;
  ListenerCounters m_counters;
  Timer m_resume_timer;
  bool m_paused = false;
  util::Millis m_backoff{0};
  util::LogThrottle m_error_log;
  util::LogThrottle m_cap_log;
};

}  // namespace relay::ingress
