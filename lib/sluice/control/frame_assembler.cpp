#include "sluice/control/frame_assembler.hpp"

namespace sluice::control {
namespace {

// Drop the bytes already handed out once they are this many and most of the buffer: keeps the
// buffer's size bounded by what is pending, at a copy cost linear in the bytes received.
constexpr std::size_t kCompactBytes = 64 * 1024;

}  // namespace

void FrameAssembler::feed(std::string_view bytes) {
  if (consumed_ >= kCompactBytes && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

Result<std::optional<std::string>> FrameAssembler::next() {
  const std::size_t available = buffer_.size() - consumed_;
  if (available < kFrameHeaderBytes) return std::optional<std::string>{};
  const auto* header = reinterpret_cast<const unsigned char*>(buffer_.data() + consumed_);
  const std::uint32_t length = decode_frame_header(header);
  if (length == 0) return Error{"received an empty frame"};
  if (length > max_frame_bytes_) {
    return Error{"received a frame of " + std::to_string(length) + " bytes, above the limit of " +
                 std::to_string(max_frame_bytes_) + " bytes"};
  }
  if (available - kFrameHeaderBytes < length) return std::optional<std::string>{};
  std::string payload = buffer_.substr(consumed_ + kFrameHeaderBytes, length);
  consumed_ += kFrameHeaderBytes + length;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return std::optional<std::string>(std::move(payload));
}

bool FrameAssembler::partial() const {
  // Skip over complete frames not taken yet; what is left is the start of an incomplete one.
  std::size_t at = consumed_;
  for (;;) {
    const std::size_t available = buffer_.size() - at;
    if (available == 0) return false;
    if (available < kFrameHeaderBytes) return true;
    const std::uint32_t length =
        decode_frame_header(reinterpret_cast<const unsigned char*>(buffer_.data() + at));
    if (length == 0 || length > max_frame_bytes_) return false;  // next() reports it
    if (available - kFrameHeaderBytes < length) return true;
    at += kFrameHeaderBytes + length;
  }
}

}  // namespace sluice::control
