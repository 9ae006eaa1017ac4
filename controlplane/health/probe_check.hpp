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

// The body of a health-check response: a string, like http::string_body, but one that never
// holds more than kMaxHealthBodyBytes and refuses a larger Content-Length before reserving
// anything. Boost 1.74's parser loses its own body-limit error for a response whose
// Content-Length is too large when it reads a whole message (boostorg/beast#2183), and
// string_body reserves the announced length: one backend answering "Content-Length:
// 100000000000000" made the probe throw std::bad_alloc out of the control plane's event loop.
struct HealthBody {
  using value_type = std::string;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool isRequest, typename Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, boost::system::error_code& ec);
    template <typename ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
      const std::size_t extra = beast::buffer_bytes(buffers);
      if (!room_for(extra, ec)) return 0;
      const std::size_t at = body_.size();
      body_.resize(at + extra);
      return asio::buffer_copy(asio::buffer(body_.data() + at, extra), buffers);
    }
    void finish(boost::system::error_code& ec) { ec = {}; }

   private:
    bool room_for(std::uint64_t extra, boost::system::error_code& ec);

    value_type& body_;
  };
};

using HttpResponseParser = http::response_parser<HealthBody>;
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
