#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relay::websocket {

// Header fields as an HTTP server has parsed them (http::ServerRequest::headers): names lower-cased, values
// without surrounding whitespace, in arrival order, repeats kept.
using HeaderFields = std::span<const std::pair<std::string, std::string>>;

// Whether a request asks for a WebSocket at all (an Upgrade header listing `websocket`, without case), so
// that an HTTP server hands it to answer_upgrade() rather than answering it as a plain request.
bool asks_for_websocket(HeaderFields headers);

// The parts of an already parsed request that the server's opening handshake looks at.
struct ClientUpgrade {
  std::string_view method;
  bool http_1_0 = false;
  HeaderFields headers;
};

// What to answer a client's opening handshake with.
struct UpgradeAnswer {
  bool accepted = false;
  // Accepted: the whole `HTTP/1.1 101 Switching Protocols` response, to send as it is; frames follow it.
  std::string response;
  // Refused: the HTTP status (400 or 426), header fields to send with it (426: Sec-WebSocket-Version: 13),
  // and why, for the log. The connection is not upgraded.
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string reason;
};

// The server's side of the opening handshake (RFC 6455 section 4.2): a GET over HTTP/1.1 with Upgrade
// listing websocket, Connection listing upgrade (both comma lists, without case), Sec-WebSocket-Version 13
// (otherwise 426 with the version the relay speaks) and one Sec-WebSocket-Key that is the base64 of 16 bytes
// (otherwise 400). No subprotocol and no extension is ever accepted: a client's offer (permessage-deflate)
// is left unanswered, which tells it that none is in use.
UpgradeAnswer answer_upgrade(const ClientUpgrade& request);

}  // namespace relay::websocket
