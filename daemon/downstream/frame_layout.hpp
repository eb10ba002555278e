#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::downstream {

// Where the envelope's members sit in a frame's bytes (SPEC section 4), found by one pass over the top level
// of the object without parsing what is nested. Views point into the scanned bytes. A member missing, or the
// text not an object, leaves its view empty. Keys are compared as written (an escaped key such as "\u0073" is
// not "s"); for a repeated key the first one counts.
struct FrameLayout {
  std::string_view op;  // the raw value text
  std::string_view s;
  std::string_view t;   // without its quotes (escapes kept as written)
  std::string_view id;  // without its quotes
  std::string_view d;   // the raw value text
  bool object = false;  // the text began as a JSON object and its top level was read to the closing brace
};

FrameLayout scan_frame(std::string_view frame);

// Whether the frame is a Dispatch (op 0 with a t), the only kind a downstream session is sent.
inline bool is_dispatch(const FrameLayout& layout) {
  return layout.object && layout.op == "0" && !layout.t.empty();
}

// Appends `frame` to `out` with its top-level "s" set to `seq`: the value replaced where the frame has one,
// "s":seq inserted after the opening brace where it has none (webhook frames). Every other byte is kept.
void append_with_seq(std::string& out, std::string_view frame, const FrameLayout& layout, std::uint64_t seq);

}  // namespace relay::downstream
