// libFuzzer target for the health checks' answer handling (controlplane/health/probe_check.hpp):
// the HTTP response parsing with the probe's limits, the status and body matching, the UDP
// reply matching. Input: one line "http STATUS EXPECT_BODY" or "udp EXPECT" (the check), then
// the backend's answer; without a first line, the whole input is an HTTP answer to the default
// check (200, any body). Besides sanitizers, it checks that
//   - check_http_answer() reads the bytes as the probe does: the same verdict comes from
//     http::read() over a stream delivering them, then closing; and delivering them one or
//     seven bytes at a time judges the backend the same way;
//   - a healthy verdict means what the check asked for.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/_experimental/test/stream.hpp>

#include "fuzz_check.hpp"
#include "health/probe_check.hpp"

namespace sluice::cp {
namespace {

// The probe's way: http::read (as async_read) over a stream, `chunk` bytes per read.
ProbeVerdict read_like_the_probe(const config::HealthCheck& check, std::string_view bytes,
                                 std::size_t chunk) {
  asio::io_context io;
  beast::test::stream stream(io);
  stream.append(beast::string_view(bytes.data(), bytes.size()));
  stream.close_remote();
  stream.read_size(chunk);
  beast::flat_buffer buffer;
  HttpResponseParser parser;
  limit_response_parser(parser);
  boost::system::error_code ec;
  http::read(stream, buffer, parser, ec);
  if (ec) return {false, "read response: " + ec.message()};
  return judge_http_response(check, parser.get().result_int(), parser.get().body());
}

void check_http(const config::HealthCheck& check, std::string_view answer) {
  const ProbeVerdict verdict = check_http_answer(check, answer);
  FUZZ_CHECK(verdict == read_like_the_probe(check, answer, answer.size() + 1));
  // However TCP cuts the answer up, the backend is judged the same way (the reason for a
  // malformed answer may differ: Beast notices some problems only once a line is complete).
  for (const std::size_t chunk : {1, 7}) {
    const ProbeVerdict cut = read_like_the_probe(check, answer, chunk);
    if (cut.healthy != verdict.healthy) FUZZ_CHECK_EQ_TEXT(verdict.detail, cut.detail);
    if (verdict.healthy) FUZZ_CHECK(cut == verdict);
  }
  if (verdict.healthy) {
    FUZZ_CHECK(verdict.detail == "HTTP " + std::to_string(check.expect_status));
  } else {
    FUZZ_CHECK(verdict.detail.rfind("HTTP ", 0) == 0 ||
               verdict.detail.rfind("read response: ", 0) == 0);
  }
}

void check_udp(const config::HealthCheck& check, std::string_view datagram) {
  const std::string_view reply = datagram.substr(0, kMaxUdpReplyBytes);  // what recv keeps
  const ProbeVerdict verdict = judge_udp_reply(check, reply);
  FUZZ_CHECK(verdict.healthy ==
             (check.udp_expect.empty() || reply.find(check.udp_expect) != std::string_view::npos));
  FUZZ_CHECK(verdict.detail.rfind("reply of " + std::to_string(reply.size()) + " bytes", 0) == 0);
}

void check(std::string_view input) {
  config::HealthCheck check;
  const std::size_t newline = input.find('\n');
  const std::string_view line = input.substr(0, newline);
  const std::string_view answer =
      newline == std::string_view::npos ? input : input.substr(newline + 1);
  if (newline != std::string_view::npos && line.rfind("udp ", 0) == 0) {
    check.type = config::HealthCheckType::udp;
    check.udp_expect = std::string(line.substr(4));
    return check_udp(check, answer);
  }
  check.type = config::HealthCheckType::http;
  if (newline != std::string_view::npos && line.rfind("http ", 0) == 0) {
    std::string_view rest = line.substr(5);
    unsigned status = 0;
    std::size_t digits = 0;
    while (digits < rest.size() && digits < 3 && rest[digits] >= '0' && rest[digits] <= '9')
      status = status * 10 + static_cast<unsigned>(rest[digits++] - '0');
    if (digits != 0) check.expect_status = static_cast<std::uint16_t>(status);
    rest.remove_prefix(digits);
    if (!rest.empty() && rest.front() == ' ') check.expect_body = std::string(rest.substr(1));
    return check_http(check, answer);
  }
  check_http(check, input);
}

}  // namespace
}  // namespace sluice::cp

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::cp::check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
