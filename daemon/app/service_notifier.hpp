#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "ingress/event_loop.hpp"

namespace relay::app {

// Tells systemd about the service (sd_notify): READY=1 once, STATUS= lines, STOPPING=1, and WATCHDOG=1 pings
// from a timer on the event loop itself, so that a loop that hangs stops pinging and gets restarted. Without
// $NOTIFY_SOCKET (not under a Type=notify unit) every call does nothing.
class ServiceNotifier {
 public:
  explicit ServiceNotifier(ingress::EventLoop& loop);

  void ready(const std::string& status);
  void status(const std::string& status);
  void stopping();
  bool is_ready() const { return m_ready; }

 private:
  void ping();

  std::unique_ptr<ingress::Timer> m_watchdog;
  std::chrono::microseconds m_interval{0};
  bool m_ready = false;
  std::string m_last_status;
};

}  // namespace relay::app
