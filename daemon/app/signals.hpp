#pragma once

namespace relay::app {

// Blocks SIGTERM, SIGINT and SIGHUP for the whole process and returns a signalfd that reports them, so that
// the event loop handles signals as ordinary events instead of in a handler.
int open_signal_fd();

}  // namespace relay::app
