// Reassembles control-protocol frames (frame.hpp: 4-byte big-endian length + payload) from
// whatever pieces a non-blocking socket delivers, so a server can serve many connections from
// one thread without waiting for any of them: feed() the bytes as they arrive, take complete
// payloads with next(). Pure: no sockets, no clock.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/control/frame.hpp"
#include "sluice/result.hpp"

namespace sluice::control {

class FrameAssembler {
 public:
  explicit FrameAssembler(std::size_t max_frame_bytes = kMaxFrameBytes)
      : max_frame_bytes_(max_frame_bytes) {}

  // Appends received bytes (any split: a byte at a time, several frames at once).
  void feed(std::string_view bytes);

  // The next complete frame's payload, nullopt while it is still incomplete, or an Error for a
  // length of 0 or above the limit (known from the header alone, before the body arrives):
  // the stream is then no longer at a frame boundary and the connection must be closed.
  [[nodiscard]] Result<std::optional<std::string>> next();

  // True when some bytes of a frame have arrived but not all of it (what a frame deadline
  // measures). Bytes of frames already complete but not yet taken do not count.
  [[nodiscard]] bool partial() const;
  // Bytes received and not yet taken by next().
  [[nodiscard]] std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::size_t max_frame_bytes_;
  std::string buffer_;
  std::size_t consumed_ = 0;  // bytes of buffer_ already handed out
};

}  // namespace sluice::control
