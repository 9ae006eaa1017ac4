// A client of BIRD2's control socket (the protocol birdc speaks): one command per connection,
// every step bounded by a deadline. BIRD greets with "0001 BIRD 2.0.12 ready."; each reply is
// a series of lines "CODE-text" (more follows), " text" (continuation) and a last "CODE text".
// Codes 0xxx end a successful command, 1xxx/2xxx carry data, 8xxx/9xxx are errors.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::cp {

struct BirdReplyLine {
  int code = 0;  // of this line, or of the last coded line for a continuation
  std::string text;
};

struct BirdReply {
  int code = 0;  // of the last line
  std::vector<BirdReplyLine> lines;

  [[nodiscard]] bool ok() const { return code < 8000; }
  // The lines' text joined by "; " (log lines, error messages).
  [[nodiscard]] std::string summary() const;
};

// Parses one reply (the bytes after the greeting). nullopt while incomplete.
[[nodiscard]] std::optional<BirdReply> parse_bird_reply(std::string_view bytes);

// Sends `command` ("configure", "show protocols") to the BIRD control socket at `socket_path`
// and returns its reply; Error on a transport failure or when `timeout` passes.
[[nodiscard]] Result<BirdReply> bird_command(const std::string& socket_path,
                                             const std::string& command,
                                             std::chrono::milliseconds timeout);

// One row of `show protocols`.
struct BirdProtocol {
  std::string name;   // "uplink"
  std::string proto;  // "BGP", "Static", "BFD", ...
  std::string state;  // "up", "start", "down"
  std::string since;
  std::string info;  // BGP: "Established", "Active", "Connect", ...

  [[nodiscard]] bool session_up() const { return state == "up" && info.starts_with("Established"); }
  friend bool operator==(const BirdProtocol&, const BirdProtocol&) = default;
};

[[nodiscard]] std::vector<BirdProtocol> parse_show_protocols(const BirdReply& reply);

}  // namespace sluice::cp
