#include <catch2/catch.hpp>

#include "protocol/intents.hpp"

using namespace relay::protocol;

TEST_CASE("intent names map to the bits of SPEC section 8") {
  REQUIRE(intent_bit("GUILDS") == 1u);
  REQUIRE(intent_bit("GUILD_MESSAGES") == 512u);
  REQUIRE(intent_bit("GROUP_AND_C2C_EVENT") == 1u << 25);
  REQUIRE(intent_bit("PUBLIC_GUILD_MESSAGES") == 1u << 30);
  REQUIRE(intent_bit("AT_MESSAGES") == 1u << 30);
  REQUIRE_FALSE(intent_bit("guilds"));
  REQUIRE(describe_intents(513) == "GUILDS|GUILD_MESSAGES");
  REQUIRE(describe_intents(1u << 5) == "1<<5");
}
