#include "announce/host_state.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sluice/atomic_file.hpp"

namespace sluice::cp {

std::string encode_host_drain(const HostDrain& drain) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(drain.since.time_since_epoch());
  const nlohmann::json j{{"drained", drain.drained},
                         {"since_unix_ms", drain.drained ? ms.count() : 0},
                         {"graceful_shutdown", drain.graceful_shutdown}};
  return j.dump() + "\n";
}

Result<HostDrain> decode_host_drain(const std::string& text, const std::string& path) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error{path + ": not a host state document (expected {\"drained\": ..., ...})"};
  }
  HostDrain drain;
  for (const auto& [key, value] : j.items()) {
    if (key == "drained" && value.is_boolean()) {
      drain.drained = value.get<bool>();
    } else if (key == "graceful_shutdown" && value.is_boolean()) {
      drain.graceful_shutdown = value.get<bool>();
    } else if (key == "since_unix_ms" && value.is_number_integer()) {
      drain.since = std::chrono::system_clock::time_point(
          std::chrono::milliseconds(value.get<std::int64_t>()));
    } else {
      return Error{path + ": " + key + ": unknown key or wrong type (allowed: drained (bool), " +
                   "since_unix_ms (integer), graceful_shutdown (bool))"};
    }
  }
  return drain;
}

Result<HostDrain> load_host_drain(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return HostDrain{};
    return Error{"cannot read " + path + ": " + std::strerror(errno)};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return decode_host_drain(text.str(), path);
}

Status save_host_drain(const std::string& path, const HostDrain& drain) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  const ReplaceResult r = replace_file_atomic(path, encode_host_drain(drain), 0644);
  if (!r.ok() && !r.replaced()) return Error{r.error};
  return ok_status();
}

}  // namespace sluice::cp
