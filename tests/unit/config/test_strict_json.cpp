// parse_strict_json: JSON from outside is read as strictly as the YAML file.
#include "sluice/config/strict_json.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sluice/config/json.hpp"
#include "state_fixture.hpp"

namespace sluice::config {
namespace {

using nlohmann::json;

std::string strict_error(std::string_view text) {
  auto r = parse_strict_json(text, "body");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? std::string() : r.error().message;
}

TEST(StrictJson, ParsesWhatNlohmannParses) {
  const std::string text = to_json(testing::valid_state()).dump();
  auto r = parse_strict_json(text, "body");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, json::parse(text));
  EXPECT_EQ(*parse_strict_json(R"([1, -2, 3.5, "x", true, null, {}, []])", "body"),
            json::parse(R"([1, -2, 3.5, "x", true, null, {}, []])"));
  EXPECT_EQ(*parse_strict_json("  7 ", "body"), json(7));
  // The same key in two different objects is fine.
  EXPECT_TRUE(parse_strict_json(R"({"a": {"k": 1}, "b": {"k": 2}, "k": 3})", "body").ok());
}

TEST(StrictJson, KeyGivenTwiceIsRefusedWithItsPath) {
  EXPECT_EQ(strict_error(R"({"weight": 1, "weight": 70000})"), "body: weight: key given twice");
  EXPECT_EQ(strict_error(R"({"state": {"vips": [{"port": 80}, {"port": 80, "port": 81}]}})"),
            "body: state.vips[1].port: key given twice");
  EXPECT_EQ(strict_error(R"([[], [{"a": 1, "b": 2, "a": 3}]])"), "body: [1][0].a: key given twice");
}

TEST(StrictJson, DeepNestingIsRefused) {
  const std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(parse_strict_json(ok, "body").ok());
  EXPECT_EQ(strict_error(std::string(65, '[') + std::string(65, ']')),
            "body nests JSON deeper than 64 levels");
  // A 1 MiB body of brackets is refused without building (or later dumping) the value.
  EXPECT_EQ(strict_error(std::string(1 << 20, '[')), "body nests JSON deeper than 64 levels");
  // Brackets in strings are text.
  EXPECT_TRUE(parse_strict_json("{\"s\": \"" + std::string(100, '[') + "\"}", "body").ok());
}

TEST(StrictJson, MalformedTextIsRefused) {
  EXPECT_EQ(strict_error(""), "body is not valid JSON");
  EXPECT_EQ(strict_error("{\"a\":"), "body is not valid JSON");
  EXPECT_EQ(strict_error("{\"a\": 1} {}"), "body is not valid JSON");  // one value only
  EXPECT_EQ(strict_error("{\"a\": \"\xff\"}"), "body is not valid JSON");
  EXPECT_EQ(strict_error("// comment\n{}"), "body is not valid JSON");
}

}  // namespace
}  // namespace sluice::config
