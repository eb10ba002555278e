#pragma once

#include <span>
#include <string>
#include <string_view>

namespace relay::util {

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, or an empty view when none is close enough to be a plausible typo.
std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates);

// Appends `text` with every byte that is not part of well-formed UTF-8 (overlong forms, surrogates and code
// points past U+10FFFF included) replaced by U+FFFD.
void append_valid_utf8(std::string& out, std::string_view text);

// The length of the well-formed UTF-8 sequence at the start of `text` (1 to 4), or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view text);  // `text` must not be empty

// At most `max_bytes` of `text` (a body a remote server sent) for a log line: valid UTF-8 (malformed bytes as
// U+FFFD), control characters shown as \xNN so that the body cannot forge log lines, cut on a character
// boundary, and followed by "... (N bytes)" when cut.
std::string log_excerpt(std::string_view text, std::size_t max_bytes = 200);

// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace relay::util
