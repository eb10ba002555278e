#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "websocket/mask.hpp"

namespace relay::websocket {

// Close codes of RFC 6455 section 7.4.1 that the reader reports.
constexpr int k_close_protocol_error = 1002;
constexpr int k_close_invalid_payload = 1007;
constexpr int k_close_message_too_big = 1009;

// Whether `code` may appear in a close frame on the wire (RFC 6455 section 7.4 and the IANA registry):
// 1000-1003, 1007-1014 and 3000-4999. 1004 is reserved; 1005, 1006 and 1015 are for reports only.
bool is_valid_close_code(int code);

// Whose frames a FrameReader reads: a client reads a server's frames (never masked), a server reads a
// client's frames (always masked, RFC 6455 section 5.1).
enum class Peer { server, client };

// What the peer sends (a server to the relay's gateway client, or an SDK bot to the relay's gateway server),
// as the reader delivers it: payloads already unmasked.
class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  // One whole data message (its fragments joined). `capacity` bytes are readable from text.data(), at least
  // `padding` past the end, so a parser that reads ahead needs no copy.
  virtual void on_message(std::string_view text, std::size_t capacity) = 0;
  // A text message that is not UTF-8, handed over just before the reader fails with 1007: not a message to
  // act on, but the reader's owner may account for it (the relay's gateway client keeps it and passes its s,
  // so that a resume does not have the server send it again, for ever).
  virtual void on_invalid_text(std::string_view /*bytes*/, std::size_t /*capacity*/) {}
  virtual void on_ping(std::string_view payload) = 0;
  // The peer's close frame, with a code valid on the wire and a UTF-8 reason; code 1005 when it carried
  // none. Nothing more is read after it. An invalid close frame is an error instead (1002 or 1007).
  virtual void on_close(int code, std::string_view reason) = 0;
};

// Reads the frames a WebSocket peer sends (RFC 6455 section 5), from bytes in whatever pieces they arrive.
// A whole frame already in the input is handled without staging its header; its payload is copied once,
// into the message buffer, and a client's payload is unmasked there in place. The buffer grows with the
// payload bytes that arrive, not with the length a header announces. No extension is negotiated, so
// RSV bits are errors; a server's frames must not be masked, a client's must be (1002 otherwise). A text
// message that is not UTF-8 is an error (1007), checked once its last fragment has arrived.
class FrameReader {
 public:
  // `padding`: bytes readable past every message's end. `retained_bytes`: the message buffer is kept up to
  // this size between messages, and given back after a larger message, so an idle connection stays small.
  // `peer`: whose frames are read.
  FrameReader(std::size_t max_message_bytes, std::size_t padding, std::size_t retained_bytes,
              Peer peer = Peer::server);

  // Handles `size` more bytes. Returns false after a violation (then error_code() and error() say which)
  // or after a close frame; the caller stops reading either way.
  bool feed(const char* data, std::size_t size, FrameHandler& handler);

  int error_code() const { return m_error_code; }
  const std::string& error() const { return m_error; }
  bool closed() const { return m_closed; }
  // A close frame arrived, valid or not: the peer sends nothing more.
  bool close_received() const { return m_close_received; }
  // Gives back the message buffer.
  void release_buffer();
  // The bytes the message buffer holds allocated (what a peer's frames cost the reader).
  std::size_t buffer_capacity() const { return m_message.capacity(); }

 private:
  struct Header {
    bool fin = false;
    int opcode = 0;
    std::uint64_t length = 0;
    bool masked = false;
    MaskKey mask{};
  };
  enum class HeaderResult { incomplete, ok, invalid };

  HeaderResult parse_header(const unsigned char* bytes, std::size_t size, Header& header, std::size_t& used);
  bool start_frame(const Header& header);
  bool finish_frame(FrameHandler& handler);
  bool close_frame(FrameHandler& handler);
  void reserve_message(std::size_t bytes);
  bool fail(int code, std::string why);

  std::size_t m_max_message_bytes;
  std::size_t m_padding;
  std::size_t m_retained_bytes;
  Peer m_peer;
  // The frame being read.
  unsigned char m_header_bytes[14];  // the longest header: 2 bytes, a 64-bit length, a mask key
  std::size_t m_header_size = 0;
  bool m_in_frame = false;
  Header m_frame;
  std::uint64_t m_frame_remaining = 0;
  std::size_t m_mask_phase = 0;  // payload bytes of the frame unmasked so far, modulo 4
  std::string m_control;         // a control frame's payload
  // The data message being joined.
  bool m_in_message = false;
  bool m_message_is_text = false;
  std::string m_message;
  bool m_closed = false;
  bool m_close_received = false;
  int m_error_code = 0;
  std::string m_error;
};

}  // namespace relay::websocket
