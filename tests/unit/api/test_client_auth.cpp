#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "api/client_auth.hpp"

using relay::api::ClientAuth;
using relay::api::ClientKey;
using namespace std::chrono_literals;

namespace {
const std::string k_alice(40, 'a');
const std::string k_bob(40, 'b');
const relay::util::TimePoint t0{};
}  // namespace

TEST_CASE("a client authenticates with its key as a Bearer token") {
  ClientAuth auth({{"alice", k_alice}, {"bob", k_bob}});
  CHECK(auth.authenticate("Bearer " + k_alice, t0) == "alice");
  CHECK(auth.authenticate("Bearer  " + k_bob + " ", t0) == "bob");
  CHECK_FALSE(auth.authenticate("Bearer " + std::string(40, 'c'), t0));
  CHECK_FALSE(auth.authenticate("Bearer" + k_alice, t0));
  CHECK_FALSE(auth.authenticate("bearer " + k_alice, t0));
  CHECK_FALSE(auth.authenticate("QQBot " + k_alice, t0));  // a key is not a token
  CHECK_FALSE(auth.authenticate("", t0));
  CHECK_FALSE(auth.authenticate("Bearer ", t0));
}

TEST_CASE("the token exchange follows the platform: the same token until its last minute, then a new one") {
  ClientAuth auth({{"alice", k_alice}});
  CHECK_FALSE(auth.exchange(k_bob, t0));
  const auto first = auth.exchange(k_alice, t0);
  REQUIRE(first);
  CHECK(first->expires_in_s == 7200);
  CHECK(first->client == "alice");
  CHECK(first->access_token.size() == 43);
  CHECK(auth.authenticate("QQBot " + first->access_token, t0 + 1s) == "alice");

  const auto again = auth.exchange(k_alice, t0 + 1000s);
  CHECK(again->access_token == first->access_token);
  CHECK(again->expires_in_s == 6200);

  const auto renewed = auth.exchange(k_alice, t0 + 7150s);
  CHECK(renewed->access_token != first->access_token);
  CHECK(renewed->expires_in_s == 7200);
  // The old token lasts to its end, then only the new one works.
  CHECK(auth.authenticate("QQBot " + first->access_token, t0 + 7199s) == "alice");
  CHECK_FALSE(auth.authenticate("QQBot " + first->access_token, t0 + 7200s));
  CHECK(auth.authenticate("QQBot " + renewed->access_token, t0 + 7200s) == "alice");
  CHECK(auth.tokens() <= 2);
}

TEST_CASE("removing a client or changing its key revokes its tokens, others keep theirs") {
  ClientAuth auth({{"alice", k_alice}, {"bob", k_bob}});
  const auto alice = auth.exchange(k_alice, t0);
  const auto bob = auth.exchange(k_bob, t0);
  auth.replace_keys({{"bob", k_bob}});
  CHECK_FALSE(auth.authenticate("QQBot " + alice->access_token, t0));
  CHECK_FALSE(auth.authenticate("Bearer " + k_alice, t0));
  CHECK(auth.authenticate("QQBot " + bob->access_token, t0) == "bob");

  const std::string new_key(40, 'n');
  auth.replace_keys({{"carol", k_alice}, {"bob", new_key}});
  CHECK_FALSE(auth.authenticate("QQBot " + bob->access_token, t0));
  CHECK(auth.authenticate("Bearer " + k_alice, t0) == "carol");
  CHECK(auth.tokens() == 0);
  // A fresh exchange after a revocation makes a new token.
  const auto fresh = auth.exchange(new_key, t0);
  CHECK(fresh->access_token != bob->access_token);
}

TEST_CASE("a gateway Identify or Resume token may take every form the SDKs send") {
  ClientAuth auth({{"alice", k_alice}, {"bob", k_bob}});
  const auto issued = auth.exchange(k_alice, t0);
  REQUIRE(issued);
  const std::string& token = issued->access_token;
  CHECK(auth.authenticate_gateway_token("QQBot " + token, t0) == "alice");
  CHECK(auth.authenticate_gateway_token(token, t0) == "alice");  // botgo's bare Resume token
  CHECK(auth.authenticate_gateway_token("Bot 102005.", t0) == std::nullopt);
  CHECK(auth.authenticate_gateway_token("Bot 102005." + k_bob, t0) == "bob");  // qq-guild-bot's legacy form
  CHECK(auth.authenticate("Bot 102005." + k_bob, t0) == "bob");                // its HTTP header too
  CHECK(auth.authenticate_gateway_token("Bearer " + k_bob, t0) == "bob");
  CHECK(auth.authenticate_gateway_token(k_bob, t0) == "bob");
  CHECK_FALSE(auth.authenticate_gateway_token("QQBot " + k_bob, t0));
  CHECK_FALSE(auth.authenticate_gateway_token("", t0));
  CHECK_FALSE(auth.authenticate_gateway_token(std::string(40, 'c'), t0));
  CHECK_FALSE(auth.authenticate_gateway_token(token, t0 + ClientAuth::k_token_lifetime + 1s));
}

TEST_CASE("a token issued before a restart still authenticates, and only its client") {
  const auto now = relay::util::Clock::now();
  std::string token;
  {
    ClientAuth before({{"alice", k_alice}, {"bob", k_bob}});
    token = before.exchange(k_alice, now)->access_token;
  }
  ClientAuth after({{"bob", k_bob}, {"alice", k_alice}});
  CHECK(after.authenticate("QQBot " + token, now + 5s) == "alice");
  CHECK_FALSE(after.authenticate("QQBot " + token, now + ClientAuth::k_token_lifetime + 5s));
  // Another client with alice's key is not alice: the name is signed too.
  ClientAuth renamed({{"carol", k_alice}});
  CHECK_FALSE(renamed.authenticate("QQBot " + token, now + 5s));
  // Any change to the token, its time included, makes it nobody's.
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string changed = token;
    changed[i] = changed[i] == 'A' ? 'B' : 'A';
    CHECK_FALSE(after.authenticate("QQBot " + changed, now + 5s));
  }
  CHECK_FALSE(after.authenticate("QQBot " + token.substr(1), now + 5s));
}

TEST_CASE("endless token exchanges keep one current token per client, and wrong secrets keep none") {
  ClientAuth auth({{"alice", k_alice}, {"bob", k_bob}});
  for (int i = 0; i < 20000; ++i) {
    const relay::util::TimePoint now = t0 + std::chrono::seconds(i);  // through several lifetimes
    REQUIRE(auth.exchange(i % 2 == 0 ? k_alice : k_bob, now));
    CHECK_FALSE(auth.exchange(std::string(40, static_cast<char>('c' + i % 20)), now));
    REQUIRE(auth.tokens() <= 2);
  }
  CHECK(auth.tokens() == 2);
}
