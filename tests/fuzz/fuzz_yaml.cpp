// libFuzzer target for the YAML loader (lib/sluice/config/yaml.cpp) with validation: any text,
// as `sluicectl config validate`, the daemons' --config and /v1/config/validate read it.
// Beyond "no crash, no sanitizer report, no exception", it checks that
//   - a loaded state is valid, and loads the same without validation;
//   - what to_yaml() writes loads back to the same state (the state file's round trip), and so
//     does its JSON wire form;
//   - a refusal is one message that names the source.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "sluice/config/json.hpp"
#include "sluice/config/validate.hpp"
#include "sluice/config/yaml.hpp"

namespace sluice::config {
namespace {

void check(std::string_view text) {
  const Result<State> full = load_yaml_string(text, "fuzz.yaml", Check::full);
  const Result<State> structure = load_yaml_string(text, "fuzz.yaml", Check::structure_only);
  if (!full.ok()) {
    FUZZ_CHECK(full.error().message.rfind("fuzz.yaml:", 0) == 0);
    return;
  }
  FUZZ_CHECK(validate(*full).ok());
  FUZZ_CHECK(structure.ok() && *structure == *full);

  const std::string written = to_yaml(*full);
  const Result<State> reread = load_yaml_string(written, "written.yaml", Check::full);
  if (!reread.ok()) FUZZ_CHECK_EQ_TEXT("", reread.error().message);
  FUZZ_CHECK(*reread == *full);
  FUZZ_CHECK(to_yaml(*reread) == written);

  const Result<State> from_json = state_from_json(to_json(*full), Check::full);
  FUZZ_CHECK(from_json.ok() && *from_json == *full);
}

}  // namespace
}  // namespace sluice::config

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::config::check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
