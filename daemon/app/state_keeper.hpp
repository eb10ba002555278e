#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ingress/event_loop.hpp"
#include "publish/seq_reservation.hpp"
#include "state/state_file.hpp"
#include "state/state_writer.hpp"

namespace relay::app {

// Keeps relay-state.json in step with what was published: read once at start, rewritten at most once per
// save interval while positions move (nothing is written while idle), and written synchronously on a
// graceful stop so that a restart resumes from the exact positions.
class StateKeeper final : public publish::ReservationStore {
 public:
  using Snapshot = std::function<state::SavedState()>;

  StateKeeper(ingress::EventLoop& loop, const std::string& directory, util::Millis save_interval,
              std::string app_id, Snapshot snapshot);

  // The saved state, if there is a usable one. A corrupt or foreign file is reported, moved aside (so that
  // an operator can inspect it) and ignored; it is never fatal.
  std::optional<state::SavedState> load();

  // Positions moved: schedule a write within the save interval.
  void mark_changed() override;
  // Writes the current positions now, without waiting for the disk; written(ticket) tells when it landed.
  std::uint64_t save_soon() override;
  bool written(std::uint64_t ticket) const override { return m_writer->written(ticket); }
  // Writes the current positions and waits until they are on disk; false if that failed.
  bool save_now() override;

  state::WriterCounters counters() const { return m_writer->counters(); }
  const std::string& path() const { return m_path; }

 private:
  void save_later();

  std::string m_path;
  util::Millis m_save_interval;
  std::string m_app_id;
  Snapshot m_snapshot;
  std::unique_ptr<state::StateWriter> m_writer;
  ingress::Timer m_timer;
  bool m_scheduled = false;
};

}  // namespace relay::app
