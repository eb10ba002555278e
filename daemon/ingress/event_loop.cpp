#include "ingress/event_loop.hpp"

#include <unistd.h>

#include <cstddef>
#include <stdexcept>
#include <vector>

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "http/client.hpp"
#include "http/resolver.hpp"
#include "ingress/lws_callbacks.hpp"
#include "ingress/lws_log.hpp"

namespace relay::ingress {

int raw_file_callback(lws* wsi, int reason, void* user, void* /*in*/, std::size_t /*len*/) {
  auto* watch = static_cast<FdWatch*>(user);
  if (watch == nullptr || watch->m_wsi != wsi) {
    return 0;
  }
  if (reason == LWS_CALLBACK_RAW_RX_FILE) {
    watch->m_on_readable();
  } else if (reason == LWS_CALLBACK_RAW_WRITEABLE_FILE) {
    if (watch->m_on_writable) {
      watch->m_on_writable();
    }
  } else if (reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
    watch->m_wsi = nullptr;
    if (watch->m_on_closed) {
      watch->m_on_closed();
    }
  }
  return 0;
}

FdWatch::~FdWatch() {
  if (m_closed_by_handle && m_wsi != nullptr) {
    lws* wsi = m_wsi;
    m_wsi = nullptr;
    lws_set_wsi_user(wsi, nullptr);
    lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_SYNC);
  }
}

void FdWatch::pause() {
  if (m_wsi != nullptr) {
    lws_rx_flow_control(m_wsi, 0);
  }
}

void FdWatch::resume() {
  if (m_wsi != nullptr) {
    lws_rx_flow_control(m_wsi, 1);
  }
}

void FdWatch::request_writable() {
  if (m_wsi != nullptr) {
    lws_callback_on_writable(m_wsi);
  }
}

namespace {

int raw_socket_callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in, std::size_t len) {
  auto* handler = static_cast<RawSocketHandler*>(lws_get_opaque_user_data(wsi));
  if (handler == nullptr) {
    return 0;
  }
  try {
    return handler->on_raw_socket(wsi, static_cast<int>(reason), in, len);
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return -1;
  }
}

int raw_file_trampoline(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  return raw_file_callback(wsi, static_cast<int>(reason), user, in, len);
}

// lws reads at most min(rx buffer, service buffer) bytes per recv(): 16 KiB is about 50 small events per
// system call in a flood, while a shard's rx buffer (resident once a large message has filled it) stays
// small. Larger messages arrive in 16 KiB fragments, which GatewaySocket joins. 64 KiB saved about 2% of
// the relay's CPU in a flood, but the API's raw connections read up to the service buffer too: 40 clients
// without a key, sending 64 KiB bodies at once, then made the relay hold 1.4 MiB instead of 0.75 (ASan
// build, test_relay_api_hostile).
constexpr std::size_t k_read_bytes = 16 * 1024;

const lws_protocols k_protocols[] = {
    {"qq-gateway", gateway_socket_callback, 0, k_read_bytes, 0, nullptr, 0},
    {"relay-upstream", upstream_connection_callback, 0, k_read_bytes, 0, nullptr, 0},
    http::protocol(),
    {"relay-fd", raw_file_trampoline, 0, 0, 0, nullptr, 0},
    {"relay-raw", raw_socket_callback, 0, 4096, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

EventLoop::EventLoop() {
  route_lws_logs(spdlog::get_level());
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = k_protocols;
  info.pt_serv_buf_size = k_read_bytes;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  // The REST calls (token, /gateway/bot) go through this context's TLS client: no renegotiation there either.
  info.ssl_client_options_set = SSL_OP_NO_RENEGOTIATION;
  info.gid = -1;
  info.uid = -1;
  m_context = lws_create_context(&info);
  if (!m_context) {
    throw std::runtime_error("cannot create the libwebsockets context");
  }
  m_resolver = std::make_unique<http::Resolver>(m_context);
}

EventLoop::~EventLoop() {
  m_resolver.reset();  // before the context: a lookup still running must not wake a destroyed one
  if (m_context) {
    lws_context_destroy(m_context);
  }
}

lws_vhost* EventLoop::vhost() const {
  return lws_get_vhost_by_name(m_context, "default");
}

void EventLoop::run() {
  while (!m_stopping) {
    if (lws_service(m_context, 0) < 0) {
      break;
    }
    if (m_on_pass_end) {
      m_on_pass_end();
    }
  }
}

void EventLoop::stop() {
  m_stopping = true;
  lws_cancel_service(m_context);
}

lws* EventLoop::adopt_fd(int fd, FdWatch& watch) {
  lws_sock_file_fd_type descriptor{};
  descriptor.filefd = fd;
  lws* wsi = lws_adopt_descriptor_vhost(vhost(), LWS_ADOPT_RAW_FILE_DESC, descriptor, "relay-fd", nullptr);
  if (!wsi) {
    close(fd);
    throw std::runtime_error("cannot watch a descriptor on the event loop");
  }
  watch.m_wsi = wsi;
  lws_set_wsi_user(wsi, &watch);
  return wsi;
}

void EventLoop::watch_fd(int fd, std::function<void()> on_readable) {
  auto watch = std::unique_ptr<FdWatch>(new FdWatch(std::move(on_readable), false));
  // lws closes adopted descriptors on teardown, so it gets its own copy.
  adopt_fd(dup(fd), *watch);
  m_watches.push_back(std::move(watch));
}

lws* EventLoop::adopt_raw_socket(int fd, RawSocketHandler& handler) {
  lws_adopt_desc_t adopt{};
  adopt.vh = vhost();
  adopt.type = LWS_ADOPT_SOCKET;
  adopt.fd.sockfd = fd;
  adopt.vh_prot_name = "relay-raw";
  adopt.opaque = &handler;
  return lws_adopt_descriptor_vhost_via_info(&adopt);
}

std::unique_ptr<FdWatch> EventLoop::watch_owned_fd(int fd, std::function<void()> on_readable) {
  auto watch = std::unique_ptr<FdWatch>(new FdWatch(std::move(on_readable), true));
  adopt_fd(fd, *watch);
  return watch;
}

std::unique_ptr<FdWatch> EventLoop::watch_socket(int fd, std::function<void()> on_readable,
                                                 std::function<void()> on_writable,
                                                 std::function<void()> on_closed) {
  const int copy = dup(fd);
  if (copy < 0) {
    throw std::runtime_error("cannot duplicate a descriptor to watch it");
  }
  auto watch = std::unique_ptr<FdWatch>(new FdWatch(std::move(on_readable), true));
  watch->m_on_writable = std::move(on_writable);
  watch->m_on_closed = std::move(on_closed);
  adopt_fd(copy, *watch);
  return watch;
}

struct Timer::Slot {
  lws_sorted_usec_list_t sul;  // first member: the callback recovers the Slot from it
  Timer* owner;
};

namespace {
void timer_fired(lws_sorted_usec_list_t* sul) {
  auto* slot = reinterpret_cast<Timer::Slot*>(sul);
  slot->owner->fire_for_loop();
}
}  // namespace

Timer::Timer(EventLoop& loop, std::function<void()> on_fire)
    : m_loop(loop), m_on_fire(std::move(on_fire)), m_slot(std::make_unique<Slot>()) {
  m_slot->sul = {};
  m_slot->owner = this;
}

Timer::~Timer() {
  cancel();
}

void Timer::schedule_in(util::Millis delay) {
  m_armed_at.reset();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::max(delay, util::Millis(0)));
  lws_sul_schedule(m_loop.context(), 0, &m_slot->sul, timer_fired, static_cast<lws_usec_t>(micros.count()));
}

void Timer::schedule_at(util::TimePoint when) {
  if (m_armed_at == when) {
    return;
  }
  schedule_in(std::chrono::ceil<util::Millis>(when - m_loop.now()));
  m_armed_at = when;
}

void Timer::cancel() {
  m_armed_at.reset();
  lws_sul_cancel(&m_slot->sul);
}

}  // namespace relay::ingress
