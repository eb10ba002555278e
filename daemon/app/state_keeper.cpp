#include "app/state_keeper.hpp"

#include <cstdio>
#include <filesystem>
#include <system_error>

#include <spdlog/spdlog.h>

#include "state/atomic_file.hpp"

namespace relay::app {

StateKeeper::StateKeeper(ingress::EventLoop& loop, const std::string& directory, util::Millis save_interval,
                         std::string app_id, Snapshot snapshot)
    : m_path(directory + "/" + std::string(state::k_state_file_name)),
      m_save_interval(save_interval),
      m_app_id(std::move(app_id)),
      m_snapshot(std::move(snapshot)),
      m_timer(loop, [this] { save_later(); }) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    // The stream matters more than the state file: keep relaying, and say what a restart will cost.
    spdlog::error(
        "state.directory {}: {}; sessions cannot be resumed after a restart: make it a directory the relay's "
        "user can write (systemd: StateDirectory=), or change state.directory",
        directory, error.message());
  }
  m_writer = std::make_unique<state::StateWriter>(m_path, [path = m_path](const std::string& problem) {
    if (problem.empty()) {
      spdlog::info("the state file {} is written again", path);
    } else {
      spdlog::error(
          "cannot save the relay state: {}; make state.directory writable for the relay (or free "
          "space on its file system)",
          problem);
    }
  });
}

std::optional<state::SavedState> StateKeeper::load() {
  const auto text = state::read_whole_file(m_path);
  if (!text) {
    spdlog::warn("ignoring the saved state: {}", text.error());
    return std::nullopt;
  }
  if (!*text) {
    spdlog::info("no saved state at {}: every shard starts a new session", m_path);
    return std::nullopt;
  }
  auto decoded = state::decode_state(**text, m_app_id);
  if (decoded) {
    spdlog::info("saved state {}: {} session(s), relay_seq {}", m_path, decoded->shards.size(),
                 decoded->relay_seq);
    return std::move(*decoded);
  }
  const state::StateProblem& problem = decoded.error();
  const bool foreign = problem.kind == state::StateProblem::Kind::foreign;
  const std::string aside = m_path + (foreign ? ".foreign" : ".bad");
  const bool moved = std::rename(m_path.c_str(), aside.c_str()) == 0;
  spdlog::warn("ignoring the state file {}: {} {}; every shard starts a new session", m_path,
               foreign ? "it is from elsewhere:" : "it is corrupt:", problem.message);
  if (moved) {
    spdlog::warn("the rejected state file was moved to {}", aside);
  }
  return std::nullopt;
}

void StateKeeper::mark_changed() {
  if (!m_scheduled) {
    m_scheduled = true;
    m_timer.schedule_in(m_save_interval);
  }
}

void StateKeeper::save_later() {
  m_scheduled = false;
  m_writer->submit(state::encode_state(m_snapshot()));
  if (m_writer->last_write_failed()) {
    mark_changed();  // keep trying while the disk refuses, even if the stream has gone quiet
  }
}

std::uint64_t StateKeeper::save_soon() {
  m_timer.cancel();
  m_scheduled = false;
  const std::uint64_t ticket = m_writer->submit(state::encode_state(m_snapshot()));
  if (m_writer->last_write_failed()) {
    mark_changed();
  }
  return ticket;
}

bool StateKeeper::save_now() {
  m_timer.cancel();
  m_scheduled = false;
  m_writer->submit(state::encode_state(m_snapshot()));
  return m_writer->flush().empty();
}

}  // namespace relay::app
