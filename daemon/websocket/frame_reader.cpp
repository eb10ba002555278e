#include "websocket/frame_reader.hpp"

#include <algorithm>
#include <cstring>

#include "util/strings.hpp"

namespace relay::websocket {
namespace {

constexpr int k_opcode_continuation = 0x0;
constexpr int k_opcode_text = 0x1;
constexpr int k_opcode_binary = 0x2;
constexpr int k_opcode_close = 0x8;
constexpr int k_opcode_ping = 0x9;
constexpr int k_opcode_pong = 0xA;
constexpr int k_close_no_status = 1005;
constexpr std::size_t k_max_control_payload = 125;

bool is_control(int opcode) {
  return (opcode & 0x8) != 0;
}

std::uint64_t big_endian(const unsigned char* bytes, std::size_t count) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    value = (value << 8) | bytes[i];
  }
  return value;
}

}  // namespace

bool is_valid_close_code(int code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

FrameReader::FrameReader(std::size_t max_message_bytes, std::size_t padding, std::size_t retained_bytes,
                         Peer peer)
    : m_max_message_bytes(max_message_bytes),
      m_padding(padding),
      m_retained_bytes(retained_bytes),
      m_peer(peer) {}

void FrameReader::release_buffer() {
  // Not `m_message = std::string()`: moving in a short (inline) string keeps the old allocation.
  std::string().swap(m_message);
}

bool FrameReader::fail(int code, std::string why) {
  m_error_code = code;
  m_error = std::move(why);
  release_buffer();
  return false;
}

FrameReader::HeaderResult FrameReader::parse_header(const unsigned char* bytes, std::size_t size,
                                                    Header& header, std::size_t& used) {
  if (size < 2) {
    return HeaderResult::incomplete;
  }
  if ((bytes[0] & 0x70) != 0) {
    fail(k_close_protocol_error, "a frame with reserved bits set (no extension was negotiated)");
    return HeaderResult::invalid;
  }
  header.masked = (bytes[1] & 0x80) != 0;
  if (header.masked != (m_peer == Peer::client)) {
    fail(k_close_protocol_error,
         m_peer == Peer::client ? "an unmasked frame from the client" : "a masked frame from the server");
    return HeaderResult::invalid;
  }
  header.fin = (bytes[0] & 0x80) != 0;
  header.opcode = bytes[0] & 0x0F;
  const unsigned length7 = bytes[1] & 0x7F;
  if (length7 == 126) {
    if (size < 4) {
      return HeaderResult::incomplete;
    }
    header.length = big_endian(bytes + 2, 2);
    used = 4;
  } else if (length7 == 127) {
    if (size < 10) {
      return HeaderResult::incomplete;
    }
    header.length = big_endian(bytes + 2, 8);
    if (header.length >> 63) {
      fail(k_close_protocol_error, "a frame length with the most significant bit set");
      return HeaderResult::invalid;
    }
    used = 10;
  } else {
    header.length = length7;
    used = 2;
  }
  switch (header.opcode) {
    case k_opcode_continuation:
    case k_opcode_text:
    case k_opcode_binary:
      break;
    case k_opcode_close:
    case k_opcode_ping:
    case k_opcode_pong:
      if (!header.fin || header.length > k_max_control_payload) {
        fail(k_close_protocol_error, "a fragmented or oversized control frame");
        return HeaderResult::invalid;
      }
      break;
    default:
      fail(k_close_protocol_error, "a frame with unknown opcode " + std::to_string(header.opcode));
      return HeaderResult::invalid;
  }
  if (header.masked) {
    if (size < used + header.mask.size()) {
      return HeaderResult::incomplete;
    }
    std::memcpy(header.mask.data(), bytes + used, header.mask.size());
    used += header.mask.size();
  }
  return HeaderResult::ok;
}

void FrameReader::reserve_message(std::size_t bytes) {
  const std::size_t needed = bytes + m_padding;
  if (m_message.capacity() >= needed) {
    return;
  }
  // Doubling; but a message that fits in the retained size gets no more than that, so that medium messages
  // do not leave a buffer that is released and allocated again for every message.
  const std::size_t doubled = m_message.capacity() * 2;
  const std::size_t grown = needed <= m_retained_bytes ? std::min(doubled, m_retained_bytes)
                                                       : std::min(doubled, m_max_message_bytes + m_padding);
  m_message.reserve(std::max(needed, grown));
}

bool FrameReader::start_frame(const Header& header) {
  if (is_control(header.opcode)) {
    m_control.clear();
  } else {
    if (header.opcode == k_opcode_continuation && !m_in_message) {
      return fail(k_close_protocol_error, "a continuation frame outside a message");
    }
    if (header.opcode != k_opcode_continuation) {
      if (m_in_message) {
        return fail(k_close_protocol_error, "a new message before the previous one's final fragment");
      }
      m_in_message = true;
      m_message_is_text = header.opcode == k_opcode_text;
      m_message.clear();
    }
    if (header.length > m_max_message_bytes - m_message.size()) {
      // A client (an SDK bot) is told the limit itself: the relay's configuration key means nothing to it.
      return fail(k_close_message_too_big,
                  m_peer == Peer::client
                      ? "a message larger than " + std::to_string(m_max_message_bytes) + " bytes"
                      : std::string("message larger than gateway.max_frame_bytes"));
    }
  }
  m_frame = header;
  m_frame_remaining = header.length;
  m_mask_phase = 0;
  m_in_frame = true;
  return true;
}

bool FrameReader::close_frame(FrameHandler& handler) {
  m_close_received = true;
  if (m_control.empty()) {
    m_closed = true;
    handler.on_close(k_close_no_status, {});
    return false;
  }
  if (m_control.size() == 1) {
    return fail(k_close_protocol_error, "a close frame with a one-byte payload");
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(m_control.data());
  const int code = static_cast<int>(big_endian(bytes, 2));
  if (!is_valid_close_code(code)) {
    return fail(k_close_protocol_error,
                "a close frame with code " + std::to_string(code) + ", which is not valid on the wire");
  }
  const std::string_view reason = std::string_view(m_control).substr(2);
  if (!util::is_valid_utf8(reason)) {
    return fail(k_close_invalid_payload, "a close frame whose reason is not UTF-8");
  }
  m_closed = true;
  handler.on_close(code, reason);
  return false;
}

bool FrameReader::finish_frame(FrameHandler& handler) {
  m_in_frame = false;
  switch (m_frame.opcode) {
    case k_opcode_ping:
      handler.on_ping(m_control);
      return true;
    case k_opcode_pong:
      return true;
    case k_opcode_close:
      return close_frame(handler);
    default:
      if (m_frame.fin) {
        m_in_message = false;
        if (m_message_is_text && !util::is_valid_utf8(m_message)) {
          handler.on_invalid_text(m_message, m_message.capacity());
          return fail(k_close_invalid_payload, "a text message that is not UTF-8");
        }
        handler.on_message(m_message, m_message.capacity());
        if (m_message.capacity() > m_retained_bytes) {
          release_buffer();
        }
      }
      return true;
  }
}

bool FrameReader::feed(const char* data, std::size_t size, FrameHandler& handler) {
  if (m_closed || m_error_code != 0) {
    return false;
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  std::size_t at = 0;
  while (at < size) {
    if (!m_in_frame) {
      Header header;
      std::size_t used = 0;
      if (m_header_size == 0) {
        // The usual case: the whole header is in the input, parsed where it lies.
        const HeaderResult result = parse_header(bytes + at, size - at, header, used);
        if (result == HeaderResult::invalid) {
          return false;
        }
        if (result == HeaderResult::incomplete) {
          m_header_size = size - at;
          std::memcpy(m_header_bytes, bytes + at, m_header_size);
          return true;
        }
        at += used;
      } else {
        const std::size_t take = std::min(sizeof m_header_bytes - m_header_size, size - at);
        std::memcpy(m_header_bytes + m_header_size, bytes + at, take);
        const HeaderResult result = parse_header(m_header_bytes, m_header_size + take, header, used);
        if (result == HeaderResult::invalid) {
          return false;
        }
        if (result == HeaderResult::incomplete) {
          m_header_size += take;
          return true;
        }
        at += used - m_header_size;
        m_header_size = 0;
      }
      if (!start_frame(header)) {
        return false;
      }
    }
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(m_frame_remaining, size - at));
    if (!is_control(m_frame.opcode)) {
      // The buffer grows with the bytes that arrive, never with what a header announces: a header alone
      // (14 bytes from a peer) must not claim max_message_bytes. A frame whose payload is in hand is still
      // one allocation.
      reserve_message(m_message.size() + take);
    }
    std::string& into = is_control(m_frame.opcode) ? m_control : m_message;
    into.append(data + at, take);
    if (m_frame.masked) {
      m_mask_phase = apply_mask(into.data() + into.size() - take, take, m_frame.mask, m_mask_phase);
    }
    at += take;
    m_frame_remaining -= take;
    if (m_frame_remaining == 0 && !finish_frame(handler)) {
      return false;
    }
  }
  return true;
}

}  // namespace relay::websocket
