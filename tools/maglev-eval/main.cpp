// sluice-maglev-eval: reproduces the consistent-hashing evaluation of the Maglev paper (Eisenbud
// et al., NSDI'16, section 5.3): N backends (default 1000), table size M (65537 or 655373).
// Prints one JSON object on stdout; progress goes to stderr.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "rivals.hpp"
#include "sluice/ip_address.hpp"
#include "sluice/lb/maglev.hpp"

namespace {

using sluice::lb::MaglevBackend;
using Clock = std::chrono::steady_clock;

struct Options {
  std::uint32_t backends = 1000;
  std::uint32_t table_size = sluice::lb::kDefaultMaglevTableSize;
  std::uint32_t repeat = 21;
  std::uint32_t disruption_samples = 10;
  bool rivals = true;
  std::uint32_t ring_points = 100;
  std::uint32_t rival_repeat = 3;
};

// Backend i is 198.18.0.0 + 1 + i (198.18.0.0/15 holds 131,070 of them).
std::string backend_key(std::uint32_t i) {
  return sluice::IpAddress::from_v4(0xC6120000u + 1 + i).to_string();
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU time of this thread: unlike wall time it does not grow while other processes hold the
// core, which on a shared 2-core machine is most of the noise.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Timing {
  double median_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  double median_cpu_ms = 0;
};

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  return n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2.0;
}

template <typename Build>
Timing time_builds(std::uint32_t repeat, Build&& build) {
  build();  // warm caches and the allocator; not counted
  std::vector<double> wall;
  std::vector<double> cpu;
  for (std::uint32_t r = 0; r < repeat; ++r) {
    const double cpu_start = thread_cpu_ms();
    const auto start = Clock::now();
    build();
    wall.push_back(ms_since(start));
    cpu.push_back(thread_cpu_ms() - cpu_start);
  }
  const auto [lo, hi] = std::minmax_element(wall.begin(), wall.end());
  return Timing{median(wall), *lo, *hi, median(cpu)};
}

// Largest and smallest share over the average share (1.0 is perfect balance).
template <typename Owner>
std::pair<double, double> balance(const std::vector<Owner>& owners, std::size_t backends) {
  std::vector<std::uint64_t> count(backends, 0);
  for (const Owner o : owners)
    ++count[o];
  const auto [lo, hi] = std::minmax_element(count.begin(), count.end());
  const double average = static_cast<double>(owners.size()) / static_cast<double>(backends);
  return {static_cast<double>(*hi) / average, static_cast<double>(*lo) / average};
}

// Fraction of entries whose owner (compared by key, since indices shift) differs.
template <typename OwnerA, typename OwnerB>
double moved_fraction(const std::vector<OwnerA>& before,
                      const std::vector<std::string>& keys_before, const std::vector<OwnerB>& after,
                      const std::vector<std::string>& keys_after) {
  std::uint64_t moved = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (keys_before[before[i]] != keys_after[after[i]]) ++moved;
  }
  return static_cast<double>(moved) / static_cast<double>(before.size());
}

std::vector<MaglevBackend> as_backends(const std::vector<std::string>& keys) {
  std::vector<MaglevBackend> out;
  out.reserve(keys.size());
  for (const std::string& key : keys)
    out.push_back(MaglevBackend{.key = key, .weight = 1});
  return out;
}

std::vector<std::uint16_t> maglev_slots(const std::vector<std::string>& keys, std::uint32_t m) {
  auto table = sluice::lb::build_maglev(as_backends(keys), m);
  if (!table) {
    std::cerr << "sluice-maglev-eval: " << table.error().message << "\n";
    std::exit(1);
  }
  const auto slots = table->slots();
  return {slots.begin(), slots.end()};
}

nlohmann::ordered_json evaluate_maglev(const Options& opt, const std::vector<std::string>& keys) {
  const std::vector<MaglevBackend> backends = as_backends(keys);
  std::cerr << "maglev: timing " << opt.repeat << " builds of N=" << opt.backends
            << " M=" << opt.table_size << "\n";
  const Timing t = time_builds(opt.repeat, [&] {
    auto table = sluice::lb::build_maglev(backends, opt.table_size);
    if (!table) std::exit(1);
  });

  const std::vector<std::uint16_t> base = maglev_slots(keys, opt.table_size);
  const auto [max_over_avg, min_over_avg] = balance(base, keys.size());

  // Minimal disruption, averaged over evenly spaced victims and fresh joiners.
  std::cerr << "maglev: disruption over " << opt.disruption_samples << " removals and additions\n";
  double removed_sum = 0;
  double added_sum = 0;
  for (std::uint32_t s = 0; s < opt.disruption_samples; ++s) {
    std::vector<std::string> fewer = keys;
    fewer.erase(fewer.begin() +
                (static_cast<std::size_t>(s) * keys.size()) / opt.disruption_samples);
    removed_sum += moved_fraction(base, keys, maglev_slots(fewer, opt.table_size), fewer);

    std::vector<std::string> more = keys;
    more.push_back(backend_key(opt.backends + s));
    added_sum += moved_fraction(base, keys, maglev_slots(more, opt.table_size), more);
  }

  return nlohmann::ordered_json{
      {"build_ms", t.median_ms},
      {"build_ms_min", t.min_ms},
      {"build_ms_max", t.max_ms},
      {"build_cpu_ms", t.median_cpu_ms},
      {"max_over_avg", max_over_avg},
      {"min_over_avg", min_over_avg},
      {"moved_on_remove", removed_sum / opt.disruption_samples},
      {"moved_on_add", added_sum / opt.disruption_samples},
  };
}

nlohmann::ordered_json evaluate_rivals(const Options& opt, const std::vector<std::string>& keys) {
  using namespace sluice::maglev_eval;
  std::vector<std::string> fewer = keys;
  fewer.erase(fewer.begin() + keys.size() / 2);

  std::cerr << "karger: " << opt.rival_repeat << " builds, " << opt.ring_points
            << " points per backend\n";
  const Timing karger_time = time_builds(opt.rival_repeat, [&] {
    const KargerRing ring = build_karger(keys, opt.ring_points, opt.table_size);
    if (ring.owners.empty()) std::exit(1);
  });
  const KargerRing ring = build_karger(keys, opt.ring_points, opt.table_size);
  const auto [karger_max, karger_min] = balance(ring.owners, keys.size());
  const auto [share_lo, share_hi] =
      std::minmax_element(ring.ring_share.begin(), ring.ring_share.end());
  const double share_avg = 1.0 / static_cast<double>(keys.size());
  const KargerRing ring_fewer = build_karger(fewer, opt.ring_points, opt.table_size);

  std::cerr << "rendezvous: " << opt.rival_repeat << " builds (M x N scores each)\n";
  const Timing hrw_time = time_builds(opt.rival_repeat, [&] {
    if (build_rendezvous(keys, opt.table_size).empty()) std::exit(1);
  });
  const Owners hrw = build_rendezvous(keys, opt.table_size);
  const auto [hrw_max, hrw_min] = balance(hrw, keys.size());
  const Owners hrw_fewer = build_rendezvous(fewer, opt.table_size);

  return nlohmann::ordered_json{
      {"karger",
       {{"points_per_backend", opt.ring_points},
        {"repeat", opt.rival_repeat},
        {"build_ms", karger_time.median_ms},
        {"build_cpu_ms", karger_time.median_cpu_ms},
        {"max_over_avg", karger_max},
        {"min_over_avg", karger_min},
        {"ring_max_over_avg", *share_hi / share_avg},
        {"ring_min_over_avg", *share_lo / share_avg},
        {"moved_on_remove", moved_fraction(ring.owners, keys, ring_fewer.owners, fewer)}}},
      {"rendezvous",
       {{"repeat", opt.rival_repeat},
        {"build_ms", hrw_time.median_ms},
        {"build_cpu_ms", hrw_time.median_cpu_ms},
        {"max_over_avg", hrw_max},
        {"min_over_avg", hrw_min},
        {"moved_on_remove", moved_fraction(hrw, keys, hrw_fewer, fewer)}}},
  };
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "Reproduces the Maglev paper's consistent-hashing evaluation (NSDI'16, section 5.3) with "
      "Sluice's weighted Maglev: N equal-weight backends 198.18.0.1, 198.18.0.2, ... and a table "
      "of M slots. Prints one JSON object on stdout:\n"
      "  build_ms         median wall time of --repeat table builds (build_maglev, one thread)\n"
      "  build_cpu_ms     median CPU time of the same builds (robust to a busy machine)\n"
      "  max_over_avg     largest backend share / average share (1.0 = perfect)\n"
      "  moved_on_remove  fraction of slots whose backend changes when one backend leaves\n"
      "  moved_on_add     ... when one backend joins (both averaged over --disruption-samples;\n"
      "                   the ideal is about 1/N)\n"
      "  rivals           Karger ring and Rendezvous hashing filling the same M entries\n"
      "                   (setup: tools/maglev-eval/rivals.hpp and docs/maglev.md)\n"
      "Progress goes to stderr.",
      "sluice-maglev-eval"};
  app.add_option("-n,--backends", opt.backends, "Number of backends N")
      ->capture_default_str()
      ->check(CLI::Range(2u, static_cast<std::uint32_t>(sluice::lb::kMaxMaglevBackends - 64)));
  std::string sizes;
  for (const std::uint32_t s : sluice::lb::supported_table_sizes()) {
    sizes += (sizes.empty() ? "" : ", ") + std::to_string(s);
  }
  app.add_option("-m,--table-size", opt.table_size, "Table size M, a supported prime: " + sizes)
      ->capture_default_str()
      ->check([](const std::string& text) -> std::string {
        try {
          const auto m = static_cast<std::uint32_t>(std::stoul(text));
          if (sluice::lb::is_supported_table_size(m)) return {};
        } catch (const std::exception&) {
        }
        return "unsupported table size " + text;
      });
  app.add_option("-r,--repeat", opt.repeat, "Timed Maglev builds; build_ms is their median")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100000u));
  app.add_option("--disruption-samples", opt.disruption_samples,
                 "Backends removed (evenly spaced) and added (fresh keys), one at a time, to "
                 "average moved_on_remove and moved_on_add")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_flag("!--no-rivals", opt.rivals, "Skip the Karger and Rendezvous comparison");
  app.add_option("--ring-points", opt.ring_points, "Karger ring: virtual nodes per backend")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100000u));
  app.add_option("--rival-repeat", opt.rival_repeat,
                 "Timed rival builds (Rendezvous costs M x N hashes per build)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000u));
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> keys;
  keys.reserve(opt.backends);
  for (std::uint32_t i = 0; i < opt.backends; ++i)
    keys.push_back(backend_key(i));

  nlohmann::ordered_json out{
      {"backends", opt.backends},
      {"table_size", opt.table_size},
      {"repeat", opt.repeat},
      {"disruption_samples", opt.disruption_samples},
      {"moved_ideal", 1.0 / opt.backends},
  };
  out.update(evaluate_maglev(opt, keys));
  if (opt.rivals) out["rivals"] = evaluate_rivals(opt, keys);
  std::cout << out.dump(2) << std::endl;
  return 0;
}
