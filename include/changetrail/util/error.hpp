#pragma once

#include <stdexcept>
#include <string>

namespace changetrail::util {

// Exit codes of DESIGN.md "Command line".
inline constexpr int k_exit_clean = 0;
inline constexpr int k_exit_findings = 1;
inline constexpr int k_exit_input = 2;
inline constexpr int k_exit_runtime = 3;

// Bad input from the user: a usage mistake, a path that does not exist, a config that does not
// validate. Caught once at the top, printed as one line, exit 2.
class InputError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The environment failed us: a repository that cannot be read, a registry that is required but
// unreachable, a ledger that cannot be written. Caught once at the top, exit 3.
class Fatal : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace changetrail::util
