// TCP check: the backend accepts a connection within the timeout.
#include <memory>

#include "health/probe_session.hpp"

namespace sluice::cp {
namespace {

class TcpProbe : public std::enable_shared_from_this<TcpProbe> {
 public:
  TcpProbe(asio::io_context& io, const ProbeSpec& spec, ProbeDone done)
      : session_(io, spec, std::move(done)), socket_(io) {}

  void start() {
    auto self = shared_from_this();
    session_.arm([self] { self->close(); });
    const asio::ip::tcp::endpoint endpoint(to_asio(session_.spec().address), session_.spec().port);
    socket_.async_connect(endpoint, [self](const boost::system::error_code& ec) {
      if (ec) return self->session_.fail("connect", ec);
      self->close();
      self->session_.finish(true, "connected");
    });
  }

 private:
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  ProbeSession session_;
  asio::ip::tcp::socket socket_;
};

}  // namespace

void start_tcp_probe(asio::io_context& io, const ProbeSpec& spec, ProbeDone done) {
  std::make_shared<TcpProbe>(io, spec, std::move(done))->start();
}

}  // namespace sluice::cp
