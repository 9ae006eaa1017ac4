// FUZZ_CHECK: an invariant a fuzz target asserts; a broken one aborts, which libFuzzer reports
// as a crash and keeps the input.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                  \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)

// As FUZZ_CHECK, printing two strings (what was expected, what came) first.
#define FUZZ_CHECK_EQ_TEXT(expected, got)                                                 \
  do {                                                                                    \
    if ((expected) != (got)) {                                                            \
      std::fprintf(stderr, "expected: %s\n     got: %s\n", std::string(expected).c_str(), \
                   std::string(got).c_str());                                             \
      FUZZ_CHECK((expected) == (got));                                                    \
    }                                                                                     \
  } while (false)
