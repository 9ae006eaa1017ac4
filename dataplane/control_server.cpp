#include "control_server.hpp"

#include <poll.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <filesystem>
#include <system_error>

#include "sluice/control/caller_policy.hpp"
#include "sluice/control/frame.hpp"
#include "sluice/control/messages.hpp"
#include "sluice/control/unix_socket.hpp"

namespace sluice::dataplane {
namespace {

// A request frame is written in one go by the client; this only bounds a stuck peer.
constexpr std::chrono::milliseconds kFrameTimeout{5000};
constexpr std::size_t kMaxClients = 16;

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::listen(const std::string& path,
                                                             Handler handler) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return Error{"cannot create " + parent.string() + ": " + ec.message()};
  }
  auto listener = control::listen_unix(path, 0600);
  if (!listener) return Error{"control socket " + path + ": " + listener.error().message};
  return std::unique_ptr<ControlServer>(
      new ControlServer(path, std::move(listener.value()), std::move(handler)));
}

ControlServer::~ControlServer() {
  clients_.clear();
  listener_.reset();
  ::unlink(path_.c_str());
}

void ControlServer::poll(std::chrono::milliseconds timeout) {
  std::vector<pollfd> fds;
  fds.push_back({listener_.get(), POLLIN, 0});
  for (const auto& c : clients_)
    fds.push_back({c.get(), POLLIN, 0});
  if (::poll(fds.data(), fds.size(), static_cast<int>(timeout.count())) <= 0) return;

  // Serve clients first (indices stay valid), then accept new ones.
  std::vector<bool> keep(clients_.size(), true);
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    const short ev = fds[i + 1].revents;
    if (ev == 0) continue;
    keep[i] = (ev & POLLIN) != 0 && serve_one(clients_[i].get());
  }
  std::vector<UniqueFd> kept;
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    if (keep[i]) kept.push_back(std::move(clients_[i]));
  }
  clients_ = std::move(kept);
  if (fds[0].revents & POLLIN) accept_pending();
}

void ControlServer::accept_pending() {
  for (;;) {
    auto client = control::accept_unix(listener_.get());
    if (!client) return;  // "would block": nothing more pending
    if (clients_.size() >= kMaxClients) {
      spdlog::warn("control socket: {} clients already connected, refusing one", kMaxClients);
      continue;
    }
    if (auto admitted = control::CallerPolicy{}.admit_peer(client->get()); !admitted) {
      spdlog::warn("control socket: refusing a client: {}", admitted.error().message);
      continue;
    }
    clients_.push_back(std::move(client.value()));
  }
}

bool ControlServer::serve_one(int fd) {
  auto request = control::read_frame_or_eof(fd, kFrameTimeout);
  if (!request) {
    spdlog::warn("control socket: closing a connection: {}", request.error().message);
    return false;
  }
  if (!request->has_value()) return false;  // clean close
  nlohmann::json reply;
  try {
    reply = handler_(**request);
  } catch (const std::exception& e) {  // a bug in a handler must not take the process down
    reply = control::error_reply(std::string("internal error: ") + e.what());
  }
  if (auto sent = control::write_frame(fd, reply, kFrameTimeout); !sent) {
    spdlog::warn("control socket: cannot reply: {}", sent.error().message);
    return false;
  }
  return true;
}

}  // namespace sluice::dataplane
