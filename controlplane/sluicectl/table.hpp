// Column-aligned tables and human units for sluicectl's default output.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace sluice::ctl {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  [[nodiscard]] bool empty() const { return rows_.empty(); }
  // Two spaces between columns; `indent` spaces before each line.
  void print(std::ostream& out, int indent = 0) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// 1234567 -> "1.23M"; 999 -> "999".
[[nodiscard]] std::string si(double value);
// Bits per second: "12.3 Mbit/s".
[[nodiscard]] std::string bits_per_s(double value);
// 0.3333 -> "33.3%".
[[nodiscard]] std::string percent(double fraction);
// Seconds -> "3d4h", "2h5m", "4m12s", "9s".
[[nodiscard]] std::string duration(double seconds);
// Milliseconds with sensible precision: "0.21 ms", "12 ms".
[[nodiscard]] std::string millis(double ms);

}  // namespace sluice::ctl
