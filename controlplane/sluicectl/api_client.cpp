#include "sluicectl/api_client.hpp"

#include <optional>

#include "api/request_target.hpp"
#include "common/asio.hpp"

namespace sluice::ctl {

namespace asio = boost::asio;
namespace http = boost::beast::http;

Result<ApiReply> call_api(const std::string& socket_path, const ApiRequest& request,
                          std::chrono::milliseconds timeout) {
  asio::io_context io;
  asio::local::stream_protocol::socket socket(io);
  http::request<http::string_body> req;
  req.method(http::string_to_verb(request.method));
  req.target(request.target);
  req.version(11);
  req.set(http::field::host, "sluice-controlplane");
  req.set(http::field::user_agent, "sluicectl");
  if (!request.body.empty()) {
    req.set(http::field::content_type, request.content_type);
    req.body() = request.body;
  }
  req.keep_alive(false);
  req.prepare_payload();

  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  std::optional<std::string> failure;
  bool done = false;
  auto fail = [&](const char* step, const boost::system::error_code& ec) {
    failure = std::string(step) + ": " + ec.message();
    done = true;
  };

  bool forbidden = false;  // the socket file's permissions refuse us
  socket.async_connect(
      asio::local::stream_protocol::endpoint(socket_path),
      [&](const boost::system::error_code& ec) {
        if (ec) {
          forbidden = ec == asio::error::access_denied || ec == asio::error::no_permission;
          return fail("connect", ec);
        }
        http::async_write(socket, req, [&](const boost::system::error_code& write_ec, std::size_t) {
          // A daemon that refuses us answers 403 without reading the request and may close
          // before it is sent: read its answer anyway.
          http::async_read(socket, buffer, parser,
                           [&, write_ec](const boost::system::error_code& ec, std::size_t) {
                             if (ec)
                               return fail(write_ec ? "send" : "read", write_ec ? write_ec : ec);
                             done = true;
                           });
        });
      });
  io.run_for(timeout);
  if (forbidden) {
    ApiReply reply;
    reply.status = 403;
    reply.body =
        nlohmann::json{{"error", "permission denied: " + socket_path + ": " + *failure +
                                     " (the socket file's owner, group or mode refuses you)"}};
    reply.raw_body = reply.body.dump();
    return reply;
  }
  if (!done) {
    return Error{"no answer from " + socket_path + " within " + std::to_string(timeout.count()) +
                 " ms"};
  }
  if (failure) return Error{socket_path + ": " + *failure};

  ApiReply reply;
  reply.status = parser.get().result_int();
  reply.raw_body = parser.get().body();
  reply.body = nlohmann::json::parse(reply.raw_body, nullptr, false);
  if (reply.body.is_discarded()) reply.body = nullptr;
  return reply;
}

std::string with_query(std::string path,
                       std::initializer_list<std::pair<std::string, std::string>> params) {
  char separator = '?';
  for (const auto& [key, value] : params) {
    path += separator;
    path += cp::percent_encode(key) + "=" + cp::percent_encode(value);
    separator = '&';
  }
  return path;
}

}  // namespace sluice::ctl
