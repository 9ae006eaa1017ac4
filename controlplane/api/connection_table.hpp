// The open connections of one HTTP server and what each is doing, so that their number stays
// under a limit: at the limit, a new connection takes the place of the one that has waited
// longest (idle first, then the slowest request), never of one whose request is being
// handled. Thread-safe: sessions run on their own strands.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace sluice::cp {

enum class ConnectionPhase : std::uint8_t {
  waiting,  // for the first byte of a request (a new or kept-alive connection): idle
  reading,  // a request has begun and is not complete yet
  busy,     // the request is being handled or its response written
};

class ConnectionTable {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = std::uint64_t;
  using CloseFn = std::function<void()>;

  explicit ConnectionTable(std::size_t limit) : limit_(limit == 0 ? 1 : limit) {}

  // A new connection, in phase `waiting`. `close` closes it (it may be called from any thread
  // and must not call back into the table).
  [[nodiscard]] Id add(CloseFn close, Clock::time_point now = Clock::now());
  void set_phase(Id id, ConnectionPhase phase, Clock::time_point now = Clock::now());
  // The connection is gone.
  void remove(Id id);

  struct Room {
    bool available = false;  // another connection may be accepted now
    CloseFn close;           // when set: call it, it makes the room (outside any lock)
    ConnectionPhase closed_phase = ConnectionPhase::waiting;
  };
  // Below the limit: room. At the limit: picks the connection to close (the longest
  // `waiting`, else the longest `reading`), which stops counting at once; no room when every
  // connection is `busy` (each ends within the write timeout).
  [[nodiscard]] Room make_room();
  // Picks a connection to close as make_room() does, below the limit too (the process ran out
  // of descriptors); an empty function when there is none.
  [[nodiscard]] CloseFn close_one();

  // Connections that count against the limit (open and not chosen to be closed).
  [[nodiscard]] std::size_t open() const;
  [[nodiscard]] std::size_t limit() const { return limit_; }

 private:
  struct Entry {
    CloseFn close;
    ConnectionPhase phase = ConnectionPhase::waiting;
    Clock::time_point since{};
    bool closing = false;
  };

  // With the mutex held: the connection to close, or entries_.end().
  std::map<Id, Entry>::iterator victim();
  CloseFn take(std::map<Id, Entry>::iterator it);

  mutable std::mutex mutex_;
  std::size_t limit_;
  std::map<Id, Entry> entries_;
  std::size_t counted_ = 0;
  Id next_id_ = 1;
};

}  // namespace sluice::cp
