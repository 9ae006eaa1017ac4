#include "sluice/config/yaml.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>
#include <unordered_map>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
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

// ---- Reading -------------------------------------------------------------------------------

// One node of a document, built from yaml-cpp's parser events. yaml-cpp's own YAML::Node is
// not used: it takes about 47 bytes per byte of text and shares the node an alias names, so
// a walk over a few KB of aliases can visit millions of nodes. This tree is built once, owns
// every node, and never holds an alias (they are refused while building).
struct YamlTree {
  detail::NodeKind kind = detail::NodeKind::null;
  bool plain = false;  // a scalar written without quotes and without an explicit !!str
  YAML::Mark mark = YAML::Mark::null_mark();
  std::string scalar;
  std::vector<YamlTree> children;  // list elements, or mapping keys and values alternating
};

// Thrown by TreeBuilder to stop the parse at the first anchor or alias.
struct AnchorFound {
  YAML::Mark mark;
  std::string name;  // "&hc"; empty when yaml-cpp does not tell
};

// Thrown by TreeBuilder where yaml-cpp stopped making progress.
struct StuckAt {
  YAML::Mark mark;
};

class TreeBuilder final : public YAML::EventHandler {
 public:
  std::vector<YamlTree> documents;

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 reports a token it cannot place (a ',' outside a flow collection) as an
    // empty document without consuming it, then again and again (jbeder/yaml-cpp#1040): a
    // document that starts where the previous one did is that token.
    if (!documents.empty() && mark.pos == last_start_.pos) throw StuckAt{mark};
    last_start_ = mark;
    documents.emplace_back();
    open_.clear();
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { add(mark, anchor); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { throw AnchorFound{mark, ""}; }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlTree& node = add(mark, anchor);
    node.kind = detail::NodeKind::scalar;
    // yaml-cpp tags quoted scalars "!" and plain ones "?"; an explicit !!str is a string too.
    node.plain = tag != "!" && tag != "tag:yaml.org,2002:str";
    node.scalar = value;
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor, detail::NodeKind::list);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor, detail::NodeKind::mapping);
  }
  void OnMapEnd() override { close(); }
  // yaml-cpp reports an anchor's name just before its node.
  void OnAnchor(const YAML::Mark& mark, const std::string& name) override {
    throw AnchorFound{mark, "&" + name};
  }

 private:
  YamlTree& add(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) throw AnchorFound{mark, ""};
    YamlTree* node = &documents.back();  // the document's root
    if (!open_.empty()) node = &open_.back()->children.emplace_back();
    node->mark = mark;
    return *node;
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor, detail::NodeKind kind) {
    YamlTree& node = add(mark, anchor);
    node.kind = kind;
    // Only the innermost open node grows, so the pointers to its ancestors stay valid.
    open_.push_back(&node);
  }
  void close() {
    if (!open_.empty()) open_.pop_back();
  }

  std::vector<YamlTree*> open_;
  YAML::Mark last_start_ = YAML::Mark::null_mark();
};

// Adapter for detail::Decoder. YAML scalars are text: a plain (unquoted) scalar may be read
// as an integer or a boolean, a quoted one only as a string, so `port: "80"` is refused the
// same way JSON refuses "80".
class YamlNode {
 public:
  YamlNode(const YamlTree& node, std::shared_ptr<const std::string> source, YAML::Mark parent_mark)
      : node_(&node), source_(std::move(source)) {
    // The root of an empty text has no mark of its own: point at its parent.
    mark_ = node_->mark.is_null() ? parent_mark : node_->mark;
  }

  [[nodiscard]] detail::NodeKind kind() const { return node_->kind; }
  [[nodiscard]] std::vector<YamlNode> elements() const {
    std::vector<YamlNode> out;
    out.reserve(node_->children.size());
    for (const YamlTree& child : node_->children)
      out.emplace_back(child, source_, mark_);
    return out;
  }
  [[nodiscard]] std::vector<std::pair<YamlNode, YamlNode>> entries() const {
    std::vector<std::pair<YamlNode, YamlNode>> out;
    out.reserve(node_->children.size() / 2);
    for (std::size_t i = 0; i + 1 < node_->children.size(); i += 2) {
      YamlNode key(node_->children[i], source_, mark_);
      // yaml-cpp marks an empty value ("port:") at the next token; its key is the better spot.
      YamlNode value(node_->children[i + 1], source_, mark_);
      if (value.kind() == detail::NodeKind::null) value.mark_ = key.mark_;
      out.emplace_back(std::move(key), std::move(value));
    }
    return out;
  }
  [[nodiscard]] std::optional<std::string> as_string() const {
    if (kind() != detail::NodeKind::scalar) return std::nullopt;
    return node_->scalar;
  }
  [[nodiscard]] std::optional<std::uint64_t> as_uint() const {
    if (!is_plain_scalar()) return std::nullopt;
    const std::string& text = node_->scalar;
    std::uint64_t v = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ptr != end) return std::nullopt;
    if (ec != std::errc{}) return std::nullopt;  // includes values beyond 64 bits
    return v;
  }
  [[nodiscard]] std::optional<bool> as_bool() const {
    if (!is_plain_scalar()) return std::nullopt;
    const std::string& t = node_->scalar;
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
    std::string text = node_->scalar;
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    return (is_plain_scalar() ? "" : "the quoted string ") + std::string("\"") + text + "\"";
  }
  [[nodiscard]] std::string location() const { return format_location(*source_, mark_); }
  [[nodiscard]] const YAML::Mark& mark() const { return mark_; }

 private:
  [[nodiscard]] bool is_plain_scalar() const {
    return kind() == detail::NodeKind::scalar && node_->plain;
  }

  const YamlTree* node_;
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

std::string size_limit_text() {
  return std::to_string(kMaxYamlBytes) + " bytes (" + std::to_string(kMaxYamlBytes >> 20) + " MiB)";
}

Result<State> load_yaml_text(std::string_view text, std::string_view source_name, Check check) {
  auto source = std::make_shared<const std::string>(source_name);
  if (text.size() > kMaxYamlBytes) {
    return Error{*source + ": " + std::to_string(text.size()) + " bytes is above the limit of " +
                 size_limit_text() + " for a config file"};
  }
  TreeBuilder tree;
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(tree)) {
    }
  } catch (const AnchorFound& found) {
    const std::string name = found.name.empty() ? "" : " (" + found.name + ")";
    return Error{format_location(*source, found.mark) + "YAML anchors and aliases" + name +
                 " are not supported: write each value out in full"};
  } catch (const StuckAt& stuck) {
    const auto at = static_cast<std::size_t>(stuck.mark.pos);
    const std::string what = at < text.size() ? "'" + std::string(1, text[at]) + "'" : "text";
    return Error{format_location(*source, stuck.mark) + "YAML syntax error: unexpected " + what};
  } catch (const YAML::DeepRecursion& e) {  // yaml-cpp's own message is "bad file"
    return Error{format_location(*source, e.mark) + "YAML nested more than " +
                 std::to_string(e.depth() - 1) + " levels deep"};
  } catch (const YAML::Exception& e) {
    return Error{format_location(*source, e.mark) + "YAML syntax error: " + e.msg};
  }
  const std::vector<YamlTree>& documents = tree.documents;
  if (documents.size() > 1) {
    return Error{std::string(source_name) + ": holds " + std::to_string(documents.size()) +
                 " YAML documents; a config file is one document"};
  }
  const YamlTree empty;
  const YamlNode root_node(documents.empty() ? empty : documents.front(), source, YAML::Mark());

  std::unordered_map<std::string, YAML::Mark> marks;  // field path -> where it was written
  detail::Decoder<YamlNode> d;
  if (check == Check::full) {
    d.on_node = [&](const std::string& path, const YamlNode& n) { marks[path] = n.mark(); };
  }
  if (root_node.kind() != detail::NodeKind::null && root_node.kind() != detail::NodeKind::mapping) {
    return Error{root_node.location() + "expected a mapping of keys at the top, got " +
                 root_node.describe()};
  }
  State state;
  if (!detail::decode_state(d, root_node, state)) return d.error();
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

// Reads at most kMaxYamlBytes + 1 bytes, so a pipe or /dev/zero cannot make it read forever.
Result<std::string> read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read " + path + ": " + errno_text()};
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (!ec && size > kMaxYamlBytes) {
      return Error{path + ": " + std::to_string(size) + " bytes is above the limit of " +
                   size_limit_text() + " for a config file"};
    }
  }
  std::string text;
  constexpr std::size_t kChunk = 64 * 1024;
  while (in && text.size() <= kMaxYamlBytes) {
    const std::size_t old_size = text.size();
    text.resize(old_size + kChunk);
    in.read(text.data() + old_size, static_cast<std::streamsize>(kChunk));
    text.resize(old_size + static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) return Error{"cannot read " + path + ": " + errno_text()};
  if (text.size() > kMaxYamlBytes) {
    return Error{path + ": more than " + size_limit_text() + ", the limit for a config file"};
  }
  return text;
}

// Everything a loader may throw becomes an Error naming the source.
template <typename T, typename Fn>
Result<T> without_exceptions(std::string_view source_name, std::size_t bytes, Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Error{std::string(source_name) + ": out of memory while loading" +
                 (bytes == 0 ? std::string() : " " + std::to_string(bytes) + " bytes of YAML")};
  } catch (const std::exception& e) {
    return Error{std::string(source_name) + ": cannot load: " + e.what()};
  }
}

}  // namespace

Result<State> load_yaml_string(std::string_view text, std::string_view source_name, Check check) {
  return without_exceptions<State>(source_name, text.size(),
                                   [&] { return load_yaml_text(text, source_name, check); });
}

Result<State> load_yaml_file(const std::string& path, Check check) {
  Result<std::string> text =
      without_exceptions<std::string>(path, 0, [&] { return read_config_file(path); });
  if (!text) return text.error();
  return load_yaml_string(*text, path, check);
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
