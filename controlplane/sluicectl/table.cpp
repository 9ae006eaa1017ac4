#include "sluicectl/table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace sluice::ctl {

void Table::print(std::ostream& out, int indent) const {
  std::vector<std::size_t> widths(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header_);
  for (const auto& row : rows_)
    measure(row);
  auto line = [&](const std::vector<std::string>& row) {
    std::string text(static_cast<std::size_t>(indent), ' ');
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string& cell = i < row.size() ? row[i] : std::string();
      text += cell;
      if (i + 1 < widths.size()) text += std::string(widths[i] - cell.size() + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    out << text << '\n';
  };
  line(header_);
  for (const auto& row : rows_)
    line(row);
}

std::string si(double value) {
  const double a = std::fabs(value);
  if (a >= 1e9) return fmt::format("{:.2f}G", value / 1e9);
  if (a >= 1e6) return fmt::format("{:.2f}M", value / 1e6);
  if (a >= 1e4) return fmt::format("{:.1f}k", value / 1e3);
  if (a == std::floor(a)) return fmt::format("{:.0f}", value);
  return fmt::format("{:.1f}", value);
}

std::string bits_per_s(double value) {
  const double a = std::fabs(value);
  if (a >= 1e9) return fmt::format("{:.2f} Gbit/s", value / 1e9);
  if (a >= 1e6) return fmt::format("{:.2f} Mbit/s", value / 1e6);
  if (a >= 1e3) return fmt::format("{:.1f} kbit/s", value / 1e3);
  return fmt::format("{:.0f} bit/s", value);
}

std::string percent(double fraction) {
  return fmt::format("{:.1f}%", fraction * 100.0);
}

std::string duration(double seconds) {
  if (seconds < 0) seconds = 0;
  const auto s = static_cast<std::uint64_t>(seconds);
  if (s >= 86400) return fmt::format("{}d{}h", s / 86400, (s % 86400) / 3600);
  if (s >= 3600) return fmt::format("{}h{}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string millis(double ms) {
  if (ms < 10) return fmt::format("{:.2f} ms", ms);
  return fmt::format("{:.0f} ms", ms);
}

}  // namespace sluice::ctl
