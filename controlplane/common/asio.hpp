// The one place Boost.Asio/Beast are included. Boost 1.74's awaitable.hpp uses std::exchange
// without including <utility>; under C++20 that fails unless <utility> comes first.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace sluice::cp {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
}  // namespace sluice::cp
