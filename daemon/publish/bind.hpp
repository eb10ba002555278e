#pragma once

#include <exception>
#include <string>

#include <zmq.hpp>

namespace relay::publish {

// Binds `endpoint` to exactly the address written, like the HTTP listeners: "tcp://127.0.0.1:P" and
// "tcp://0.0.0.0:P" (or "tcp://*:P") IPv4 only, "tcp://[::1]:P" and "tcp://[::]:P" IPv6 only. libzmq alone
// would bind "[::]" dual-stack (it clears IPV6_V6ONLY), so an IPv6 address gets a socket of ours
// (ZMQ_USE_FD). Other transports are bound as they are. Throws std::runtime_error (or zmq::error_t from
// bind()).
void bind_as_written(zmq::socket_t& socket, const std::string& endpoint);

// What to do after bind_as_written threw `error` for the endpoint configured at `key` (util::bind_advice).
std::string bind_advice(const std::exception& error, const std::string& key);

}  // namespace relay::publish
