#include "announce/liveness_watch.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <fstream>
#include <string>

#include "sluice/unique_fd.hpp"

namespace sluice::cp {
namespace {

// The pid of the process listening on the Unix socket at `path`, or 0.
pid_t peer_pid(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return 0;
  std::memcpy(address.sun_path, path.data(), path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() ||
      ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return 0;
  }
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return 0;
  return cred.pid;
}

}  // namespace

std::optional<char> process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return std::nullopt;
  // "PID (comm) S ...": comm may hold spaces and parentheses; the state follows the last ')'.
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return std::nullopt;
  return text[close + 2];
}

LivenessWatch::LivenessWatch(std::vector<config::DataplaneEndpoint> dataplanes,
                             LivenessOptions options)
    : options_(options) {
  const SystemTime now = std::chrono::system_clock::now();
  for (config::DataplaneEndpoint& e : dataplanes) {
    Watched w;
    w.live.name = e.name;
    w.live.unreachable_since = now;
    w.live.error = "not asked yet";
    w.endpoint = std::move(e);
    watched_.push_back(std::move(w));
  }
}

void LivenessWatch::sample(std::uint64_t generation) {
  for (Watched& w : watched_)
    sample_one(w, generation);
}

std::vector<DataplaneLiveness> LivenessWatch::state() const {
  std::vector<DataplaneLiveness> out;
  out.reserve(watched_.size());
  for (const Watched& w : watched_)
    out.push_back(w.live);
  return out;
}

void LivenessWatch::lost(Watched& w, const std::string& error) {
  w.client.reset();
  w.pid = 0;
  w.lcores.clear();
  w.unanswered_since.reset();
  if (w.live.reachable) w.live.unreachable_since = std::chrono::system_clock::now();
  w.live.reachable = false;
  w.live.synced = false;
  w.live.in_sync = false;
  w.live.stalled = false;
  w.live.error = error;
}

void LivenessWatch::sample_one(Watched& w, std::uint64_t generation) {
  const Steady::time_point now = Steady::now();
  if (!w.client) {
    Result<control::ControlClient> client =
        control::ControlClient::connect(w.endpoint.control_socket, options_.connect_timeout);
    if (!client.ok()) return lost(w, client.error().message);
    w.client.emplace(std::move(client).value());
    w.pid = peer_pid(w.endpoint.control_socket);
  }
  Result<nlohmann::json> reply = w.client->request(
      control::to_json(control::Request{control::GetCountersRequest{}}), options_.request_timeout);
  if (!reply.ok()) {
    // The client closed the connection. Was the process gone, frozen, or only busy?
    const std::string error = reply.error().message;
    const std::optional<char> state = w.pid != 0 ? process_state(w.pid) : std::nullopt;
    const bool busy = state && *state != 'T' && *state != 't' && *state != 'Z' &&
                      error.find("timed out") != std::string::npos;
    if (!busy) {
      return lost(w, state && (*state == 'T' || *state == 't')
                         ? "no answer in " + std::to_string(options_.request_timeout.count()) +
                               " ms: the process is stopped"
                         : error);
    }
    if (!w.unanswered_since) w.unanswered_since = now;
    if (now - *w.unanswered_since > options_.busy_grace) {
      return lost(w, "no answer for " +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            now - *w.unanswered_since)
                                            .count()) +
                         " ms (its control thread is busy or hung)");
    }
    // Busy: ask again on a new connection next round; the verdict so far stands.
    w.client.reset();
    return;
  }
  w.unanswered_since.reset();
  Result<control::Counters> counters = control::counters_from_json(*reply);
  if (!counters.ok()) return lost(w, "bad counters reply: " + counters.error().message);

  if (!w.live.reachable) w.live.error.clear();
  w.live.reachable = true;
  w.live.generation = counters->generation;
  const bool in_sync = generation != 0 && counters->generation == generation;
  if (in_sync) {
    w.live.synced = true;
  } else if (w.live.in_sync || !w.live.synced) {
    w.live.out_of_sync_since = std::chrono::system_clock::now();
  }
  w.live.in_sync = in_sync;

  bool stalled = false;
  for (const control::LcoreCounters& l : counters->per_lcore) {
    auto [it, inserted] = w.lcores.try_emplace(l.lcore, Lcore{l.rx_polls, now});
    Lcore& seen = it->second;
    if (!inserted && l.rx_polls != seen.rx_polls) {
      seen.rx_polls = l.rx_polls;
      seen.moved = now;
    }
    if (!stalled && now - seen.moved > options_.stall_after) {
      stalled = true;
      if (!w.live.stalled) {
        w.live.stalled_since =
            std::chrono::system_clock::now() -
            std::chrono::duration_cast<std::chrono::system_clock::duration>(now - seen.moved);
      }
      w.live.stalled_lcore = l.lcore;
    }
  }
  w.live.stalled = stalled;
}

}  // namespace sluice::cp
