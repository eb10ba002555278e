#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "ingress/event_loop.hpp"

namespace relay::app {

// Tells systemd about the service (sd_notify): READY=1 once, STATUS= lines, STOPPING=1, and WATCHDOG=1 pings
// from a timer on the event loop itself, so that a loop that hangs stops pinging and gets restarted. Without
// $NOTIFY_SOCKET (not under a Type=notify unit) every call does nothing.
class ServiceNotifier {
 public:
  // `current_status` is asked for a fresh STATUS= line every few seconds once ready, so that
  // `systemctl status` shows the message count moving; the line is sent only when it changed.
  ServiceNotifier(ingress::EventLoop& loop, std::function<std::string()> current_status);

  void ready(const std::string& status);
  void status(const std::string& status);
  void stopping();
  bool is_ready() const { return m_ready; }

 private:
  void ping();
  void refresh();

  std::function<std::string()> m_current_status;
  std::unique_ptr<ingress::Timer> m_watchdog;
  std::unique_ptr<ingress::Timer> m_refresh;
  std::chrono::microseconds m_interval{0};
  bool m_ready = false;
  std::string m_last_status;
};

}  // namespace relay::app
