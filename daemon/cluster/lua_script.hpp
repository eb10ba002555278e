// A Lua script for EVALSHA, with its SHA-1 computed here so that it can be tried before any SCRIPT LOAD.
#pragma once

#include <string>

namespace relay::cluster {

struct LuaScript {
  explicit LuaScript(std::string source);
  std::string source;
  std::string sha1;  // lower-case hex, as Redis names scripts
};

}  // namespace relay::cluster
