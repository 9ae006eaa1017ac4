#include "state/shared_document.hpp"

#include <nlohmann/json.hpp>

#include "sluice/config/json.hpp"
#include "sluice/config/strict_json.hpp"

namespace sluice::cp {

using nlohmann::json;

std::string encode_shared_state(const std::vector<config::Vip>& vips,
                                const std::string& written_by) {
  json list = json::array();
  for (const config::Vip& vip : vips)
    list.push_back(config::to_json(vip));
  const json document{
      {"format", kSharedStateFormat}, {"written_by", written_by}, {"vips", std::move(list)}};
  return document.dump();
}

Result<std::vector<config::Vip>> decode_shared_state(std::string_view text) {
  Result<json> parsed = config::parse_strict_json(text, "the shared state");
  if (!parsed.ok()) return parsed.error();
  const json& document = parsed.value();
  if (!document.is_object()) return Error{"the shared state is not a JSON object"};
  for (const auto& [key, value] : document.items()) {
    if (key != "format" && key != "written_by" && key != "vips") {
      return Error{key + ": unknown key (expected format, written_by, vips)"};
    }
  }
  const auto format = document.find("format");
  if (format == document.end() || !format->is_number_integer() ||
      format->get<int>() != kSharedStateFormat) {
    return Error{"format: expected " + std::to_string(kSharedStateFormat) +
                 (format == document.end() ? ", missing" : ", got " + format->dump())};
  }
  const auto vips = document.find("vips");
  if (vips == document.end()) return Error{"vips: missing"};
  Result<config::State> state =
      config::state_from_json(json{{"vips", *vips}}, config::Check::structure_only);
  if (!state.ok()) return state.error();
  return std::move(state.value().vips);
}

}  // namespace sluice::cp
