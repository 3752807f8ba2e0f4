// Error-path checks for the tests: the call must throw the named error type, with a
// one-line message that contains every given part (the file, option or field it names and
// the fix), as the project's error rule asks.
//
//   test::expect_error<ConfigError>([&] { parse("--steps 0"); }, {"--steps", "at least 1"});
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <initializer_list>
#include <string>

namespace alibi::test {

template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const E& e) {
    const std::string what = e.what();
    for (const std::string& p : parts) EXPECT_NE(what.find(p), std::string::npos) << "'" << p << "' not in: " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "not one line: " << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong error type: " << e.what();
  }
}

}  // namespace alibi::test
