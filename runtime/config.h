// Options: flat names, the same on the command line and in `--config FILE.ini` (the
// command line wins), parsed with Boost.ProgramOptions. Each subcommand builds its
// options_description from the groups here (model, ...) plus its own, then calls
// parse_command_line. Every error names the option and the fix:
//
//   alibi train: config error: --heads 6 does not divide --channels 256 (256 % 6 = 4); ...
#pragma once

#include <boost/program_options.hpp>
#include <string>

#include "runtime/enum_names.h"
#include "runtime/tensor.h"

namespace alibi {

namespace po = boost::program_options;

template <>
struct EnumNames<Device> {
  static constexpr const char* option = "--device";
  static constexpr std::array<std::pair<Device, const char*>, 2> values{{{Device::cpu, "cpu"}, {Device::cuda, "cuda"}}};
};

enum class PositionMethod { alibi, sinusoidal, rotary, t5, learned, none };
template <>
struct EnumNames<PositionMethod> {
  static constexpr const char* option = "--position";
  static constexpr std::array<std::pair<PositionMethod, const char*>, 6> values{{
      {PositionMethod::alibi, "alibi"}, {PositionMethod::sinusoidal, "sinusoidal"},
      {PositionMethod::rotary, "rotary"}, {PositionMethod::t5, "t5"},
      {PositionMethod::learned, "learned"}, {PositionMethod::none, "none"}}};
};

// The model's shape. Everything `alibi eval` needs to rebuild a model from a checkpoint.
struct ModelConfig {
  int vocab = 257;      // V (byte-level: 256 bytes + EOS)
  int layers = 4;       // L
  int channels = 256;   // C
  int heads = 8;        // NH
  int ffn = 0;          // F; 0 means 4 * C
  int seq_len = 128;    // T, training window
  PositionMethod position = PositionMethod::alibi;
  bool tie_embeddings = true;
  int max_positions = 0;  // learned positions: table rows (0 means seq_len); evaluation may not go past it

  int head_size() const { return channels / heads; }
  int ffn_width() const { return ffn > 0 ? ffn : 4 * channels; }
  int position_rows() const { return max_positions > 0 ? max_positions : seq_len; }
  // Throws ConfigError naming the option and the fix for any inconsistency.
  void validate() const;
  // Parameter count, tied embedding counted once.
  int64_t parameter_count() const;
};

void add_model_options(po::options_description& desc, ModelConfig& model);

// Parses argv[1..] for `alibi <command>`. Handles --help (prints the options with their
// defaults, returns false) and --config FILE.ini (values there apply unless the command
// line gives them). Unknown options, missing or malformed values and unreadable config
// files throw ConfigError naming the option. `fallback_ini` ("name=value" lines, e.g. a
// checkpoint's options) applies below both the command line and --config.
// e.what() of a Boost.ProgramOptions error, safe for any value the user gave (see config.cpp).
std::string option_error_text(po::error& e);

bool parse_command_line(const std::string& command, int argc, const char* const* argv,
                        const po::options_description& desc, po::variables_map& vm,
                        const po::positional_options_description* positional = nullptr,
                        const std::string& fallback_ini = "");

}  // namespace alibi
