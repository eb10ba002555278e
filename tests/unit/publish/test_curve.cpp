#include <catch2/catch.hpp>

#include <chrono>

#include <zmq.hpp>

#include "../support/wait_until.hpp"
#include "publish/curve.hpp"
#include "publish/zmq_publisher.hpp"
#include "util/key_file.hpp"

using namespace relay::publish;

namespace {

struct KeyPair {
  std::string public_key;
  std::string secret_key;
  KeyPair() { generate_curve_keypair(public_key, secret_key); }
};

// Publishes (and serves the ZAP handler) until `sub` receives something or the attempts run out.
bool receives(ZmqPublisher& publisher, zmq::socket_t& sub) {
  for (int attempt = 0; attempt < 60; ++attempt) {
    publisher.authenticator()->on_readable();
    publisher.deliver(OutgoingMessage{1, "T", "T", "{}", "{}", nullptr});
    publisher.flush();
    zmq::message_t frame;
    if (sub.recv(frame, zmq::recv_flags::dontwait)) {
      return true;
    }
    zmq::pollitem_t readable{sub.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&readable, 1, std::chrono::milliseconds(10));  // back at once when something arrives
  }
  return false;
}

}  // namespace

TEST_CASE("generated keys are Z85 and pass the key check") {
  const KeyPair pair;
  REQUIRE(relay::util::is_z85_key(pair.public_key));
  REQUIRE(relay::util::is_z85_key(pair.secret_key));
  REQUIRE_FALSE(relay::util::is_z85_key(pair.public_key.substr(1)));
  REQUIRE_FALSE(relay::util::is_z85_key(std::string(40, '"')));
  REQUIRE_FALSE(relay::util::is_z85_key(std::string(40, '#')));  // each group must fit in 32 bits
}

TEST_CASE("with CURVE, only listed client keys receive anything") {
  const KeyPair server;
  const KeyPair allowed;
  const KeyPair stranger;
  PublisherSettings settings;
  settings.endpoints = {"tcp://127.0.0.1:*"};
  settings.curve_secret_key = server.secret_key;
  settings.curve_authorized = {allowed.public_key};
  ZmqPublisher publisher(settings);
  REQUIRE(publisher.authenticator() != nullptr);
  const std::string endpoint = publisher.bound_endpoints().at(0);

  zmq::context_t context;
  auto subscriber = [&](const KeyPair* client) {
    zmq::socket_t sub(context, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::subscribe, "");
    if (client != nullptr) {
      sub.set(zmq::sockopt::curve_serverkey, server.public_key);
      sub.set(zmq::sockopt::curve_publickey, client->public_key);
      sub.set(zmq::sockopt::curve_secretkey, client->secret_key);
    }
    sub.connect(endpoint);
    return sub;
  };
  auto plain = subscriber(nullptr);
  auto unknown = subscriber(&stranger);
  auto listed = subscriber(&allowed);
  REQUIRE(receives(publisher, listed));
  // The stranger's handshake reaches the ZAP handler and is refused; from then on nothing may arrive.
  REQUIRE(relay::test::wait_until([&] {
    publisher.authenticator()->on_readable();
    return publisher.authenticator()->counters().refused >= 1;
  }));
  REQUIRE_FALSE(receives(publisher, unknown));
  REQUIRE_FALSE(receives(publisher, plain));

  // A reload that lists the stranger lets it in on its next attempt.
  publisher.authenticator()->set_authorized({allowed.public_key, stranger.public_key});
  auto retried = subscriber(&stranger);
  REQUIRE(receives(publisher, retried));
}
