// The YAML configuration file (docs/config.md): load with file:line:column and field-path
// errors, and write back (the control plane persists runtime changes with it).
#pragma once

#include <string>
#include <string_view>

#include "sluice/atomic_file.hpp"
#include "sluice/config/model.hpp"
#include "sluice/result.hpp"

namespace sluice::config {

enum class Check : std::uint8_t {
  full,            // decode, then validate() (the default everywhere)
  structure_only,  // decode only: types, unknown keys, address syntax
};

// Errors read "FILE:LINE:COLUMN: field.path: what is wrong", e.g.
//   sluice.yaml:14:9: vips[1].backends[0].address: "198.18.1.300" is not an IPv4 or IPv6 address
// Validation problems are reported together, one per line, each at its field's line.
[[nodiscard]] Result<State> load_yaml_file(const std::string& path, Check check = Check::full);
[[nodiscard]] Result<State> load_yaml_string(std::string_view text,
                                             std::string_view source_name = "<string>",
                                             Check check = Check::full);

// A YAML document that load_yaml_string() turns back into an equal State. Every field is
// written, defaults included, so the file documents what is in force.
[[nodiscard]] std::string to_yaml(const State& state);

// Writes to_yaml(state) to PATH with replace_file_atomic() (sluice/atomic_file.hpp), mode 0640:
// after a crash PATH holds either the old or the new state, never a mix, and after a failure
// at any step (result.replaced() aside) the old one, with no temporary file left.
[[nodiscard]] ReplaceResult save_yaml_file_atomic(
    const State& state, const std::string& path,
    const FileSystemCalls& calls = system_file_calls());

}  // namespace sluice::config
