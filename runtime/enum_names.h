// Enumerations that users type by name (--position, --device, --matmul-precision): each
// specialises EnumNames with its option and the name of every value. Parsing happens once,
// at the boundary (the command line, an INI file, a checkpoint's /config); the code past it
// compares enums, never strings.
//
//   template <> struct EnumNames<Device> {
//     static constexpr const char* option = "--device";
//     static constexpr std::array<std::pair<Device, const char*>, 2> values{{{Device::cpu, "cpu"}, {Device::cuda, "cuda"}}};
//   };
//   po::value<Device>(&opt.device)   // "--device tpu": ConfigError "--device must be cpu or cuda (got 'tpu')"
//   enum_name(Device::cuda)          // "cuda"
#pragma once

#include <array>
#include <boost/any.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <concepts>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/error.h"

namespace alibi {

template <class E>
struct EnumNames;

template <class E>
concept NamedEnum = std::is_enum_v<E> && requires { EnumNames<E>::values; };

template <NamedEnum E>
const char* enum_name(E value) {
  for (const auto& [v, name] : EnumNames<E>::values)
    if (v == value) return name;
  return "?";
}

// "a, b or c": the accepted names, for messages.
template <NamedEnum E>
std::string enum_choices() {
  std::string out;
  const auto& values = EnumNames<E>::values;
  for (size_t i = 0; i < values.size(); ++i) {
    out += i == 0 ? "" : i + 1 == values.size() ? " or " : ", ";
    out += values[i].second;
  }
  return out;
}

// ConfigError naming the option, the accepted names and what was given.
template <NamedEnum E>
E parse_enum(const std::string& name) {
  for (const auto& [v, n] : EnumNames<E>::values)
    if (name == n) return v;
  throw ConfigError(std::string(EnumNames<E>::option) + " must be " + enum_choices<E>() + " (got '" + name + "')");
}

template <NamedEnum E>
std::ostream& operator<<(std::ostream& os, E value) {
  return os << enum_name(value);
}

// Boost.ProgramOptions finds this by argument-dependent lookup for po::value<E>.
template <NamedEnum E>
void validate(boost::any& out, const std::vector<std::string>& values, E*, int) {
  boost::program_options::validators::check_first_occurrence(out);
  out = boost::any(parse_enum<E>(boost::program_options::validators::get_single_string(values)));
}

}  // namespace alibi
