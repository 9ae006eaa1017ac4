#include "health/probe_check.hpp"

namespace sluice::cp {
namespace {

// A SyncReadStream over the bytes a peer sent before it closed: all of them, then EOF.
class ReceivedBytes {
 public:
  explicit ReceivedBytes(std::string_view bytes) : rest_(bytes) {}

  template <typename Buffers>
  std::size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
    if (rest_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    ec = {};
    const std::size_t n = asio::buffer_copy(buffers, asio::buffer(rest_.data(), rest_.size()));
    rest_.remove_prefix(n);
    return n;
  }
  template <typename Buffers>
  std::size_t read_some(const Buffers& buffers) {
    boost::system::error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view rest_;
};

}  // namespace

void HealthBody::reader::init(const boost::optional<std::uint64_t>& length,
                              boost::system::error_code& ec) {
  ec = {};
  if (length && !room_for(*length, ec)) return;
  if (length) body_.reserve(static_cast<std::size_t>(*length));
}

bool HealthBody::reader::room_for(std::uint64_t extra, boost::system::error_code& ec) {
  if (extra > kMaxHealthBodyBytes - body_.size()) {
    ec = http::error::body_limit;
    return false;
  }
  ec = {};
  return true;
}

void limit_response_parser(HttpResponseParser& parser) {
  parser.body_limit(kMaxHealthBodyBytes);
}

ProbeVerdict judge_http_response(const config::HealthCheck& check, unsigned status,
                                 std::string_view body) {
  if (status != check.expect_status) {
    return {false,
            "HTTP " + std::to_string(status) + ", expected " + std::to_string(check.expect_status)};
  }
  if (!check.expect_body.empty() && body.find(check.expect_body) == std::string_view::npos) {
    return {false, "HTTP " + std::to_string(status) + " but the body does not contain \"" +
                       check.expect_body + "\""};
  }
  return {true, "HTTP " + std::to_string(status)};
}

ProbeVerdict judge_udp_reply(const config::HealthCheck& check, std::string_view reply) {
  const std::string& expect = check.udp_expect;
  if (!expect.empty() && reply.find(expect) == std::string_view::npos) {
    return {false, "reply of " + std::to_string(reply.size()) + " bytes does not contain \"" +
                       expect + "\""};
  }
  return {true, "reply of " + std::to_string(reply.size()) + " bytes"};
}

ProbeVerdict check_http_answer(const config::HealthCheck& check, std::string_view bytes) {
  ReceivedBytes stream(bytes);
  beast::flat_buffer buffer;
  HttpResponseParser parser;
  limit_response_parser(parser);
  boost::system::error_code ec;
  http::read(stream, buffer, parser, ec);  // the probe's http::async_read, synchronously
  if (ec) return {false, "read response: " + ec.message()};
  return judge_http_response(check, parser.get().result_int(), parser.get().body());
}

}  // namespace sluice::cp
