// A small HTTP/1.1 server (Boost.Beast) for the API on a Unix socket and for /metrics on a
// loopback TCP port. Each connection runs on its own strand; the handler must be thread-safe.
// Keep-alive is honoured; bodies above kMaxRequestBodyBytes are refused with 413.
#pragma once

#include <spdlog/spdlog.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/asio.hpp"

namespace sluice::cp {

inline constexpr std::uint64_t kMaxRequestBodyBytes = 1 << 20;

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

template <typename Protocol>
class HttpServer {
 public:
  using Acceptor = typename Protocol::acceptor;

  HttpServer(asio::io_context& io, Acceptor acceptor, HttpHandler handler, std::string name)
      : io_(io),
        acceptor_(std::move(acceptor)),
        handler_(std::move(handler)),
        name_(std::move(name)) {}

  void start() { accept(); }
  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  using Socket = typename Protocol::socket;

  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Socket socket, const HttpHandler& handler)
        : stream_(std::move(socket)), handler_(handler) {}

    void start() { read(); }

   private:
    void read() {
      parser_.emplace();
      parser_->body_limit(kMaxRequestBodyBytes);
      auto self = this->shared_from_this();
      http::async_read(
          stream_, buffer_, *parser_,
          [self](const boost::system::error_code& ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(const boost::system::error_code& ec) {
      if (ec == http::error::end_of_stream || ec == asio::error::eof) return close();
      if (ec == http::error::body_limit) {
        HttpResponse response{http::status::payload_too_large, 11};
        response.set(http::field::content_type, "application/json");
        response.body() = R"({"error":"request body larger than 1 MiB"})";
        response.keep_alive(false);
        return write(std::move(response));
      }
      if (ec) return close();
      const HttpRequest& request = parser_->get();
      HttpResponse response = handler_(request);
      response.version(request.version());
      response.keep_alive(request.keep_alive());
      write(std::move(response));
    }

    void write(HttpResponse response) {
      response.prepare_payload();
      response_ = std::make_shared<HttpResponse>(std::move(response));
      auto self = this->shared_from_this();
      http::async_write(stream_, *response_,
                        [self](const boost::system::error_code& ec, std::size_t) {
                          if (ec || !self->response_->keep_alive()) return self->close();
                          self->read();
                        });
    }

    void close() {
      boost::system::error_code ignored;
      stream_.shutdown(Socket::shutdown_send, ignored);
    }

    Socket stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::shared_ptr<HttpResponse> response_;
    const HttpHandler& handler_;
  };

  void accept() {
    acceptor_.async_accept(asio::make_strand(io_),
                           [this](const boost::system::error_code& ec, Socket socket) {
                             if (ec == asio::error::operation_aborted) return;
                             if (ec) {
                               spdlog::warn("{}: accept failed: {}", name_, ec.message());
                             } else {
                               std::make_shared<Session>(std::move(socket), handler_)->start();
                             }
                             accept();
                           });
  }

  asio::io_context& io_;
  Acceptor acceptor_;
  HttpHandler handler_;
  std::string name_;
};

}  // namespace sluice::cp
