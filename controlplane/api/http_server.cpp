#include "api/http_server.hpp"

#include <utility>

#include <nlohmann/json.hpp>

namespace sluice::cp {

HttpResponse json_error_response(http::status status, const std::string& message) {
  HttpResponse response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.set(http::field::server, "sluice-controlplane");
  response.body() = nlohmann::json{{"error", message}}.dump(
                        2, ' ', false, nlohmann::json::error_handler_t::replace) +
                    "\n";
  return response;
}

namespace detail {

void HttpServerCore::connection_closed(ConnectionTable::Id id) {
  table.remove(id);
  std::lock_guard lock(mutex_);
  if (on_room_) on_room_();
}

void HttpServerCore::set_on_room(std::function<void()> on_room) {
  std::lock_guard lock(mutex_);
  on_room_ = std::move(on_room);
}

void HttpServerCore::note_refused(const std::string& why) {
  ++refused_callers;
  if (const std::uint64_t n = refused_log_.note()) {
    spdlog::warn("{}: refused a connection: {} ({} refused since the last such message)", name, why,
                 n);
  }
}

HttpServerReport HttpServerCore::report() const {
  HttpServerReport r;
  r.name = name;
  r.open = table.open();
  r.limit = table.limit();
  r.accepted = accepted.load();
  r.accept_errors = accept_errors.load();
  r.refused_callers = refused_callers.load();
  r.idle_timeouts = idle_timeouts.load();
  r.request_timeouts = request_timeouts.load();
  r.write_timeouts = write_timeouts.load();
  r.closed_for_room = closed_for_room.load();
  r.bad_requests = bad_requests.load();
  return r;
}

}  // namespace detail
}  // namespace sluice::cp
