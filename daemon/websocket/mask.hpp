#pragma once

#include <array>
#include <cstddef>

namespace relay::websocket {

using MaskKey = std::array<unsigned char, 4>;

// XORs `size` bytes at `data` with the repeated mask key (RFC 6455 section 5.3), starting at key byte `phase`
// (0 to 3: how many payload bytes of the frame came before `data`, modulo 4). Masking and unmasking are the
// same operation. Returns the phase for the bytes that follow, so a payload can be unmasked piece by piece
// as it arrives.
std::size_t apply_mask(char* data, std::size_t size, const MaskKey& key, std::size_t phase);

}  // namespace relay::websocket
