#include "app/service_notifier.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>

namespace relay::app {

namespace {

constexpr util::Millis k_status_refresh{5000};

}  // namespace

ServiceNotifier::ServiceNotifier(ingress::EventLoop& loop, std::function<std::string()> current_status)
    : m_current_status(std::move(current_status)) {
  if (std::getenv("NOTIFY_SOCKET") != nullptr) {
    m_refresh = std::make_unique<ingress::Timer>(loop, [this] { refresh(); });
    m_refresh->schedule_in(k_status_refresh);
  }
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

void ServiceNotifier::refresh() {
  if (m_ready) {
    status(m_current_status());
  }
  m_refresh->schedule_in(k_status_refresh);
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
  m_refresh.reset();
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

}  // namespace relay::app
