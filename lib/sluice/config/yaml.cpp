#include "sluice/config/yaml.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <unordered_map>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "sluice/config/detail/decode.hpp"
#include "sluice/config/detail/encode.hpp"
#include "sluice/config/validate.hpp"

namespace sluice::config {
namespace {

std::string format_location(std::string_view source, const YAML::Mark& mark) {
  return std::string(source) + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1) + ": ";
}

// Adapter for detail::Decoder. YAML scalars are text: a plain (unquoted) scalar may be read
// as an integer or a boolean, a quoted one only as a string, so `port: "80"` is refused the
// same way JSON refuses "80".
class YamlNode {
 public:
  YamlNode(YAML::Node node, std::shared_ptr<const std::string> source, YAML::Mark parent_mark)
      : node_(std::move(node)), source_(std::move(source)) {
    // An empty value ("weight:") has no mark of its own: point at its parent.
    mark_ = node_.Mark().is_null() ? parent_mark : node_.Mark();
  }

  [[nodiscard]] detail::NodeKind kind() const {
    switch (node_.Type()) {
      case YAML::NodeType::Scalar:
        return detail::NodeKind::scalar;
      case YAML::NodeType::Sequence:
        return detail::NodeKind::list;
      case YAML::NodeType::Map:
        return detail::NodeKind::mapping;
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        break;
    }
    return detail::NodeKind::null;
  }
  // Iterators, not node_[i]: yaml-cpp's indexing merges node memory on every call.
  [[nodiscard]] std::vector<YamlNode> elements() const {
    std::vector<YamlNode> out;
    out.reserve(node_.size());
    for (auto it = node_.begin(); it != node_.end(); ++it)
      out.emplace_back(*it, source_, mark_);
    return out;
  }
  [[nodiscard]] std::vector<std::pair<YamlNode, YamlNode>> entries() const {
    std::vector<std::pair<YamlNode, YamlNode>> out;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      YamlNode key(it->first, source_, mark_);
      // yaml-cpp marks an empty value ("port:") at the next token; its key is the better spot.
      const bool empty = it->second.IsNull();
      YamlNode value(it->second, source_, mark_);
      if (empty) value.mark_ = key.mark_;
      out.emplace_back(std::move(key), std::move(value));
    }
    return out;
  }
  [[nodiscard]] std::optional<std::string> as_string() const {
    if (!node_.IsScalar()) return std::nullopt;
    return node_.Scalar();
  }
  [[nodiscard]] std::optional<std::uint64_t> as_uint() const {
    if (!is_plain_scalar()) return std::nullopt;
    const std::string& text = node_.Scalar();
    std::uint64_t v = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ptr != end) return std::nullopt;
    if (ec != std::errc{}) return std::nullopt;  // includes values beyond 64 bits
    return v;
  }
  [[nodiscard]] std::optional<bool> as_bool() const {
    if (!is_plain_scalar()) return std::nullopt;
    const std::string& t = node_.Scalar();
    if (t == "true" || t == "True" || t == "TRUE") return true;
    if (t == "false" || t == "False" || t == "FALSE") return false;
    return std::nullopt;
  }
  [[nodiscard]] std::string describe() const {
    switch (kind()) {
      case detail::NodeKind::null:
        return "nothing (null)";
      case detail::NodeKind::list:
        return "a list";
      case detail::NodeKind::mapping:
        return "a mapping";
      case detail::NodeKind::scalar:
        break;
    }
    std::string text = node_.Scalar();
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    return (is_plain_scalar() ? "" : "the quoted string ") + std::string("\"") + text + "\"";
  }
  [[nodiscard]] std::string location() const { return format_location(*source_, mark_); }
  [[nodiscard]] const YAML::Mark& mark() const { return mark_; }

 private:
  // yaml-cpp tags quoted scalars "!" and plain ones "?"; an explicit !!str is a string too.
  [[nodiscard]] bool is_plain_scalar() const {
    return node_.IsScalar() && node_.Tag() != "!" && node_.Tag() != "tag:yaml.org,2002:str";
  }

  YAML::Node node_;
  std::shared_ptr<const std::string> source_;
  YAML::Mark mark_;
};

// "vips[1].backends[0]" -> "vips[1].backends" -> "vips[1]" -> "vips" -> ""
std::string parent_path(const std::string& path) {
  const auto cut = path.find_last_of(".[");
  return cut == std::string::npos ? std::string() : path.substr(0, cut);
}

// ---- Writing --------------------------------------------------------------------------------

using Ordered = nlohmann::ordered_json;

// A word every YAML reader takes as a string: written without quotes (tcp, maglev).
bool is_plain_word(const std::string& s) {
  static const char* const kReserved[] = {"true", "false", "yes", "no",  "on", "off",
                                          "null", "y",     "n",   "nan", "inf"};
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (const char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  std::string lower = s;
  for (char& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::none_of(std::begin(kReserved), std::end(kReserved),
                      [&](const char* r) { return lower == r; });
}

// Other strings are double-quoted with JSON escapes, which YAML reads the same way; so
// "80", "true" or "02:00:00:00:00:fe" can never turn into numbers on the way back.
std::string scalar_text(const Ordered& j) {
  if (j.is_string() && is_plain_word(j.get_ref<const std::string&>())) {
    return j.get<std::string>();
  }
  return j.dump(-1, ' ', false, Ordered::error_handler_t::replace);
}

void write_value(std::ostringstream& out, const Ordered& j, int indent);

void write_entries(std::ostringstream& out, const Ordered& object, int indent, bool first_inline) {
  bool first = true;
  for (const auto& [key, value] : object.items()) {
    if (!(first && first_inline)) out << std::string(static_cast<std::size_t>(indent), ' ');
    first = false;
    out << key << ':';
    write_value(out, value, indent);
  }
}

// Writes what follows "key:" (or "- "), ending with a newline.
void write_value(std::ostringstream& out, const Ordered& j, int indent) {
  if (j.is_object() && !j.empty()) {
    out << '\n';
    write_entries(out, j, indent + 2, false);
  } else if (j.is_array() && !j.empty()) {
    out << '\n';
    for (const Ordered& element : j) {
      out << std::string(static_cast<std::size_t>(indent + 2), ' ') << "- ";
      if (element.is_object() && !element.empty()) {
        write_entries(out, element, indent + 4, true);
      } else {
        out << scalar_text(element) << '\n';
      }
    }
  } else {
    out << ' ' << scalar_text(j) << '\n';
  }
}

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

Result<State> load_yaml_string(std::string_view text, std::string_view source_name, Check check) {
  auto source = std::make_shared<const std::string>(source_name);
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error{format_location(*source, e.mark) + "YAML syntax error: " + e.msg};
  }
  if (documents.size() > 1) {
    return Error{std::string(source_name) + ": holds " + std::to_string(documents.size()) +
                 " YAML documents; a config file is one document"};
  }
  const YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
  const YamlNode root_node(root, source, YAML::Mark());

  std::unordered_map<std::string, YAML::Mark> marks;  // field path -> where it was written
  detail::Decoder<YamlNode> d;
  if (check == Check::full) {
    d.on_node = [&](const std::string& path, const YamlNode& n) { marks[path] = n.mark(); };
  }
  State state;
  try {
    if (root_node.kind() != detail::NodeKind::null &&
        root_node.kind() != detail::NodeKind::mapping) {
      return Error{root_node.location() + "expected a mapping of keys at the top, got " +
                   root_node.describe()};
    }
    if (!detail::decode_state(d, root_node, state)) return d.error();
  } catch (const YAML::Exception& e) {  // yaml-cpp reports some problems only when walked
    return Error{format_location(*source, e.mark) + e.msg};
  }
  if (check == Check::structure_only) return state;

  const auto errors = find_errors(state);
  if (errors.empty()) return state;
  return Error{format_errors(errors, [&](const std::string& path) {
    for (std::string p = path; !p.empty(); p = parent_path(p)) {
      if (const auto it = marks.find(p); it != marks.end()) {
        return format_location(*source, it->second);
      }
    }
    return *source + ": ";
  })};
}

Result<State> load_yaml_file(const std::string& path, Check check) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read " + path + ": " + errno_text()};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error{"cannot read " + path + ": " + errno_text()};
  return load_yaml_string(text.str(), path, check);
}

std::string to_yaml(const State& state) {
  std::ostringstream out;
  out << "# Sluice state (docs/config.md). Written by sluice; every field is shown.\n";
  write_entries(out, detail::encode_state<Ordered>(state), 0, false);
  return out.str();
}

ReplaceResult save_yaml_file_atomic(const State& state, const std::string& path,
                                    const FileSystemCalls& calls) {
  return replace_file_atomic(path, to_yaml(state), 0640, calls);
}

}  // namespace sluice::config
