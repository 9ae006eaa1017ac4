// JSON text from outside the process (a control-protocol frame, a control-plane API body) read
// as strictly as the YAML file: a key given twice in one object is refused, not "last one
// wins", and so is nesting deeper than kMaxJsonDepth (nothing in the protocol nests beyond 6
// levels; the limit keeps every recursive walk of the value, dump() included, shallow).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "sluice/result.hpp"

namespace sluice::config {

inline constexpr std::size_t kMaxJsonDepth = 64;

// `what` names the text in errors ("frame", "body"):
//   "frame is not valid JSON"
//   "frame nests JSON deeper than 64 levels"
//   "frame: state.vips[0].port: key given twice"
// Never throws (an allocation failure is an Error too).
[[nodiscard]] Result<nlohmann::json> parse_strict_json(std::string_view text,
                                                       std::string_view what);

}  // namespace sluice::config
