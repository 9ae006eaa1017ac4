// The dataplane's Unix control socket: length-prefixed JSON frames (lib/sluice/control),
// one request -> one reply, served from the control thread. Several clients may stay
// connected; each request is answered before the next is read. The socket file is created
// with mode 0600 (its directory is created if missing) and removed on destruction.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/unique_fd.hpp"
#include "sluice/result.hpp"

namespace sluice::dataplane {

class ControlServer {
 public:
  // Turns one request object into one reply object ({"ok": ...}); never throws.
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

  [[nodiscard]] static Result<std::unique_ptr<ControlServer>> listen(const std::string& path,
                                                                     Handler handler);
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  ~ControlServer();

  // Accepts connections and answers requests until nothing is pending; waits at most
  // `timeout` for the first event.
  void poll(std::chrono::milliseconds timeout);

  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  ControlServer(std::string path, UniqueFd listener, Handler handler)
      : path_(std::move(path)), listener_(std::move(listener)), handler_(std::move(handler)) {}
  void accept_pending();
  // False when the connection must be closed.
  bool serve_one(int fd);

  std::string path_;
  UniqueFd listener_;
  Handler handler_;
  std::vector<UniqueFd> clients_;
};

}  // namespace sluice::dataplane
