#include "sluicectl/context.hpp"

namespace sluice::ctl {

std::optional<nlohmann::json> Context::call(const ApiRequest& request) {
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
  Result<ApiReply> reply = call_api(socket, request, timeout);
  if (!reply.ok()) {
    std::cerr << "sluicectl: cannot reach sluice-controlplane: " << reply.error().message << "\n"
              << "  is the daemon running (systemctl status sluice-controlplane)? is --socket "
                 "right (default "
              << kDefaultSocket << ")? are you root or in the API group?\n";
    exit_code = kExitUnreachable;
    return std::nullopt;
  }
  if (reply->status >= 200 && reply->status < 300) return reply->body;

  std::string message = reply->raw_body;
  if (reply->body.is_object() && reply->body.contains("error") &&
      reply->body["error"].is_string()) {
    message = reply->body["error"].get<std::string>();
  }
  std::cerr << "sluicectl: " << message << "\n";
  if (reply->status == 403) {
    std::cerr << "  run it as root, as the daemon's user, or as a member of the API group "
                 "(sluice-controlplane --api-group)\n";
  }
  switch (reply->status) {
    case 403:
      exit_code = kExitForbidden;
      break;
    case 404:
      exit_code = kExitNotFound;
      break;
    case 409:
      exit_code = kExitConflict;
      break;
    case 412:
      exit_code = kExitChangedMeanwhile;
      break;
    case 503:
      exit_code = kExitUnreachable;
      break;
    default:
      exit_code = reply->status >= 500 ? kExitDaemonError : kExitRefused;
  }
  return std::nullopt;
}

void Context::print_json(const nlohmann::json& body) {
  std::cout << body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace sluice::ctl
