#include "api/request_target.hpp"

#include <gtest/gtest.h>

namespace sluice::cp {
namespace {

TEST(RequestTarget, PathAndDecodedQuery) {
  Result<RequestTarget> t =
      parse_request_target("/v1/backends?vip=198.18.0.10%3A80%2Ftcp&address=198.18.1.1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/v1/backends");
  ASSERT_NE(t->param("vip"), nullptr);
  EXPECT_EQ(*t->param("vip"), "198.18.0.10:80/tcp");
  EXPECT_EQ(*t->param("address"), "198.18.1.1");
  EXPECT_EQ(t->param("missing"), nullptr);
}

TEST(RequestTarget, RawReservedCharactersInTheQueryAreAccepted) {
  Result<RequestTarget> t = parse_request_target("/v1/vips?vip=[2001:db8::10]:443/tcp");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t->param("vip"), "[2001:db8::10]:443/tcp");
}

TEST(RequestTarget, MalformedEscapesAreRefused) {
  EXPECT_FALSE(parse_request_target("/v1/vips?vip=%zz").ok());
  EXPECT_FALSE(parse_request_target("/v1/vips?vip=%4").ok());
  EXPECT_FALSE(parse_request_target("/v1/%").ok());
}

TEST(RequestTarget, EncodeDecodeRoundTrip) {
  const std::string text = "[2001:db8::10]:443/tcp & more=1%";
  const std::string encoded = percent_encode(text);
  EXPECT_EQ(encoded.find_first_of("[]:/ &="), std::string::npos) << encoded;
  EXPECT_EQ(percent_decode(encoded), text);
}

}  // namespace
}  // namespace sluice::cp
