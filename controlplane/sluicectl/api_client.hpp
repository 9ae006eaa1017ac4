// sluicectl's only way to the daemon: one HTTP/1.1 request over the API's Unix socket, with
// an overall timeout. Also used by the integration tests.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "sluice/result.hpp"

namespace sluice::ctl {

struct ApiReply {
  unsigned status = 0;  // HTTP status
  nlohmann::json body;  // parsed JSON (null when the body was not JSON)
  std::string raw_body;
};

struct ApiRequest {
  std::string method = "GET";  // GET, POST, PUT, DELETE
  std::string target;          // "/v1/backends?vip=..."
  std::string body;            // JSON text (or YAML for /v1/config/validate)
  std::string content_type = "application/json";
};

// A transport failure (no socket, refused, timeout) is an Error; any HTTP answer is a reply. A
// socket file whose permissions refuse the caller (EACCES) reads as a 403, as the daemon's own
// refusal (SO_PEERCRED) does.
[[nodiscard]] Result<ApiReply> call_api(const std::string& socket_path, const ApiRequest& request,
                                        std::chrono::milliseconds timeout);

// "/v1/backends" + {{"vip", "198.18.0.10:80/tcp"}} -> "/v1/backends?vip=198.18.0.10%3A80%2Ftcp"
[[nodiscard]] std::string with_query(
    std::string path, std::initializer_list<std::pair<std::string, std::string>> params);

}  // namespace sluice::ctl
