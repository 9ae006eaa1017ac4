#include "announce/bird_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>

#include "sluice/unique_fd.hpp"

namespace sluice::cp {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Parses a line's code: "0001 ..." or "1002-..." -> 1, 1002 and whether it is the last.
bool coded(std::string_view line, int& code, bool& last) {
  if (line.size() < 5 || (line[4] != ' ' && line[4] != '-')) return false;
  int value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    if (line[i] < '0' || line[i] > '9') return false;
    value = value * 10 + (line[i] - '0');
  }
  code = value;
  last = line[4] == ' ';
  return true;
}

// Reads until `bytes` holds `complete(bytes)` or the deadline; Error on EOF or timeout.
template <typename Complete>
Status read_until(int fd, std::string& bytes, Clock::time_point deadline, const std::string& what,
                  Complete&& complete) {
  char buffer[4096];
  while (!complete(bytes)) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Error{what + ": poll: " + std::strerror(errno)};
    if (ready == 0) return Error{what + ": no answer in time"};
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{what + ": read: " + std::strerror(errno)};
    if (n == 0) return Error{what + ": BIRD closed the connection"};
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  return ok_status();
}

}  // namespace

std::string BirdReply::summary() const {
  std::string out;
  for (const BirdReplyLine& l : lines) {
    if (l.text.empty()) continue;
    if (!out.empty()) out += "; ";
    out += l.text;
  }
  return out;
}

std::optional<BirdReply> parse_bird_reply(std::string_view bytes) {
  BirdReply reply;
  int current = 0;
  std::size_t start = 0;
  while (start < bytes.size()) {
    const std::size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) return std::nullopt;  // a line not complete yet
    const std::string_view line = bytes.substr(start, end - start);
    start = end + 1;
    int code = 0;
    bool last = false;
    if (coded(line, code, last)) {
      current = code;
      reply.lines.push_back({code, std::string(line.substr(5))});
      if (last) {
        reply.code = code;
        return reply;
      }
    } else if (!line.empty() && line[0] == ' ') {
      reply.lines.push_back({current, std::string(line.substr(1))});
    } else if (!line.empty() && line[0] == '+') {
      continue;  // an asynchronous message, not part of the reply
    } else {
      reply.lines.push_back({current, std::string(line)});
    }
  }
  return std::nullopt;
}

Result<BirdReply> bird_command(const std::string& socket_path, const std::string& command,
                               std::chrono::milliseconds timeout) {
  const std::string what = "BIRD control socket " + socket_path;
  const auto deadline = Clock::now() + timeout;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path) return Error{what + ": path too long"};
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error{what + ": socket: " + std::strerror(errno)};
  // A Unix socket connects at once or fails (ENOENT, ECONNREFUSED): no connect timeout needed.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return Error{what + ": connect: " + std::strerror(errno)};
  }
  std::string bytes;
  // The greeting: "0001 BIRD 2.0.12 ready."
  Status greeted = read_until(fd.get(), bytes, deadline, what, [](const std::string& b) {
    return b.find('\n') != std::string::npos;
  });
  if (!greeted.ok()) return greeted.error();
  bytes.erase(0, bytes.find('\n') + 1);

  const std::string line = command + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{what + ": send: " + std::strerror(errno)};
    sent += static_cast<std::size_t>(n);
  }
  std::optional<BirdReply> reply;
  Status answered = read_until(
      fd.get(), bytes, deadline, what + " (" + command + ")",
      [&reply](const std::string& b) { return (reply = parse_bird_reply(b)).has_value(); });
  if (!answered.ok()) return answered.error();
  return std::move(*reply);
}

std::vector<BirdProtocol> parse_show_protocols(const BirdReply& reply) {
  std::vector<BirdProtocol> out;
  for (const BirdReplyLine& line : reply.lines) {
    if (line.code != 1002) continue;  // 2002 is the header row
    std::istringstream in(line.text);
    BirdProtocol p;
    if (!(in >> p.name >> p.proto)) continue;
    std::string table;
    in >> table >> p.state;
    // Since is a time, or a date and a time ("2026-12-01 23:59:44").
    std::string since;
    in >> since;
    p.since = since;
    std::string rest;
    std::getline(in, rest);
    const std::size_t first = rest.find_first_not_of(' ');
    rest = first == std::string::npos ? "" : rest.substr(first);
    // A date first: the time follows it.
    if (since.size() == 10 && since[4] == '-' && !rest.empty()) {
      const std::size_t space = rest.find(' ');
      p.since.push_back(' ');
      p.since.append(rest, 0, space);
      const std::size_t next =
          space == std::string::npos ? space : rest.find_first_not_of(' ', space);
      rest = next == std::string::npos ? "" : rest.substr(next);
    }
    while (!rest.empty() && rest.back() == ' ')
      rest.pop_back();
    p.info = rest;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace sluice::cp
