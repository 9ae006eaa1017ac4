#include "sluice/config/strict_json.hpp"

#include <new>
#include <string>
#include <utility>
#include <vector>

namespace sluice::config {
namespace {

using nlohmann::json;

// Builds the value from nlohmann's SAX events, stopping at the first key that its object
// already holds or at the first container beyond the depth limit.
class StrictBuilder final : public nlohmann::json_sax<json> {
 public:
  enum class Problem : std::uint8_t { none, syntax, duplicate_key, too_deep };

  json root;
  Problem problem = Problem::none;
  std::string duplicate_path;  // "vips[0].port"

  bool null() override { return add(json(nullptr)); }
  bool boolean(bool v) override { return add(json(v)); }
  bool number_integer(number_integer_t v) override { return add(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return add(json(v)); }
  bool string(string_t& v) override { return add(json(std::move(v))); }
  bool binary(binary_t& v) override { return add(json::binary(std::move(v))); }

  bool start_object(std::size_t) override { return open(json::object()); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool key(string_t& k) override {
    json& object = *open_.back().value;
    if (object.contains(k)) {
      problem = Problem::duplicate_key;
      duplicate_path = path_to_here();
      if (!duplicate_path.empty()) duplicate_path += '.';
      duplicate_path += k;
      return false;
    }
    open_.back().key = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    problem = Problem::syntax;
    return false;
  }

 private:
  struct Open {
    json* value;
    std::string key;  // objects: the key whose value comes next
  };

  // Where the value being added goes: the root, the end of an array or the pending key.
  json* slot() {
    if (open_.empty()) return &root;
    Open& parent = open_.back();
    if (parent.value->is_array()) {
      parent.value->push_back(nullptr);
      return &parent.value->back();
    }
    return &(*parent.value)[parent.key];
  }

  bool add(json v) {
    *slot() = std::move(v);
    return true;
  }

  bool open(json container) {
    if (open_.size() >= kMaxJsonDepth) {
      problem = Problem::too_deep;
      return false;
    }
    json* at = slot();
    *at = std::move(container);
    open_.push_back(Open{at, {}});
    return true;
  }

  bool close() {
    open_.pop_back();
    return true;
  }

  // "vips[0]" for the innermost open container.
  [[nodiscard]] std::string path_to_here() const {
    std::string path;
    for (std::size_t i = 0; i + 1 < open_.size(); ++i) {
      const Open& parent = open_[i];
      if (parent.value->is_array()) {
        path += '[' + std::to_string(parent.value->size() - 1) + ']';
      } else {
        if (!path.empty()) path += '.';
        path += parent.key;
      }
    }
    return path;
  }

  std::vector<Open> open_;
};

}  // namespace

Result<json> parse_strict_json(std::string_view text, std::string_view what) {
  const std::string subject(what);
  try {
    StrictBuilder builder;
    const bool parsed = json::sax_parse(text, &builder, json::input_format_t::json,
                                        /*strict=*/true, /*ignore_comments=*/false);
    switch (builder.problem) {
      case StrictBuilder::Problem::none:
        break;
      case StrictBuilder::Problem::syntax:
        return Error{subject + " is not valid JSON"};
      case StrictBuilder::Problem::duplicate_key:
        return Error{subject + ": " + builder.duplicate_path + ": key given twice"};
      case StrictBuilder::Problem::too_deep:
        return Error{subject + " nests JSON deeper than " + std::to_string(kMaxJsonDepth) +
                     " levels"};
    }
    if (!parsed) return Error{subject + " is not valid JSON"};
    return std::move(builder.root);
  } catch (const std::bad_alloc&) {
    return Error{subject + ": out of memory while parsing " + std::to_string(text.size()) +
                 " bytes of JSON"};
  } catch (const std::exception& e) {  // nlohmann's own, should a future version throw here
    return Error{subject + " is not valid JSON (" + e.what() + ")"};
  }
}

}  // namespace sluice::config
