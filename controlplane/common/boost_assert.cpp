// Boost's assertions where they are compiled in: the control plane's builds with assertions on
// (BOOST_ENABLE_ASSERT_DEBUG_HANDLER, e.g. tools/sanitize's build-asan) and the fuzz targets
// (BOOST_ENABLE_ASSERT_HANDLER). Each failed one aborts, which the test or libFuzzer reports,
// except one that is known to be wrong. Release builds (NDEBUG) compile them out.
//
// Boost 1.74's HTTP parser asserts n >= 5 when it resumes a chunked body whose only chunk is
// the last one ("0\r\n") after a read that ended inside the trailer. The code after the
// assertion handles 3 or 4 bytes correctly (it asks for more); Beast fixed the assertion
// upstream (boostorg/beast pull request 2861). fuzz-health found it by feeding an answer to
// the parser a few bytes at a time.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool known_wrong(const char* expr, const char* file) {
  return std::strcmp(expr, "n >= 5") == 0 &&
         std::strstr(file, "boost/beast/http/impl/basic_parser.ipp") != nullptr;
}

}  // namespace

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (known_wrong(expr, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Boost assertion `%s' failed\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  std::fprintf(stderr, "%s:%ld: %s: Boost assertion `%s' failed: %s\n", file, line, function, expr,
               msg);
  std::abort();
}

}  // namespace boost
