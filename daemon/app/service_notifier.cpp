#include "app/service_notifier.hpp"

#include <systemd/sd-daemon.h>

namespace relay::app {

ServiceNotifier::ServiceNotifier(ingress::EventLoop& loop) {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    // Twice per watchdog period, as sd_watchdog_enabled(3) recommends.
    m_interval = std::chrono::microseconds(usec / 2);
    m_watchdog = std::make_unique<ingress::Timer>(loop, [this] { ping(); });
    m_watchdog->schedule_in(std::chrono::duration_cast<util::Millis>(m_interval));
  }
}

void ServiceNotifier::ping() {
  sd_notify(0, "WATCHDOG=1");
  m_watchdog->schedule_in(std::chrono::duration_cast<util::Millis>(m_interval));
}

void ServiceNotifier::ready(const std::string& text) {
  if (m_ready) {
    status(text);
    return;
  }
  m_ready = true;
  m_last_status = text;
  sd_notify(0, ("READY=1\nSTATUS=" + text).c_str());
}

void ServiceNotifier::status(const std::string& text) {
  if (text != m_last_status) {
    m_last_status = text;
    sd_notify(0, ("STATUS=" + text).c_str());
  }
}

void ServiceNotifier::stopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

}  // namespace relay::app
