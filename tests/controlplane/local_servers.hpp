// Small in-process servers on 127.0.0.1 for probe tests: each runs on its own thread and
// stops when destroyed.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.hpp"

namespace sluice::cp::testing {

// Answers every TCP connection according to `mode`.
class LocalTcpServer {
 public:
  enum class Mode { http, silent, close, greeting };  // greeting: writes the response at once

  explicit LocalTcpServer(Mode mode, std::string response = "", asio::ssl::context* tls = nullptr)
      : mode_(mode),
        response_(std::move(response)),
        tls_(tls),
        acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~LocalTcpServer() {
    io_.stop();
    thread_.join();
  }

  [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  [[nodiscard]] int connections() const { return connections_.load(); }

 private:
  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, asio::ip::tcp::socket s) {
      if (ec) return;
      ++connections_;
      auto socket = std::make_shared<asio::ip::tcp::socket>(std::move(s));
      if (mode_ == Mode::silent) {
        held_.push_back(socket);  // keep it open, never answer
      } else if (mode_ == Mode::http && tls_ == nullptr) {
        serve_plain(socket);
      } else if (mode_ == Mode::http) {
        serve_tls(socket);
      } else if (mode_ == Mode::greeting) {
        asio::async_write(*socket, asio::buffer(response_),
                          [socket](const boost::system::error_code&, std::size_t) {});
        held_.push_back(socket);
      }
      accept();
    });
  }

  void serve_plain(const std::shared_ptr<asio::ip::tcp::socket>& socket) {
    auto buffer = std::make_shared<std::string>();
    asio::async_read_until(
        *socket, asio::dynamic_buffer(*buffer), "\r\n\r\n",
        [this, socket, buffer](const boost::system::error_code& ec, std::size_t) {
          if (ec) return;
          asio::async_write(*socket, asio::buffer(response_),
                            [socket](const boost::system::error_code&, std::size_t) {
                              boost::system::error_code ignored;
                              socket->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
                            });
        });
  }

  void serve_tls(const std::shared_ptr<asio::ip::tcp::socket>& socket) {
    auto stream =
        std::make_shared<asio::ssl::stream<asio::ip::tcp::socket>>(std::move(*socket), *tls_);
    auto buffer = std::make_shared<std::string>();
    stream->async_handshake(
        asio::ssl::stream_base::server,
        [this, stream, buffer](const boost::system::error_code& ec) {
          if (ec) return;
          asio::async_read_until(
              *stream, asio::dynamic_buffer(*buffer), "\r\n\r\n",
              [this, stream, buffer](const boost::system::error_code& ec, std::size_t) {
                if (ec) return;
                asio::async_write(*stream, asio::buffer(response_),
                                  [stream](const boost::system::error_code&, std::size_t) {
                                    boost::system::error_code ignored;
                                    stream->lowest_layer().close(ignored);
                                  });
              });
        });
  }

  Mode mode_;
  std::string response_;
  asio::ssl::context* tls_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> held_;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// Echoes every datagram with `prefix` prepended.
class LocalUdpEcho {
 public:
  explicit LocalUdpEcho(std::string prefix)
      : prefix_(std::move(prefix)),
        socket_(io_, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    receive();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~LocalUdpEcho() {
    io_.stop();
    thread_.join();
  }
  [[nodiscard]] std::uint16_t port() const { return socket_.local_endpoint().port(); }

 private:
  void receive() {
    socket_.async_receive_from(
        asio::buffer(data_), peer_, [this](const boost::system::error_code& ec, std::size_t n) {
          if (ec) return;
          reply_ = prefix_ + std::string(data_.data(), n);
          socket_.async_send_to(
              asio::buffer(reply_), peer_,
              [this](const boost::system::error_code&, std::size_t) { receive(); });
        });
  }

  std::string prefix_;
  asio::io_context io_;
  asio::ip::udp::socket socket_;
  asio::ip::udp::endpoint peer_;
  std::array<char, 1500> data_{};
  std::string reply_;
  std::thread thread_;
};

// A port on 127.0.0.1 with nobody listening (bound then closed).
inline std::uint16_t unused_port(bool udp = false) {
  asio::io_context io;
  if (udp) {
    asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return s.local_endpoint().port();
  }
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

inline std::string http_response(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

}  // namespace sluice::cp::testing
