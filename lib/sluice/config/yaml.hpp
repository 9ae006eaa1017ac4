// The YAML configuration file (docs/config.md): load with file:line:column and field-path
// errors, and write back (the control plane persists runtime changes with it).
#pragma once

#include <cstddef>
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

// The largest config or state file (or text) the loaders read: twice the YAML of the largest
// state a dataplane takes (4096 VIPs and 16384 backends, each with its own health check:
// about 7.5 MB). Loading takes about 13 bytes of memory per byte of YAML.
inline constexpr std::size_t kMaxYamlBytes = 16u << 20;

// Errors read "FILE:LINE:COLUMN: field.path: what is wrong", e.g.
//   sluice.yaml:14:9: vips[1].backends[0].address: "198.18.1.300" is not an IPv4 or IPv6 address
// Validation problems are reported together, one per line, each at its field's line.
// YAML anchors and aliases (&name, *name) are refused: an alias repeats a node without
// repeating its text, so a few KB could expand to gigabytes. Text above kMaxYamlBytes is
// refused before it is parsed. Never throws: whatever yaml-cpp throws (std::bad_alloc
// included) comes back as an Error naming the file.
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
