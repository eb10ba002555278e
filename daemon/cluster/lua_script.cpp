#include "cluster/lua_script.hpp"

#include <openssl/sha.h>

#include <array>

namespace relay::cluster {

LuaScript::LuaScript(std::string text) : source(std::move(text)) {
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(source.data()), source.size(), digest.data());
  static constexpr char k_hex[] = "0123456789abcdef";
  for (const unsigned char byte : digest) {
    sha1 += k_hex[byte >> 4];
    sha1 += k_hex[byte & 0xf];
  }
}

}  // namespace relay::cluster
