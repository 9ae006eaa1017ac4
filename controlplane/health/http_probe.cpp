// HTTP and HTTPS checks: GET the configured path, expect the status (and a body substring
// when set). One code path for both; HTTPS adds the TLS handshake (SNI from http_host).
#include <openssl/ssl.h>

#include <memory>
#include <optional>

#include "health/probe_check.hpp"
#include "health/probe_session.hpp"

namespace sluice::cp {
namespace {

template <typename Stream>
class HttpProbe : public std::enable_shared_from_this<HttpProbe<Stream>> {
 public:
  template <typename... StreamArgs>
  HttpProbe(asio::io_context& io, const ProbeSpec& spec, ProbeDone done, StreamArgs&&... args)
      : session_(io, spec, std::move(done)), stream_(std::forward<StreamArgs>(args)...) {
    limit_response_parser(parser_);
  }

  void start() {
    auto self = this->shared_from_this();
    session_.arm([self] { self->close(); });
    const asio::ip::tcp::endpoint endpoint(to_asio(session_.spec().address), session_.spec().port);
    beast::get_lowest_layer(stream_).async_connect(endpoint,
                                                   [self](const boost::system::error_code& ec) {
                                                     if (ec)
                                                       return self->session_.fail("connect", ec);
                                                     self->handshake();
                                                   });
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  std::string host_header() const {
    const ProbeSpec& spec = session_.spec();
    if (!spec.check.http_host.empty()) return spec.check.http_host;
    const std::string host =
        spec.address.is_v6() ? "[" + spec.address.to_string() + "]" : spec.address.to_string();
    return host + ":" + std::to_string(spec.port);
  }

  void handshake() {
    if constexpr (kTls) {
      const std::string& sni = session_.spec().check.http_host;
      // SNI carries host names only, never addresses (RFC 6066).
      if (!sni.empty() && !IpAddress::parse(sni).has_value()) {
        SSL_set_tlsext_host_name(stream_.native_handle(), sni.c_str());
      }
      auto self = this->shared_from_this();
      stream_.async_handshake(asio::ssl::stream_base::client,
                              [self](const boost::system::error_code& ec) {
                                if (ec) return self->session_.fail("tls handshake", ec);
                                self->send();
                              });
    } else {
      send();
    }
  }

  void send() {
    request_.method(http::verb::get);
    request_.target(session_.spec().check.http_path);
    request_.version(11);
    request_.set(http::field::host, host_header());
    request_.set(http::field::user_agent, "sluice-healthcheck");
    request_.set(http::field::connection, "close");
    auto self = this->shared_from_this();
    http::async_write(stream_, request_, [self](const boost::system::error_code& ec, std::size_t) {
      if (ec) return self->session_.fail("send request", ec);
      self->receive();
    });
  }

  void receive() {
    auto self = this->shared_from_this();
    http::async_read(stream_, buffer_, parser_,
                     [self](const boost::system::error_code& ec, std::size_t) {
                       if (ec) return self->session_.fail("read response", ec);
                       self->close();
                       self->check(self->parser_.get());
                     });
  }

  void check(const HealthResponse& response) {
    ProbeVerdict verdict =
        judge_http_response(session_.spec().check, response.result_int(), response.body());
    session_.finish(verdict.healthy, std::move(verdict.detail));
  }

  void close() {
    boost::system::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);
  }

  ProbeSession session_;
  Stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  HttpResponseParser parser_;
};

}  // namespace

void start_http_probe(asio::io_context& io, asio::ssl::context* tls, const ProbeSpec& spec,
                      ProbeDone done) {
  if (tls != nullptr) {
    using TlsStream = beast::ssl_stream<beast::tcp_stream>;
    std::make_shared<HttpProbe<TlsStream>>(io, spec, std::move(done), io, *tls)->start();
  } else {
    std::make_shared<HttpProbe<beast::tcp_stream>>(io, spec, std::move(done), io)->start();
  }
}

}  // namespace sluice::cp
