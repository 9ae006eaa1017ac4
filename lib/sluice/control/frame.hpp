// Framing of the control protocol: a 4-byte big-endian length, then that many bytes of one
// JSON object (UTF-8). Frames above kMaxFrameBytes are refused on both sides. Works on any
// stream socket; every call has an overall deadline (kNoTimeout: none).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sluice/result.hpp"

namespace sluice::control {

inline constexpr std::size_t kMaxFrameBytes = 64u << 20;  // 64 MiB: ~100k VIPs' worth of state
inline constexpr std::size_t kFrameHeaderBytes = 4;

// Sends one frame carrying body.dump(). Invalid UTF-8 in strings is replaced, never thrown.
[[nodiscard]] Status write_frame(int fd, const nlohmann::json& body,
                                 std::chrono::milliseconds timeout);
// Sends one frame carrying `payload` as is (the caller vouches that it is one JSON object).
[[nodiscard]] Status write_frame_bytes(int fd, std::string_view payload,
                                       std::chrono::milliseconds timeout);

// Reads one frame and parses it; the body must be a JSON object. A peer that closes the
// connection cleanly between frames gives nullopt; EOF inside a frame, a timeout, an
// oversize length or malformed JSON give an Error (close the connection then: the stream is
// no longer at a frame boundary).
[[nodiscard]] Result<std::optional<nlohmann::json>> read_frame_or_eof(
    int fd, std::chrono::milliseconds timeout);
// As above, with a clean close reported as the Error "connection closed by peer".
[[nodiscard]] Result<nlohmann::json> read_frame(int fd, std::chrono::milliseconds timeout);

// A frame's payload as the JSON object it must be (the depth limit and the checks of
// read_frame_or_eof); for servers that assemble frames themselves (frame_assembler.hpp).
[[nodiscard]] Result<nlohmann::json> parse_frame_payload(std::string_view payload);

// Encodes/decodes the 4-byte header (exposed for tests and tools).
[[nodiscard]] std::string encode_frame_header(std::uint32_t length);
[[nodiscard]] std::uint32_t decode_frame_header(const unsigned char* header);

}  // namespace sluice::control
