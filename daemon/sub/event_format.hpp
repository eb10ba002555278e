#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// How `qq-gateway-relay sub` prints a message: pure functions of the three frames, no sockets, no clock.
namespace relay::sub {

struct Frames {
  std::string_view topic;
  std::string_view body;
  std::string_view meta;
};

struct LineStyle {
  std::size_t width = 0;  // columns; 0: never cut. Ids are shortened when the line has a width
  bool color = false;     // ANSI colours
};

// One readable line (no newline): local time, relay_seq, topic, shard or "webhook", then what the event has
// of group / channel / guild, author and message text. A relay.shard message shows its state. Text is UTF-8
// as received; control characters become spaces, so nothing in a message can drive the terminal.
std::string format_line(const Frames& frames, const LineStyle& style);

// {"topic":...,"body":<body>,"meta":<meta>} on one line: body and meta are the frames' own JSON, whitespace
// removed and nothing else changed (ids above 2^53 stay exact). A body that is not JSON becomes a string.
std::string format_json(const Frames& frames);

// The metadata's relay_seq, if the frame has one.
std::optional<std::uint64_t> relay_seq_of(std::string_view meta);

// The metadata's "node" (contract 2: the relay whose relay_seq it is); "" when absent (contract 1) or
// unreadable.
std::string node_of(std::string_view meta);

// "HH:MM:SS.mmm" in the local time zone, of a Unix time in microseconds.
std::string local_clock(std::int64_t unix_us);

// Columns `text` takes in a terminal: East Asian wide characters count 2, combining marks 0.
std::size_t display_width(std::string_view text);

// `text` cut to at most `columns` columns, ending with "…" when it was cut.
std::string cut_to_width(std::string_view text, std::size_t columns);

}  // namespace relay::sub
