#include "ingress/listener.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <libwebsockets.h>
#include <spdlog/spdlog.h>

#include "util/listen_socket.hpp"
#include "util/time.hpp"

namespace relay::ingress {
namespace {

constexpr util::Millis k_first_backoff{100};
constexpr util::Millis k_longest_backoff{1'000};
// Connections taken per readiness event: the rest wait for the next pass, after the other work of this one.
constexpr int k_accepts_per_pass = 64;

// accept() failures that concern only the one connection (it went away, or the network did): try the next.
bool only_this_connection(int error) {
  switch (error) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:  // a firewall rule refused it
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

}  // namespace

Listener::Listener(EventLoop& loop, ListenerSettings settings)
    : m_loop(loop), m_settings(std::move(settings)), m_resume_timer(loop, [this] { resume(); }) {
  std::optional<util::ListeningSocket> inherited;
  try {
    inherited = util::take_inherited_socket(m_settings.host, m_settings.port);
  } catch (const util::SocketError& error) {
    throw std::runtime_error(fmt::format("cannot listen for {} on {}: {}", m_settings.name,
                                         util::address_text(m_settings.host, m_settings.port), error.what()));
  }
  if (inherited) {
    m_fd = inherited->fd;
    m_port = inherited->port;
    spdlog::info("{}: listening on {} with the socket handed over at start (socket activation)",
                 m_settings.name, util::address_text(m_settings.host, m_port));
    return;
  }
  try {
    const auto socket = util::open_listening_socket(m_settings.host, m_settings.port);
    m_fd = socket.fd;
    m_port = socket.port;
  } catch (const util::SocketError& error) {
    const std::string key = m_settings.name + ".listen";
    const auto handed =
        error.code() == EADDRINUSE ? util::inherited_socket_on_port(m_settings.port) : std::nullopt;
    const std::string advice =
        handed ? fmt::format(
                     "the socket handed over at start (socket activation) is bound to {}, not to this "
                     "address: make the socket unit's ListenStream= exactly {}",
                     *handed, key)
               : util::bind_advice(error.code(), key);
    throw std::runtime_error(fmt::format("cannot listen for {} on {}: {}; {}", m_settings.name,
                                         util::address_text(m_settings.host, m_settings.port), error.what(),
                                         advice));
  }
}

Listener::~Listener() {
  if (m_watch) {
    m_watch.reset();  // closes m_fd
  } else if (m_fd >= 0) {
    close(m_fd);
  }
}

void Listener::stop_accepting() {
  if (m_watch) {
    m_watch.reset();  // closes m_fd; a socket held by systemd keeps queueing connections for the next process
  } else if (m_fd >= 0) {
    close(m_fd);
  }
  m_fd = -1;
  m_resume_timer.cancel();
}

void Listener::serve(Adopt adopt) {
  m_adopt = std::move(adopt);
  m_watch = m_loop.watch_owned_fd(m_fd, [this] { accept_ready(); });
}

void Listener::accept_ready() {
  for (int i = 0; i < k_accepts_per_pass && !m_paused; ++i) {
    const int fd = accept4(m_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      m_backoff = util::Millis(0);
      take(fd);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else if (!only_this_connection(errno)) {
      back_off(std::strerror(errno));
    }
  }
}

void Listener::take(int fd) {
  if (m_open.size() >= m_settings.max_connections) {
    // Closed before a byte is read: the client sees the connection end and may retry.
    close(fd);
    const std::uint64_t count = ++m_counters.rejected_max_connections;
    if (m_cap_log.allow(m_loop.now())) {
      spdlog::warn(
          "{}: {} connections open, the most {}.max_connections allows: closing new ones ({} so far)",
          m_settings.name, m_open.size(), m_settings.name, count);
    }
    return;
  }
  // Small writes (one event, one answer) go out at once: with Nagle's algorithm a write behind an
  // unacknowledged segment waits for the peer's delayed ACK, up to 40 ms on Linux.
  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  lws* wsi = m_adopt(fd);
  if (wsi == nullptr) {
    back_off("libwebsockets could not take the connection");
    return;
  }
  ++m_counters.accepted;
  m_open.insert(wsi);
}

void Listener::on_connection_closed(lws* wsi) {
  if (m_open.erase(wsi) > 0 && m_paused) {
    // A descriptor (and its memory) was just given back: the connections waiting can be taken now. From a
    // timer, not from inside libwebsockets' own close.
    m_resume_timer.schedule_in(util::Millis(0));
  }
}

void Listener::back_off(std::string_view why) {
  ++m_counters.accept_errors;
  m_backoff = m_backoff == util::Millis(0) ? k_first_backoff : std::min(m_backoff * 2, k_longest_backoff);
  m_paused = true;
  m_watch->pause();
  m_resume_timer.schedule_in(m_backoff);
  if (m_error_log.allow(m_loop.now())) {
    spdlog::error("{}: cannot accept connections ({}; {} time(s) in the last 10 s): pausing for up to {} ms",
                  m_settings.name, why, m_error_log.take_held_back() + 1, m_backoff.count());
  }
}

void Listener::resume() {
  if (m_paused) {
    m_paused = false;
    m_resume_timer.cancel();
    if (m_watch) {
      m_watch->resume();
    }
  }
}

}  // namespace relay::ingress
