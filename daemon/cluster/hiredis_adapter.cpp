#include "cluster/hiredis_adapter.hpp"

#include <async.h>
#include <spdlog/spdlog.h>

#include "cluster/redis_reply.hpp"

namespace relay::cluster {

namespace {

// What the watch's callbacks see: it lives as long as the watch, which may outlive the hiredis context.
struct State {
  redisAsyncContext* context;
  ingress::FdWatch* watch = nullptr;
  bool writing = false;
  bool alive = true;  // false once hiredis has cleaned up (the context is freed)
};

struct Adapter {
  std::shared_ptr<State> state;
  std::unique_ptr<ingress::FdWatch> watch;
  std::function<void(std::unique_ptr<ingress::FdWatch>)> retire;
};

Adapter& of(void* data) {
  return *static_cast<Adapter*>(data);
}

void add_read(void* data) {
  of(data).watch->resume();
}
void del_read(void* data) {
  of(data).watch->pause();
}
// hiredis wants write readiness until delWrite; the loop reports it once per request.
void add_write(void* data) {
  of(data).state->writing = true;
  of(data).watch->request_writable();
}
void del_write(void* data) {
  of(data).state->writing = false;
}
void cleanup(void* data) {
  auto* adapter = &of(data);
  adapter->state->alive = false;
  adapter->watch->pause();
  adapter->retire(std::move(adapter->watch));
  delete adapter;
}

void on_writable(const std::shared_ptr<State>& state) {
  if (!state->alive) {
    return;
  }
  redisAsyncHandleWrite(state->context);
  if (state->alive && state->writing) {
    state->watch->request_writable();
  }
}

}  // namespace

void attach_hiredis(ingress::EventLoop& loop, redisAsyncContext& context,
                    std::function<void(std::unique_ptr<ingress::FdWatch>)> retire) {
  auto state = std::make_shared<State>();
  state->context = &context;
  auto* adapter = new Adapter{state, nullptr, std::move(retire)};
  adapter->watch = loop.watch_socket(
      context.c.fd,
      [state] {
        if (state->alive) {
          redisAsyncHandleRead(state->context);
        }
        if (state->alive && refuse_unread_beyond(state->context->c.reader)) {
          // A failed reader makes hiredis drop the connection at its next read: now, if more bytes wait.
          redisAsyncHandleRead(state->context);
        }
      },
      [state] { on_writable(state); },
      // The loop dropped the socket (hang-up, error): hiredis finds out why by trying it, and disconnects.
      [state] {
        if (state->alive && state->writing) {
          redisAsyncHandleWrite(state->context);
        }
        if (state->alive) {
          redisAsyncHandleRead(state->context);
        }
        if (state->alive) {
          spdlog::warn("redis: the event loop dropped the socket but hiredis still holds the connection");
        }
      });
  state->watch = adapter->watch.get();
  adapter->watch->pause();
  context.ev.data = adapter;
  context.ev.addRead = add_read;
  context.ev.delRead = del_read;
  context.ev.addWrite = add_write;
  context.ev.delWrite = del_write;
  context.ev.cleanup = cleanup;
}

}  // namespace relay::cluster
