#include "ingress/upstream_pool.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "ingress/lws_callbacks.hpp"
#include "ingress/lws_util.hpp"

namespace relay::ingress {
namespace {

// Plaintext handed to TLS (or the socket) per writable callback: a 10 MiB upload does not become one
// 10 MiB ciphertext buffer, and the loop serves other connections in between.
constexpr std::size_t k_write_slice = 64 * 1024;
constexpr std::size_t k_max_head = 16 * 1024;

std::string& decrypted_scratch() {
  static std::string buffer;
  return buffer;
}

std::string seconds(util::Millis delay) {
  return fmt::format("{:g} s", std::chrono::duration<double>(delay).count());
}

std::string origin_key_of(const util::Url& url) {
  return fmt::format("{}://{}:{}", url.tls ? "https" : "http", url.host, url.port);
}

std::string request_bytes(const HttpRequestSpec& spec, const util::Url& url) {
  std::string out;
  out.reserve(512 + (spec.body ? spec.body->size() : 0));
  out += spec.method;
  out += ' ';
  out += url.path;
  out += " HTTP/1.1\r\nHost: ";
  out += host_header(url);
  out += "\r\n";
  for (const auto& [name, value] : spec.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (spec.body) {
    out += "Content-Type: ";
    out += spec.content_type;
    out += "\r\nContent-Length: ";
    out += std::to_string(spec.body->size());
    out += "\r\n";
  }
  out += "\r\n";
  if (spec.body) {
    out += *spec.body;
  }
  return out;
}

// The header fields a request must not carry as given: a CR, LF or NUL would end the head early.
bool header_safe(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// UpstreamConnection

UpstreamConnection::UpstreamConnection(EventLoop& loop, UpstreamPool& pool, const util::Url& origin,
                                       std::string origin_key)
    : m_pool(pool),
      m_origin_key(std::move(origin_key)),
      m_host(origin.host),
      m_wants_tls(origin.tls),
      m_idle_timer(loop, [this] {
        kill();
        m_pool.note_idle_lost();
      }) {
  m_port = origin.port;
  http::Resolver* resolver = http::Resolver::needed_for(loop.context(), m_host);
  if (resolver == nullptr) {
    open(loop.context(), m_host);
    return;
  }
  // Looked up off the loop; TlsSession still checks the certificate against the name. The request's
  // timeout covers the lookup (kill() cancels it).
  m_lookup = resolver->resolve(m_host, [this, context = loop.context()](http::Resolution&& resolution) {
    m_lookup.reset();
    if (resolution.address.empty()) {
      lost(resolution.error);
      return;
    }
    open(context, resolution.address);
    if (m_dead) {
      lost(m_error);
    }
  });
}

void UpstreamConnection::open(lws_context* context, const std::string& address) {
  m_address = address;
  lws_client_connect_info info{};
  info.context = context;
  info.address = m_address.c_str();
  info.port = m_port;
  info.path = "/";
  info.host = m_host.c_str();
  info.method = "RAW";
  info.local_protocol_name = "relay-upstream";
  info.userdata = this;
  info.pwsi = &m_wsi;
  if (!lws_client_connect_via_info(&info)) {
    m_wsi = nullptr;
    m_dead = true;
    m_error = "cannot connect to " + m_host;
  }
}

UpstreamConnection::~UpstreamConnection() {
  kill();
}

void UpstreamConnection::kill() {
  m_dead = true;
  m_lookup.reset();
  if (m_wsi) {
    lws* wsi = m_wsi;
    m_wsi = nullptr;
    detach_and_kill(wsi);
  }
}

void UpstreamConnection::start(UpstreamRequest& user, std::shared_ptr<const std::string> bytes,
                               bool head_request, std::size_t max_body) {
  m_user = &user;
  m_idle_timer.cancel();
  m_reader = http::ResponseReader(http::ResponseLimits{k_max_head, max_body});
  m_reader.reset(head_request);
  m_pending = std::move(bytes);
  m_pending_sent = 0;
  m_written = false;
  if (m_dead) {
    notify();
  } else if (m_connected && m_wsi) {
    lws_callback_on_writable(m_wsi);
  }
}

void UpstreamConnection::park_dead() {
  m_user = nullptr;
  m_idle_timer.cancel();
}

void UpstreamConnection::park(util::Millis idle_timeout) {
  m_user = nullptr;
  m_idle_timer.schedule_in(idle_timeout);
}

bool UpstreamConnection::usable_when_idle() const {
  if (m_dead || !m_wsi || (m_tls && m_tls->peer_closed())) {
    return false;
  }
  // The server may have closed the connection (or sent something unasked) since the last answer, and the
  // loop has not seen it yet: only a connection with nothing at all to read is reused.
  const int fd = lws_get_socket_fd(m_wsi);
  char byte = 0;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool UpstreamConnection::reusable() const {
  return !m_dead && m_wsi && m_reader.state() == http::ResponseReader::State::complete &&
         m_reader.keep_alive() && !(m_tls && m_tls->peer_closed());
}

void UpstreamConnection::notify() {
  if (m_user) {
    m_user->on_connection_event();
  }
}

void UpstreamConnection::lost(std::string why) {
  m_dead = true;
  if (m_error.empty()) {
    m_error = std::move(why);
  }
  if (m_user) {
    notify();
  } else {
    m_idle_timer.cancel();
    m_pool.note_idle_lost();
  }
}

bool UpstreamConnection::on_connected() {
  m_connected = true;
  if (m_wants_tls) {
    m_tls = std::make_unique<TlsSession>(m_host);
    if (!m_tls->error().empty()) {
      lost("cannot connect to " + m_host + ": " + m_tls->error());
      return false;
    }
  }
  lws_callback_on_writable(m_wsi);
  return true;
}

bool UpstreamConnection::on_bytes(const char* data, std::size_t size) {
  if (!m_tls) {
    return on_plaintext(data, size);
  }
  std::string& plaintext = decrypted_scratch();
  plaintext.clear();
  if (!m_tls->receive(data, size, plaintext)) {
    lost(m_tls->error());
    return false;
  }
  if (m_tls->has_output() || (m_tls->handshake_done() && m_pending_sent < pending_size())) {
    lws_callback_on_writable(m_wsi);
  }
  if (!plaintext.empty() && !on_plaintext(plaintext.data(), plaintext.size())) {
    return false;
  }
  if (m_tls->peer_closed()) {
    if (m_user) {
      m_reader.end_of_stream();
      if (m_reader.state() == http::ResponseReader::State::complete) {
        m_dead = true;
        notify();
        return false;
      }
    }
    lost(m_reader.state() == http::ResponseReader::State::failed ? m_reader.error()
                                                                 : "the server closed the connection");
    return false;
  }
  return true;
}

bool UpstreamConnection::on_plaintext(const char* data, std::size_t size) {
  if (!m_user) {
    lost("the server sent bytes on an idle connection");
    return false;
  }
  if (m_reader.state() == http::ResponseReader::State::complete) {
    // More than the answer (nothing was asked): the connection cannot be trusted with another request.
    m_dead = true;
    return false;
  }
  const std::size_t used = m_reader.feed(std::string_view(data, size));
  switch (m_reader.state()) {
    case http::ResponseReader::State::complete:
      if (used < size) {
        m_dead = true;
      }
      notify();
      return used == size;
    case http::ResponseReader::State::failed:
      lost("a malformed answer: " + m_reader.error());
      return false;
    default:
      return true;
  }
}

bool UpstreamConnection::write_pending(lws* wsi) {
  m_wire.assign(LWS_PRE, '\0');
  const std::size_t rest = pending_size() - m_pending_sent;
  const std::size_t slice = std::min(rest, k_write_slice);
  if (m_tls) {
    if (m_tls->handshake_done() && slice > 0) {
      if (!m_tls->send(std::string_view(*m_pending).substr(m_pending_sent, slice))) {
        lost(m_tls->error());
        return false;
      }
      m_pending_sent += slice;
    }
    m_tls->take_output(m_wire);
  } else if (slice > 0) {
    m_wire.append(*m_pending, m_pending_sent, slice);
    m_pending_sent += slice;
  }
  const std::size_t size = m_wire.size() - LWS_PRE;
  if (size > 0) {
    auto* bytes = reinterpret_cast<unsigned char*>(m_wire.data() + LWS_PRE);
    if (lws_write(wsi, bytes, size, LWS_WRITE_RAW) < static_cast<int>(size)) {
      lost("cannot write the request");
      return false;
    }
  }
  if (m_pending && m_pending_sent == m_pending->size()) {
    m_written = true;
    m_pending.reset();
    m_pending_sent = 0;
  }
  if (m_wire.capacity() > 2 * k_write_slice) {
    std::string().swap(m_wire);
  }
  if (m_pending_sent < pending_size() || (m_tls && m_tls->has_output())) {
    lws_callback_on_writable(wsi);
  }
  return true;
}

int UpstreamConnection::handle(lws* wsi, int reason, void* in, std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
      m_wsi = wsi;
      return on_connected() ? 0 : -1;
    case LWS_CALLBACK_RAW_RX:
      return on_bytes(static_cast<const char*>(in), len) ? 0 : -1;
    case LWS_CALLBACK_RAW_WRITEABLE:
      return write_pending(wsi) ? 0 : -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      m_wsi = nullptr;
      lws_set_wsi_user(wsi, nullptr);
      std::string why = "cannot connect to " + m_host;
      if (in) {
        why += ": ";
        why += std::string(static_cast<const char*>(in), strnlen(static_cast<const char*>(in), 256));
      }
      lost(why);
      return 0;
    }
    case LWS_CALLBACK_RAW_CLOSE:
      m_wsi = nullptr;
      lws_set_wsi_user(wsi, nullptr);
      if (m_user && !m_dead) {
        m_reader.end_of_stream();
        if (m_reader.state() == http::ResponseReader::State::complete) {
          m_dead = true;  // a body that ran to the end of the connection
          notify();
          return 0;
        }
      }
      if (!m_dead || m_error.empty()) {
        lost(!m_connected         ? "cannot connect to " + m_host
             : m_reader.started() ? "the connection closed in the middle of the answer"
                                  : "the connection closed before an answer");
      }
      return 0;
    default:
      return 0;
  }
}

int upstream_connection_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                                 std::size_t len) {
  return raw_client_callback<UpstreamConnection>(wsi, reason, user, in, len);
}

// ---------------------------------------------------------------------------------------------------------
// UpstreamRequest

UpstreamRequest::UpstreamRequest(EventLoop& loop, UpstreamPool& pool, HttpRequestSpec spec, Callback on_done)
    : m_pool(pool),
      m_spec(std::move(spec)),
      m_on_done(std::move(on_done)),
      m_step(loop, [this] { step(); }),
      m_timeout(loop, [this] {
        const bool resolving = m_connection && m_connection->resolving();
        if (m_connection) {
          m_connection->kill();
          m_pool.retire(std::move(m_connection));
        }
        const std::string after = "after " + seconds(m_spec.timeout);
        finish(HttpResponse{
            0,
            {},
            resolving ? "timed out resolving " + m_url->host + " " + after : "timed out " + after,
            {}});
      }) {
  m_url = util::parse_url(m_spec.url);
  bool safe = header_safe(m_spec.method) && header_safe(m_spec.content_type);
  for (const auto& [name, value] : m_spec.headers) {
    safe = safe && header_safe(name) && header_safe(value);
  }
  if (!m_url || m_url->websocket || !safe) {
    m_url.reset();
    m_step.schedule_in(util::Millis(0));  // reported from the loop, never from inside the constructor
    return;
  }
  m_origin_key = origin_key_of(*m_url);
  m_bytes = std::make_shared<const std::string>(request_bytes(m_spec, *m_url));
  m_spec.body.reset();  // in m_bytes now: a large upload is held once more, not twice
  m_timeout.schedule_in(m_spec.timeout);
  begin();
}

UpstreamRequest::~UpstreamRequest() {
  if (m_connection) {
    // Cancelled in the middle of an exchange: the connection's state is unknown, it is not reused.
    m_connection->kill();
    m_pool.retire(std::move(m_connection));
  }
}

void UpstreamRequest::begin() {
  m_connection = m_pool.take(*m_url, m_origin_key, m_reused);
  // Shared, not copied: a retry sends the same bytes again.
  m_connection->start(*this, m_bytes, m_spec.method == "HEAD", m_spec.max_response_bytes);
}

void UpstreamRequest::step() {
  if (m_done) {
    return;
  }
  if (!m_url) {
    finish(HttpResponse{0, {}, "not an http or https URL, or a header with a line break: " + m_spec.url, {}});
    return;
  }
  if (!m_connection) {
    return;
  }
  http::ResponseReader& reader = m_connection->reader();
  if (reader.state() == http::ResponseReader::State::complete) {
    HttpResponse response{reader.status(), std::move(reader.body()), {}, {}};
    for (const std::string& wanted : m_spec.response_headers) {
      for (const auto& [name, value] : reader.headers()) {
        if (name == wanted) {
          response.headers.emplace_back(name, value);
          break;
        }
      }
    }
    if (m_connection->reusable()) {
      m_pool.give_back(std::move(m_connection));
    } else {
      m_pool.retire(std::move(m_connection));
    }
    finish(std::move(response));
    return;
  }
  if (!m_connection->dead()) {
    return;
  }
  // A kept-alive connection the server had already closed: the request is sent once more on a new one,
  // whatever its method, but only when it provably never reached the server whole (it was not completely
  // written) and no byte of an answer came. A request that was written whole may have reached the
  // application before the connection died (a reset after the platform took a message looks the same on
  // the wire): it is not resent here; the forwarder's own rules (a GET or HEAD once more) decide. Reusing
  // only idle connections with nothing to read (usable_when_idle) keeps that case rare.
  const bool never_reached = m_reused && !m_retried && !reader.started() && !m_connection->request_written();
  std::string error = m_connection->error().empty() ? "connection error" : m_connection->error();
  m_pool.retire(std::move(m_connection));
  if (never_reached) {
    m_retried = true;
    ++m_pool.m_counters.stale_retries;
    m_connection = m_pool.connect(*m_url, m_origin_key);
    m_reused = false;
    m_connection->start(*this, m_bytes, m_spec.method == "HEAD", m_spec.max_response_bytes);
    return;
  }
  finish(HttpResponse{0, {}, std::move(error), {}});
}

void UpstreamRequest::finish(HttpResponse response) {
  m_done = true;
  m_timeout.cancel();
  m_step.cancel();
  Callback on_done = std::move(m_on_done);
  on_done(std::move(response));  // may destroy this request: nothing after it
}

// ---------------------------------------------------------------------------------------------------------
// UpstreamPool

UpstreamPool::UpstreamPool(EventLoop& loop, UpstreamPoolSettings settings)
    : m_loop(loop), m_settings(settings), m_sweep(loop, [this] { sweep(); }) {}

UpstreamPool::~UpstreamPool() = default;

std::unique_ptr<UpstreamRequest> UpstreamPool::start(HttpRequestSpec spec,
                                                     UpstreamRequest::Callback on_done) {
  return std::make_unique<UpstreamRequest>(m_loop, *this, std::move(spec), std::move(on_done));
}

std::size_t UpstreamPool::idle() const {
  return static_cast<std::size_t>(
      std::count_if(m_idle.begin(), m_idle.end(), [](const auto& c) { return !c->dead(); }));
}

std::unique_ptr<UpstreamConnection> UpstreamPool::take(const util::Url& url, const std::string& origin_key,
                                                       bool& reused) {
  // The most recently used first: the one least likely to have been closed by the server meanwhile.
  for (auto it = m_idle.rbegin(); it != m_idle.rend(); ++it) {
    if ((*it)->origin_key() != origin_key || !(*it)->usable_when_idle()) {
      continue;
    }
    std::unique_ptr<UpstreamConnection> connection = std::move(*it);
    m_idle.erase(std::next(it).base());
    reused = true;
    ++m_counters.reused_connections;
    m_sweep.schedule_in(util::Millis(0));  // the unusable ones passed over
    return connection;
  }
  reused = false;
  return connect(url, origin_key);
}

std::unique_ptr<UpstreamConnection> UpstreamPool::connect(const util::Url& url,
                                                          const std::string& origin_key) {
  ++m_counters.new_connections;
  return std::make_unique<UpstreamConnection>(m_loop, *this, url, origin_key);
}

void UpstreamPool::give_back(std::unique_ptr<UpstreamConnection> connection) {
  connection->park(m_settings.idle_timeout);
  m_idle.push_back(std::move(connection));
  while (m_idle.size() > m_settings.max_idle) {
    m_idle.front()->kill();
    retire(std::move(m_idle.front()));
    m_idle.erase(m_idle.begin());
  }
}

void UpstreamPool::retire(std::unique_ptr<UpstreamConnection> connection) {
  if (connection) {
    connection->kill();
    connection->park_dead();
    m_retired.push_back(std::move(connection));
    m_sweep.schedule_in(util::Millis(0));
  }
}

void UpstreamPool::sweep() {
  m_retired.clear();
  std::erase_if(m_idle, [](const auto& c) { return c->dead() || !c->usable_when_idle(); });
}

}  // namespace relay::ingress
