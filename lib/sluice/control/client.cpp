#include "sluice/control/client.hpp"

#include "sluice/control/frame.hpp"
#include "sluice/control/unix_socket.hpp"

namespace sluice::control {

Result<ControlClient> ControlClient::connect(const std::string& socket_path,
                                             std::chrono::milliseconds timeout) {
  auto fd = connect_unix(socket_path, timeout);
  if (!fd) return fd.error();
  return ControlClient(std::move(fd).value());
}

Result<nlohmann::json> ControlClient::request(const nlohmann::json& request,
                                              std::chrono::milliseconds timeout) {
  if (!fd_) return Error{"not connected (an earlier request failed; connect again)"};
  // The timeout applies to sending the request and, again, to receiving the whole reply.
  if (auto sent = write_frame(fd_.get(), request, timeout); !sent) {
    fd_.reset();
    return sent.error();
  }
  auto reply = read_frame(fd_.get(), timeout);
  if (!reply) {
    fd_.reset();
    return reply.error();
  }
  return check_reply(*reply);
}

Result<PushStateReply> ControlClient::push_state(const config::State& state,
                                                 std::chrono::milliseconds timeout) {
  auto reply = request(to_json(Request{PushStateRequest{state}}), timeout);
  if (!reply) return reply.error();
  return push_state_reply_from_json(*reply);
}

Result<DataplaneStatus> ControlClient::get_status() {
  auto reply = request(to_json(Request{GetStatusRequest{}}));
  if (!reply) return reply.error();
  return status_from_json(*reply);
}

Result<Counters> ControlClient::get_counters() {
  auto reply = request(to_json(Request{GetCountersRequest{}}));
  if (!reply) return reply.error();
  return counters_from_json(*reply);
}

Result<ExplainResult> ControlClient::explain(const ExplainFlow& flow) {
  auto reply = request(to_json(Request{ExplainRequest{flow}}));
  if (!reply) return reply.error();
  return explain_result_from_json(*reply);
}

}  // namespace sluice::control
