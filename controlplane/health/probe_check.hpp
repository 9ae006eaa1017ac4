// What a backend's answer to a health probe means, apart from any socket: the HTTP and UDP
// probes call these with what they read; the unit tests and the fuzzer call them with bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/asio.hpp"
#include "sluice/config/model.hpp"

namespace sluice::cp {

// Bodies beyond this are not read: a health endpoint answers in a few bytes.
inline constexpr std::uint64_t kMaxHealthBodyBytes = 256 * 1024;
// The UDP probe reads one datagram into a buffer this large; the rest of a longer reply is
// cut off before judge_udp_reply sees it.
inline constexpr std::size_t kMaxUdpReplyBytes = 2048;

struct ProbeVerdict {
  bool healthy = false;
  std::string detail;  // "HTTP 200", "HTTP 503, expected 200", "reply of 4 bytes"

  friend bool operator==(const ProbeVerdict&, const ProbeVerdict&) = default;
};

using HttpResponseParser = http::response_parser<http::string_body>;
using HealthResponse = HttpResponseParser::value_type;

// The limits the HTTP probe reads a response with (the body limit; Beast's header limit).
void limit_response_parser(HttpResponseParser& parser);

// An HTTP answer: the status must be check.expect_status and, when check.expect_body is set,
// the body must contain it.
[[nodiscard]] ProbeVerdict judge_http_response(const config::HealthCheck& check, unsigned status,
                                               std::string_view body);
// A UDP reply must contain check.udp_expect when it is set.
[[nodiscard]] ProbeVerdict judge_udp_reply(const config::HealthCheck& check,
                                           std::string_view reply);

// Everything a backend sent before closing the connection, read as the HTTP probe reads its
// stream (the same parser and limits; bytes after the first response are ignored), then judged.
// A malformed or cut-off response fails as "read response: <Beast's reason>".
[[nodiscard]] ProbeVerdict check_http_answer(const config::HealthCheck& check,
                                             std::string_view bytes);

}  // namespace sluice::cp
