// Drives a hiredis async context from the relay's event loop: hiredis'
// addRead/delRead/addWrite/delWrite/cleanup hooks become an ingress::FdWatch on the context's socket.
#pragma once

#include <functional>
#include <memory>

#include "ingress/event_loop.hpp"

struct redisAsyncContext;

namespace relay::cluster {

// Attaches to `context` (which must have no adapter yet); from then on hiredis owns the adapter and deletes
// it through the cleanup hook when it frees the context. `retire` takes the watch when hiredis lets go of it:
// the watch must not be destroyed inside its own callback, so the caller destroys it later from the loop.
void attach_hiredis(ingress::EventLoop& loop, redisAsyncContext& context,
                    std::function<void(std::unique_ptr<ingress::FdWatch>)> retire);

}  // namespace relay::cluster
