#include "sluice/config/json.hpp"

#include <memory>
#include <utility>

#include "sluice/config/detail/decode.hpp"
#include "sluice/config/detail/encode.hpp"
#include "sluice/config/validate.hpp"

namespace sluice::config {
namespace {

using nlohmann::json;

// Adapter for detail::Decoder: JSON types are taken as they are (a string is never a number).
class JsonNode {
 public:
  explicit JsonNode(const json& j) : j_(&j) {}

  [[nodiscard]] detail::NodeKind kind() const {
    if (j_->is_null()) return detail::NodeKind::null;
    if (j_->is_array()) return detail::NodeKind::list;
    if (j_->is_object()) return detail::NodeKind::mapping;
    return detail::NodeKind::scalar;
  }
  [[nodiscard]] std::vector<JsonNode> elements() const {
    std::vector<JsonNode> out;
    out.reserve(j_->size());
    for (const json& e : *j_)
      out.emplace_back(e);
    return out;
  }
  [[nodiscard]] std::vector<std::pair<JsonNode, JsonNode>> entries() const {
    std::vector<std::pair<JsonNode, JsonNode>> out;
    for (const auto& [key, value] : j_->items())
      out.emplace_back(owning(json(key)), JsonNode(value));
    return out;
  }
  [[nodiscard]] std::optional<std::string> as_string() const {
    if (!j_->is_string()) return std::nullopt;
    return j_->get<std::string>();
  }
  [[nodiscard]] std::optional<std::uint64_t> as_uint() const {
    if (j_->is_number_unsigned()) return j_->get<std::uint64_t>();
    if (j_->is_number_integer() && j_->get<std::int64_t>() >= 0) {
      return static_cast<std::uint64_t>(j_->get<std::int64_t>());
    }
    return std::nullopt;
  }
  [[nodiscard]] std::optional<bool> as_bool() const {
    if (!j_->is_boolean()) return std::nullopt;
    return j_->get<bool>();
  }
  [[nodiscard]] std::string describe() const {
    if (j_->is_array()) return "an array";
    if (j_->is_object()) return "an object";
    std::string text = j_->dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    return text;
  }
  [[nodiscard]] std::string location() const { return ""; }

 private:
  // Object keys are not json values in nlohmann: a key node owns a copy of its key.
  static JsonNode owning(json value) {
    auto owned = std::make_shared<const json>(std::move(value));
    JsonNode node(*owned);
    node.owned_ = std::move(owned);
    return node;
  }

  const json* j_;
  std::shared_ptr<const json> owned_;
};

template <typename T, typename DecodeFn>
Result<T> decode_piece(const json& j, std::string_view path, DecodeFn&& decode) {
  detail::Decoder<JsonNode> d;
  T out{};
  if (!decode(d, JsonNode(j), std::string(path), out)) return d.error();
  return out;
}

}  // namespace

json to_json(const State& state) {
  return detail::encode_state<json>(state);
}
json to_json(const Vip& vip) {
  return detail::encode_vip<json>(vip);
}
json to_json(const Backend& backend) {
  return detail::encode_backend<json>(backend);
}
json to_json(const HealthCheck& check) {
  return detail::encode_health_check<json>(check);
}

Result<State> state_from_json(const json& j, Check check) {
  if (!j.is_object()) return Error{"state: expected an object, got " + JsonNode(j).describe()};
  detail::Decoder<JsonNode> d;
  State state;
  if (!detail::decode_state(d, JsonNode(j), state)) return d.error();
  if (check == Check::full) {
    if (auto valid = validate(state); !valid) return valid.error();
  }
  return state;
}

Result<Vip> vip_from_json(const json& j, std::string_view path) {
  return decode_piece<Vip>(j, path, [](auto& d, const JsonNode& n, const std::string& p, Vip& v) {
    return detail::decode_vip(d, n, p, v);
  });
}

Result<Backend> backend_from_json(const json& j, std::string_view path) {
  return decode_piece<Backend>(j, path,
                               [](auto& d, const JsonNode& n, const std::string& p, Backend& b) {
                                 return detail::decode_backend(d, n, p, b);
                               });
}

Result<HealthCheck> health_check_from_json(const json& j, std::string_view path) {
  return decode_piece<HealthCheck>(
      j, path, [](auto& d, const JsonNode& n, const std::string& p, HealthCheck& c) {
        return detail::decode_health_check(d, n, p, c);
      });
}

}  // namespace sluice::config
