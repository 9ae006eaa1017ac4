// libFuzzer target for the JSON wire form of the state (lib/sluice/config/json.cpp) and every
// control-protocol message (lib/sluice/control/messages.cpp): the bytes are read with
// parse_strict_json, as frames and API bodies are, then given to every decoder. Whatever one
// accepts is encoded, written out, parsed and decoded again, which must give the same value
// (decode -> encode -> decode is stable), and encoding that gives the same JSON.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.hpp"
#include "sluice/config/json.hpp"
#include "sluice/config/strict_json.hpp"
#include "sluice/config/validate.hpp"
#include "sluice/control/messages.hpp"

namespace sluice {
namespace {

using nlohmann::json;

// What a peer receives: the value written out (as write_frame does) and read back strictly.
json over_the_wire(const json& j) {
  Result<json> back =
      config::parse_strict_json(j.dump(-1, ' ', false, json::error_handler_t::replace), "wire");
  if (!back.ok()) FUZZ_CHECK_EQ_TEXT("", back.error().message);
  return std::move(back).value();
}

// decode(j) accepted `first`: encoding it and decoding again gives it back, twice over.
template <typename T, typename Encode, typename Decode>
void check_stable(const T& first, Encode&& encode, Decode&& decode) {
  const json encoded = encode(first);
  Result<T> second = decode(over_the_wire(encoded));
  if (!second.ok()) FUZZ_CHECK_EQ_TEXT("", second.error().message);
  FUZZ_CHECK(*second == first);
  FUZZ_CHECK(encode(*second) == encoded);
}

bool same_request(const control::Request& a, const control::Request& b) {
  if (a.index() != b.index()) return false;
  if (const auto* push = std::get_if<control::PushStateRequest>(&a)) {
    return push->state == std::get<control::PushStateRequest>(b).state;
  }
  if (const auto* explain = std::get_if<control::ExplainRequest>(&a)) {
    return explain->flow == std::get<control::ExplainRequest>(b).flow;
  }
  return true;
}

void check_state(const json& j) {
  const Result<config::State> full = config::state_from_json(j, config::Check::full);
  const Result<config::State> structure = config::state_from_json(j, config::Check::structure_only);
  if (!structure.ok()) FUZZ_CHECK(!full.ok());
  if (!full.ok()) return;
  FUZZ_CHECK(config::validate(*full).ok());
  FUZZ_CHECK(structure.ok() && *structure == *full);
  check_stable(
      *full, [](const config::State& s) { return config::to_json(s); },
      [](const json& e) { return config::state_from_json(e, config::Check::full); });
}

template <typename T, typename Decode>
void check_piece(const json& j, Decode&& decode) {
  const Result<T> piece = decode(j);
  if (!piece.ok()) return;
  check_stable(
      *piece, [](const T& v) { return config::to_json(v); }, decode);
}

void check_request(const json& j) {
  const Result<control::Request> request = control::parse_request(j);
  if (!request.ok()) return;
  const json encoded = control::to_json(*request);
  const Result<control::Request> again = control::parse_request(over_the_wire(encoded));
  if (!again.ok()) FUZZ_CHECK_EQ_TEXT("", again.error().message);
  FUZZ_CHECK(same_request(*request, *again));
  FUZZ_CHECK(control::to_json(*again) == encoded);
}

// A reply is read from {"ok": true, ...fields}; the decoders ignore "ok" and unknown keys.
template <typename T, typename Decode>
void check_reply(const json& j, Decode&& decode) {
  const Result<T> reply = decode(j);
  if (!reply.ok()) return;
  check_stable(
      *reply, [](const T& v) { return control::ok_reply(control::to_json(v)); }, decode);
}

void check(std::string_view text) {
  const Result<json> parsed = config::parse_strict_json(text, "input");
  if (!parsed.ok()) return;
  const json& j = *parsed;
  FUZZ_CHECK(over_the_wire(j) == j);

  check_state(j);
  check_piece<config::Vip>(j, [](const json& e) { return config::vip_from_json(e); });
  check_piece<config::Backend>(j, [](const json& e) { return config::backend_from_json(e); });
  check_piece<config::HealthCheck>(j,
                                   [](const json& e) { return config::health_check_from_json(e); });

  check_request(j);
  static_cast<void>(control::check_reply(j));
  check_reply<control::PushStateReply>(j, control::push_state_reply_from_json);
  check_reply<control::DataplaneStatus>(j, control::status_from_json);
  check_reply<control::Counters>(j, control::counters_from_json);
  check_reply<control::ExplainResult>(j, control::explain_result_from_json);
  const Result<control::ExplainFlow> flow = control::explain_flow_from_json(j);
  if (flow.ok()) {
    check_stable(
        *flow, [](const control::ExplainFlow& f) { return control::to_json(f); },
        control::explain_flow_from_json);
  }
}

}  // namespace
}  // namespace sluice

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
