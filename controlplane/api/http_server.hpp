// A small HTTP/1.1 server (Boost.Beast) for the API on a Unix socket and for /metrics on a
// loopback TCP port. Each connection runs on its own strand; the handler must be thread-safe.
//
// What one client can hold, so that careless or hostile ones cannot starve the others (every
// limit is in docs/operations.md, "API limits"):
// - a connection limit: at the limit a new connection takes the place of the one that has
//   waited longest (idle first, then the slowest request); when all are busy, accepting pauses
//   until one ends, and new clients wait in the kernel's listen queue;
// - an idle timeout (no request begun), a request timeout (from the request's first byte to its
//   last: slow clients get 408) and a write timeout;
// - the header's size and field count (431) and the body's size (413); malformed HTTP gets
//   400; each error answer closes the connection;
// - an optional caller check on every accepted connection (SO_PEERCRED for the API): a refused
//   caller gets 403 and nothing of its request is parsed;
// - accept errors (out of descriptors) are retried with backoff, closing the longest-waiting
//   connection to free one, and logged once per interval with a count.
#pragma once

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/connection_table.hpp"
#include "api/http_server_report.hpp"
#include "common/asio.hpp"
#include "common/local_error.hpp"
#include "common/rate_limited_log.hpp"
#include "sluice/result.hpp"

namespace sluice::cp {

inline constexpr std::uint64_t kMaxRequestBodyBytes = 1 << 20;

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// Who may connect: ok, or an Error naming the caller. Given the accepted socket's descriptor.
using CallerCheck = std::function<Status(int fd)>;

struct HttpLimits {
  std::size_t max_connections = 256;
  std::chrono::milliseconds idle_timeout{10'000};    // for a request to begin
  std::chrono::milliseconds request_timeout{5'000};  // from a request's first byte to its last
  std::chrono::milliseconds write_timeout{10'000};   // for the response to be taken
  std::chrono::milliseconds linger{1'000};    // after a refusal or an error answer, to read it
  std::uint32_t max_header_bytes = 8 * 1024;  // request line and header fields
  std::uint32_t max_header_fields = 64;
  std::uint64_t max_body_bytes = kMaxRequestBodyBytes;
  // Accept errors, refused callers and connections closed for room: one line per interval.
  std::chrono::milliseconds log_interval{RateLimitedLog::kDefaultInterval};
};

// {"error": message} with `status`.
[[nodiscard]] HttpResponse json_error_response(http::status status, const std::string& message);

namespace detail {

// What the server and its sessions share; sessions hold it, so it outlives the server while
// the io_context finishes or drops their handlers.
class HttpServerCore {
 public:
  HttpServerCore(std::string name, HttpHandler handler, CallerCheck check, HttpLimits limits)
      : name(std::move(name)),
        handler(std::move(handler)),
        check(std::move(check)),
        limits(limits),
        table(limits.max_connections),
        accept_log(limits.log_interval),
        room_log(limits.log_interval),
        recovery_log(limits.log_interval),
        refused_log_(limits.log_interval) {}

  // A session is gone: its slot is free; the server may resume accepting.
  void connection_closed(ConnectionTable::Id id);
  void set_on_room(std::function<void()> on_room);  // empty: the server is gone

  // Logs a refused caller, at most once per interval.
  void note_refused(const std::string& why);

  [[nodiscard]] HttpServerReport report() const;

  const std::string name;
  const HttpHandler handler;
  const CallerCheck check;
  const HttpLimits limits;
  ConnectionTable table;
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> accept_errors{0};
  std::atomic<std::uint64_t> refused_callers{0};
  std::atomic<std::uint64_t> idle_timeouts{0};
  std::atomic<std::uint64_t> request_timeouts{0};
  std::atomic<std::uint64_t> write_timeouts{0};
  std::atomic<std::uint64_t> closed_for_room{0};
  std::atomic<std::uint64_t> bad_requests{0};
  RateLimitedLog accept_log;
  RateLimitedLog room_log;
  RateLimitedLog recovery_log;

 private:
  RateLimitedLog refused_log_;
  std::mutex mutex_;
  std::function<void()> on_room_;
};

// One connection: wait for a request (idle timeout), read it (request timeout, header and
// body limits), handle it, write the answer (write timeout), again while kept alive.
template <typename Socket>
class HttpSession : public std::enable_shared_from_this<HttpSession<Socket>> {
 public:
  HttpSession(Socket socket, std::shared_ptr<HttpServerCore> core)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), core_(std::move(core)) {}
  ~HttpSession() {
    if (registered_) core_->connection_closed(id_);
  }
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // Registers the connection (on the acceptor's strand), then runs on its own.
  void start() {
    std::weak_ptr<HttpSession> weak = this->weak_from_this();
    id_ = core_->table.add([weak] {
      if (auto self = weak.lock()) {
        asio::post(self->socket_.get_executor(), [self] { self->close(); });
      }
    });
    registered_ = true;
    asio::dispatch(socket_.get_executor(), [self = this->shared_from_this()] { self->begin(); });
  }

 private:
  enum class Deadline : std::uint8_t { idle, request, write, linger };

  void begin() {
    if (core_->check) {
      if (Status admitted = core_->check(socket_.native_handle()); !admitted.ok()) {
        core_->note_refused(admitted.error().message);
        return answer_and_close(json_error_response(
            http::status::forbidden, "permission denied: " + admitted.error().message));
      }
    }
    wait_for_request();
  }

  void wait_for_request() {
    phase(ConnectionPhase::waiting);
    arm(core_->limits.idle_timeout, Deadline::idle);
    if (buffer_.size() > 0) return read_header();  // the next request is already here
    socket_.async_wait(Socket::wait_read,
                       [self = this->shared_from_this()](const boost::system::error_code& ec) {
                         if (self->closed_) return;
                         if (ec) return self->close();
                         self->read_header();
                       });
  }

  void read_header() {
    phase(ConnectionPhase::reading);
    timed_out_ = false;
    arm(core_->limits.request_timeout, Deadline::request);
    parser_.emplace();
    parser_->header_limit(core_->limits.max_header_bytes);
    parser_->body_limit(core_->limits.max_body_bytes);
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          self->on_header(ec);
        });
  }

  void on_header(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec) return on_read_error(ec);
    const HttpRequest& request = parser_->get();
    if (static_cast<std::size_t>(std::distance(request.begin(), request.end())) >
        core_->limits.max_header_fields) {
      ++core_->bad_requests;
      return answer_and_close(json_error_response(
          http::status::request_header_fields_too_large,
          "more than " + std::to_string(core_->limits.max_header_fields) + " header fields"));
    }
    if (parser_->is_done()) return handle();
    http::async_read(
        socket_, buffer_, *parser_,
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          if (self->closed_) return;
          if (ec) return self->on_read_error(ec);
          self->handle();
        });
  }

  void on_read_error(const boost::system::error_code& ec) {
    if (timed_out_) {
      return answer_and_close(json_error_response(
          http::status::request_timeout, "request not received within " +
                                             std::to_string(core_->limits.request_timeout.count()) +
                                             " ms"));
    }
    if (ec == http::error::end_of_stream) return close();  // gone between requests
    if (ec.category() != http::make_error_code(http::error::end_of_stream).category()) {
      return close();  // reset, or another socket error: nobody to answer
    }
    ++core_->bad_requests;
    if (ec == http::error::header_limit) {
      return answer_and_close(
          json_error_response(http::status::request_header_fields_too_large,
                              "request header larger than " +
                                  std::to_string(core_->limits.max_header_bytes) + " bytes"));
    }
    if (ec == http::error::body_limit) {
      return answer_and_close(json_error_response(
          http::status::payload_too_large,
          "request body larger than " + std::to_string(core_->limits.max_body_bytes) + " bytes"));
    }
    answer_and_close(
        json_error_response(http::status::bad_request, "malformed HTTP request: " + ec.message()));
  }

  void handle() {
    phase(ConnectionPhase::busy);
    timer_.cancel();
    const HttpRequest& request = parser_->get();
    HttpResponse response = core_->handler(request);
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    write(std::move(response));
  }

  // Error answers end the connection: what follows on the stream cannot be trusted.
  void answer_and_close(HttpResponse response) {
    response.keep_alive(false);
    write(std::move(response));
  }

  void write(HttpResponse response) {
    phase(ConnectionPhase::busy);
    arm(core_->limits.write_timeout, Deadline::write);
    response.prepare_payload();
    response_ = std::make_shared<HttpResponse>(std::move(response));
    http::async_write(
        socket_, *response_,
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          if (self->closed_) return;
          if (ec) return self->close();
          if (!self->response_->keep_alive()) return self->linger();
          self->wait_for_request();
        });
  }

  // Half-closes, then discards what the client still sends until it closes too (or the
  // linger time ends), so that it reads the whole answer instead of a reset.
  void linger() {
    phase(ConnectionPhase::waiting);
    arm(core_->limits.linger, Deadline::linger);
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_send, ignored);
    discard();
  }

  void discard() {
    socket_.async_read_some(
        asio::buffer(discard_),
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          if (self->closed_) return;
          if (ec) return self->close();
          self->discard();
        });
  }

  void arm(std::chrono::milliseconds timeout, Deadline kind) {
    const std::uint64_t generation = ++deadline_generation_;
    timer_.expires_after(timeout);
    timer_.async_wait(
        [self = this->shared_from_this(), generation, kind](const boost::system::error_code& ec) {
          if (ec || self->closed_ || generation != self->deadline_generation_) return;
          self->on_deadline(kind);
        });
  }

  void on_deadline(Deadline kind) {
    switch (kind) {
      case Deadline::idle:
        ++core_->idle_timeouts;
        return close();
      case Deadline::request: {
        // Stop reading; the read completes with operation_aborted and answers 408.
        ++core_->request_timeouts;
        timed_out_ = true;
        boost::system::error_code ignored;
        socket_.cancel(ignored);
        return;
      }
      case Deadline::write:
        ++core_->write_timeouts;
        return close();
      case Deadline::linger:
        return close();
    }
  }

  void phase(ConnectionPhase phase) { core_->table.set_phase(id_, phase); }

  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  Socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<HttpServerCore> core_;
  ConnectionTable::Id id_ = 0;
  bool registered_ = false;
  std::uint64_t deadline_generation_ = 0;
  bool timed_out_ = false;
  bool closed_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;
  std::array<char, 4096> discard_{};
};

}  // namespace detail

template <typename Protocol>
class HttpServer {
 public:
  using Acceptor = typename Protocol::acceptor;

  HttpServer(asio::io_context& io, Acceptor acceptor, HttpHandler handler, std::string name,
             HttpLimits limits = {}, CallerCheck check = {})
      : io_(io),
        strand_(asio::make_strand(io)),
        acceptor_(std::move(acceptor)),
        backoff_timer_(strand_),
        core_(std::make_shared<detail::HttpServerCore>(std::move(name), std::move(handler),
                                                       std::move(check), limits)) {
    core_->set_on_room([this] {
      asio::post(strand_, [this] {
        if (!paused_ || stopped_) return;
        paused_ = false;
        make_room_and_accept();
      });
    });
  }
  ~HttpServer() { core_->set_on_room({}); }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start() {
    asio::dispatch(strand_, [this] { accept_next(); });
  }
  void stop() {
    asio::dispatch(strand_, [this] {
      stopped_ = true;
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      backoff_timer_.cancel();
    });
  }

  [[nodiscard]] HttpServerReport report() const { return core_->report(); }

 private:
  using Socket = typename Protocol::socket;
  using Session = detail::HttpSession<Socket>;

  static constexpr std::chrono::milliseconds kMinBackoff{10};
  static constexpr std::chrono::milliseconds kMaxBackoff{1000};

  // On the strand. Below the limit: accept. At the limit: wait until a connection is pending,
  // then make room for it (never before: the room would go to nobody).
  void accept_next() {
    if (stopped_) return;
    if (core_->table.open() < core_->table.limit()) return accept_one();
    acceptor_.async_wait(Acceptor::wait_read,
                         asio::bind_executor(strand_, [this](const boost::system::error_code& ec) {
                           if (ec == asio::error::operation_aborted || stopped_) return;
                           if (ec) return accept_failed(ec);
                           make_room_and_accept();
                         }));
  }

  void make_room_and_accept() {
    ConnectionTable::Room room = core_->table.make_room();
    if (!room.available) {
      paused_ = true;  // every connection is busy; the next one to end resumes us
      return;
    }
    if (room.close) {
      room.close();
      ++core_->closed_for_room;
      if (const std::uint64_t n = core_->room_log.note()) {
        spdlog::warn(
            "{}: {} connections open (the limit): closed the one {} longest to make room "
            "({} time(s) since the last such message)",
            core_->name, core_->table.limit(),
            room.closed_phase == ConnectionPhase::waiting ? "idle"
                                                          : "that had been sending its request",
            n);
      }
    }
    accept_one();
  }

  void accept_one() {
    acceptor_.async_accept(
        asio::make_strand(io_),
        asio::bind_executor(strand_, [this](const boost::system::error_code& ec, Socket socket) {
          on_accept(ec, std::move(socket));
        }));
  }

  void on_accept(const boost::system::error_code& ec, Socket socket) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    if (ec) return accept_failed(ec);
    if (failures_ > 0) {
      if (core_->recovery_log.note() != 0) {
        spdlog::info("{}: accepting again after {} failed accept(s)", core_->name, failures_);
      }
      failures_ = 0;
      backoff_ = std::chrono::milliseconds{0};
    }
    ++core_->accepted;
    std::make_shared<Session>(std::move(socket), core_)->start();
    accept_next();
  }

  // The pending connection stays in the listen queue, so retrying at once would spin: back
  // off, and when out of descriptors free one by closing the longest-waiting connection.
  void accept_failed(const boost::system::error_code& ec) {
    ++failures_;
    ++core_->accept_errors;
    if (is_local_resource_error(ec)) {
      if (ConnectionTable::CloseFn close = core_->table.close_one()) {
        close();
        ++core_->closed_for_room;
      }
    }
    backoff_ = backoff_.count() == 0 ? kMinBackoff : std::min(backoff_ * 2, kMaxBackoff);
    if (const std::uint64_t n = core_->accept_log.note()) {
      spdlog::warn(
          "{}: accept failed: {} ({} time(s) since the last such message); retrying in {} ms",
          core_->name, ec.message(), n, backoff_.count());
    }
    backoff_timer_.expires_after(backoff_);
    backoff_timer_.async_wait([this](const boost::system::error_code& wait) {
      if (!wait) accept_next();
    });
  }

  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  Acceptor acceptor_;
  asio::steady_timer backoff_timer_;
  std::shared_ptr<detail::HttpServerCore> core_;
  // On the strand:
  bool paused_ = false;
  bool stopped_ = false;
  std::uint64_t failures_ = 0;  // consecutive failed accepts
  std::chrono::milliseconds backoff_{0};
};

}  // namespace sluice::cp
