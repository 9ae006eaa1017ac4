// Shared plumbing of every probe kind: the start time, an overall deadline that closes the
// probe's socket, and a completion that runs exactly once.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "common/local_error.hpp"
#include "health/probe.hpp"

namespace sluice::cp {

class ProbeSession {
 public:
  ProbeSession(asio::io_context& io, const ProbeSpec& spec, ProbeDone done)
      : spec_(spec),
        deadline_(io),
        done_(std::move(done)),
        started_(std::chrono::steady_clock::now()) {}

  // Arms the deadline; `on_timeout` must close the socket so pending operations abort.
  template <typename OnTimeout>
  void arm(OnTimeout on_timeout) {
    deadline_.expires_after(spec_.timeout);
    deadline_.async_wait([this, on_timeout](const boost::system::error_code& ec) {
      if (ec || finished_) return;
      timed_out_ = true;
      on_timeout();
    });
  }

  // Completes the probe (once). A failure after the deadline fired reads as a timeout.
  void finish(bool success, std::string detail, bool local_error = false) {
    if (finished_) return;
    finished_ = true;
    deadline_.cancel();
    ProbeOutcome outcome;
    outcome.latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started_);
    outcome.success = success && !timed_out_;
    outcome.local_error = local_error && !timed_out_;
    outcome.detail = timed_out_ ? "timeout after " + std::to_string(spec_.timeout.count()) + " ms"
                                : std::move(detail);
    done_(std::move(outcome));
  }

  // A failed step. Out of descriptors, buffers or memory here is the control plane's problem,
  // not the backend's: a local error.
  void fail(const char* step, const boost::system::error_code& ec) {
    if (is_local_resource_error(ec)) {
      return finish(false, std::string("local error: ") + step + ": " + ec.message(), true);
    }
    finish(false, std::string(step) + ": " + ec.message());
  }

  [[nodiscard]] const ProbeSpec& spec() const { return spec_; }
  [[nodiscard]] bool finished() const { return finished_; }

 private:
  ProbeSpec spec_;
  asio::steady_timer deadline_;
  ProbeDone done_;
  std::chrono::steady_clock::time_point started_;
  bool finished_ = false;
  bool timed_out_ = false;
};

[[nodiscard]] inline asio::ip::address to_asio(const IpAddress& address) {
  if (address.is_v4()) {
    asio::ip::address_v4::bytes_type b;
    std::copy_n(address.bytes.begin(), 4, b.begin());
    return asio::ip::address_v4(b);
  }
  asio::ip::address_v6::bytes_type b;
  std::copy_n(address.bytes.begin(), 16, b.begin());
  return asio::ip::address_v6(b);
}

// Starts one probe kind; each lives in its own file.
void start_tcp_probe(asio::io_context& io, const ProbeSpec& spec, ProbeDone done);
void start_http_probe(asio::io_context& io, asio::ssl::context* tls, const ProbeSpec& spec,
                      ProbeDone done);
void start_udp_probe(asio::io_context& io, const ProbeSpec& spec, ProbeDone done);

}  // namespace sluice::cp
