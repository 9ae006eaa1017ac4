// UDP check: send the configured request, expect a reply (containing udp_expect when set).
// A closed port usually answers ICMP port unreachable, which fails the probe at once.
#include <array>
#include <memory>
#include <string_view>

#include "health/probe_check.hpp"
#include "health/probe_session.hpp"

namespace sluice::cp {
namespace {

class UdpProbe : public std::enable_shared_from_this<UdpProbe> {
 public:
  UdpProbe(asio::io_context& io, const ProbeSpec& spec, ProbeDone done)
      : session_(io, spec, std::move(done)), socket_(io) {}

  void start() {
    auto self = shared_from_this();
    session_.arm([self] { self->close(); });
    const asio::ip::udp::endpoint endpoint(to_asio(session_.spec().address), session_.spec().port);
    boost::system::error_code ec;
    socket_.open(endpoint.protocol(), ec);
    if (!ec) socket_.connect(endpoint, ec);  // connected: ICMP errors reach us as ECONNREFUSED
    if (ec) return session_.fail("socket", ec);
    socket_.async_send(asio::buffer(session_.spec().check.udp_request),
                       [self](const boost::system::error_code& ec, std::size_t) {
                         if (ec) return self->session_.fail("send", ec);
                         self->receive();
                       });
  }

 private:
  void receive() {
    auto self = shared_from_this();
    socket_.async_receive(asio::buffer(reply_),
                          [self](const boost::system::error_code& ec, std::size_t bytes) {
                            if (ec) return self->session_.fail("receive", ec);
                            self->close();
                            self->check(std::string_view(self->reply_.data(), bytes));
                          });
  }

  void check(std::string_view reply) {
    ProbeVerdict verdict = judge_udp_reply(session_.spec().check, reply);
    session_.finish(verdict.healthy, std::move(verdict.detail));
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  ProbeSession session_;
  asio::ip::udp::socket socket_;
  std::array<char, kMaxUdpReplyBytes> reply_{};
};

}  // namespace

void start_udp_probe(asio::io_context& io, const ProbeSpec& spec, ProbeDone done) {
  std::make_shared<UdpProbe>(io, spec, std::move(done))->start();
}

}  // namespace sluice::cp
