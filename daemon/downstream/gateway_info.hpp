#pragma once

#include <string>
#include <string_view>

namespace relay::downstream {

// The WebSocket URL GET /gateway answers with: `public_url` (http -> ws, https -> wss) when set, else
// ws:// (wss:// with TLS) + the Host the client asked with (or `listen` when that Host is missing or holds
// anything but a host name or address and a port), then /websocket.
std::string gateway_url(std::string_view public_url, std::string_view host_header, bool tls,
                        std::string_view listen);

// The bodies of GET /gateway and GET /gateway/bot. The session start limit never runs out: the relay starts
// no platform session for a client.
std::string gateway_body(std::string_view url);
std::string gateway_bot_body(std::string_view url, unsigned shards);

}  // namespace relay::downstream
