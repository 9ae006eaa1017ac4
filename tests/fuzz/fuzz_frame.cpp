// libFuzzer target for the control socket's frame decoder (lib/sluice/control/frame.cpp): the
// bytes a peer sent, through a real Unix socketpair, read frame after frame until the decoder
// stops. Each outcome is checked against a model of the framing (docs/config.md, "Transport"):
// a frame is accepted only when its length is 1..kMaxFrameBytes, all of it arrived and it is
// one strict JSON object; a refused length is refused before its body is read; a clean close
// between frames is EOF. The decoder must never crash, hang or accept a frame past the limit.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "sluice/config/strict_json.hpp"
#include "sluice/control/frame.hpp"
#include "sluice/unique_fd.hpp"

namespace sluice::control {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The socket buffers hold the whole input, so it is written before anything is read.
constexpr std::size_t kMaxInput = 128 * 1024;

// What the decoder must do with `rest`, the bytes not yet consumed.
struct Expected {
  enum class Kind { eof, frame, error } kind;
  std::size_t consumed = 0;  // a frame: header + body
  json frame;
  std::string error;
};

Expected model(std::string_view rest) {
  if (rest.empty()) return {Expected::Kind::eof, 0, {}, {}};
  if (rest.size() < kFrameHeaderBytes) {
    return {Expected::Kind::error, 0, {}, "connection closed in the middle of a frame"};
  }
  const std::uint32_t length =
      decode_frame_header(reinterpret_cast<const unsigned char*>(rest.data()));
  if (length == 0) return {Expected::Kind::error, 0, {}, "received an empty frame"};
  if (length > kMaxFrameBytes) {
    return {Expected::Kind::error,
            0,
            {},
            "received a frame of " + std::to_string(length) + " bytes, above the limit of " +
                std::to_string(kMaxFrameBytes) + " bytes"};
  }
  if (rest.size() - kFrameHeaderBytes < length) {
    return {Expected::Kind::error, 0, {}, "connection closed in the middle of a frame"};
  }
  Result<json> body = config::parse_strict_json(rest.substr(kFrameHeaderBytes, length), "frame");
  if (!body.ok()) return {Expected::Kind::error, 0, {}, body.error().message};
  if (!body->is_object()) return {Expected::Kind::error, 0, {}, "frame is not a JSON object"};
  return {Expected::Kind::frame, kFrameHeaderBytes + length, std::move(body).value(), {}};
}

void check(std::string_view input) {
  int fds[2];
  FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  UniqueFd writer(fds[0]);
  const UniqueFd reader(fds[1]);
  const int buffer = 4 * kMaxInput;
  ::setsockopt(writer.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  ::setsockopt(reader.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  for (std::string_view left = input; !left.empty();) {
    const ssize_t n = ::send(writer.get(), left.data(), left.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    FUZZ_CHECK(n > 0);  // the buffers hold kMaxInput
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  writer.reset();  // the peer is done: every read ends, none waits for the deadline

  std::string_view rest = input;
  for (;;) {
    const Expected expected = model(rest);
    // The writer has closed, so no read waits: a timeout would show as an unexpected error.
    const Result<std::optional<json>> got = read_frame_or_eof(reader.get(), 5000ms);
    switch (expected.kind) {
      case Expected::Kind::eof:
        FUZZ_CHECK(got.ok() && !got->has_value());
        return;
      case Expected::Kind::error:
        if (got.ok()) FUZZ_CHECK_EQ_TEXT(expected.error, "a frame or EOF");
        FUZZ_CHECK_EQ_TEXT(expected.error, got.error().message);
        return;  // the connection is closed after a framing error
      case Expected::Kind::frame:
        if (!got.ok()) FUZZ_CHECK_EQ_TEXT("a frame", got.error().message);
        FUZZ_CHECK(got->has_value() && **got == expected.frame);
        FUZZ_CHECK(expected.consumed <= kFrameHeaderBytes + kMaxFrameBytes);
        rest.remove_prefix(expected.consumed);
        break;
    }
  }
}

}  // namespace
}  // namespace sluice::control

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > sluice::control::kMaxInput) return -1;  // not added to the corpus
  sluice::control::check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
