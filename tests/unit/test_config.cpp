// Option parsing (runtime/config.h): defaults, --config INI files under the command line,
// and errors that name the offending option; ModelConfig::validate's messages.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/config.h"
#include "runtime/error.h"
#include "train/options.h"

namespace alibi {
namespace {

// Parses `alibi test ARGS...` with the model options into `model`; returns parse's result.
bool parse(const std::vector<std::string>& args, ModelConfig& model, po::variables_map& vm) {
  po::options_description desc("model");
  add_model_options(desc, model);
  std::vector<const char*> argv = {"alibi-test"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return parse_command_line("test", static_cast<int>(argv.size()), argv.data(), desc, vm);
}

// The message of the ConfigError that parsing `args` throws ("" and a failure if none).
std::string parse_error(const std::vector<std::string>& args) {
  ModelConfig model;
  po::variables_map vm;
  try {
    parse(args, model, vm);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for the arguments";
  return "";
}

std::string validate_error(const ModelConfig& model) {
  try {
    model.validate();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "validate accepted the config";
  return "";
}

std::string write_ini(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The defaults by hand (launch/configs/tiny.ini's model over the byte vocabulary), not
// from a default ModelConfig: the options take their defaults from the struct they fill,
// so a comparison with another default struct could not fail.
TEST(Config, DefaultsWithoutArguments) {
  ModelConfig m;
  po::variables_map vm;
  ASSERT_TRUE(parse({}, m, vm));
  EXPECT_EQ(m.vocab, 257);  // 256 bytes + EOS
  EXPECT_EQ(m.layers, 4);
  EXPECT_EQ(m.channels, 256);
  EXPECT_EQ(m.heads, 8);
  EXPECT_EQ(m.ffn_width(), 1024);  // 4 C
  EXPECT_EQ(m.seq_len, 128);
  EXPECT_EQ(m.position, PositionMethod::alibi);
  EXPECT_TRUE(m.tie_embeddings);
  EXPECT_EQ(m.position_rows(), 128);  // --max-positions 0: the window
  EXPECT_NO_THROW(m.validate());
}

TEST(Config, CommandLineValues) {
  ModelConfig m;
  po::variables_map vm;
  ASSERT_TRUE(parse({"--layers", "2", "--channels=64", "--heads", "4", "--position", "none"}, m, vm));
  EXPECT_EQ(m.layers, 2);
  EXPECT_EQ(m.channels, 64);
  EXPECT_EQ(m.heads, 4);
  EXPECT_EQ(m.head_size(), 16);
  EXPECT_EQ(m.position, PositionMethod::none);
}

TEST(Config, IniFileAppliesAndCommandLineWins) {
  const std::string ini = write_ini("alibi_test_config.ini",
                                    "# a comment\nlayers = 6\nheads = 4\nseq-len = 64\ntie-embeddings = false\n");
  ModelConfig m;
  po::variables_map vm;
  ASSERT_TRUE(parse({"--config", ini, "--layers", "2"}, m, vm));
  EXPECT_EQ(m.layers, 2);      // both give it: the command line wins
  EXPECT_EQ(m.heads, 4);       // only the file gives it: the file beats the default
  EXPECT_EQ(m.seq_len, 64);
  EXPECT_FALSE(m.tie_embeddings);
  EXPECT_EQ(m.channels, 256);  // neither: the default
  std::remove(ini.c_str());
}

TEST(Config, UnknownOptionIsNamed) {
  const std::string msg = parse_error({"--layers", "2", "--bogus-option", "3"});
  EXPECT_TRUE(contains(msg, "--bogus-option")) << msg;
}

TEST(Config, UnknownOptionInIniFileIsNamed) {
  const std::string ini = write_ini("alibi_test_unknown.ini", "layers = 2\nbogus-option = 3\n");
  const std::string msg = parse_error({"--config", ini});
  EXPECT_TRUE(contains(msg, "bogus-option")) << msg;
  EXPECT_TRUE(contains(msg, ini)) << msg;  // which file to fix
  std::remove(ini.c_str());
}

TEST(Config, MissingValueIsNamed) {
  const std::string msg = parse_error({"--layers", "2", "--heads"});
  EXPECT_TRUE(contains(msg, "--heads")) << msg;
}

TEST(Config, MalformedValueIsNamed) {
  const std::string msg = parse_error({"--heads", "eight"});
  EXPECT_TRUE(contains(msg, "--heads")) << msg;
  EXPECT_TRUE(contains(msg, "eight")) << msg;
}

// Boost 1.74 replaces placeholders in its messages until none is left, so a value that
// itself holds one ("%value%") looped forever: `--layers %value%` hung alibi. Found by
// tests/fuzz/fuzz_config (its input: tests/fuzz/regressions/config/). Without the fix
// these never return (ctest's timeout fails them).
TEST(Config, PlaceholderInAValueIsQuotedNotExpandedForever) {
  std::string msg = parse_error({"--layers", "%value%"});
  EXPECT_TRUE(contains(msg, "--layers")) << msg;
  EXPECT_TRUE(contains(msg, "%25value%25")) << msg;
  const std::string ini = write_ini("alibi_test_placeholder.ini", "heads = x%value%%canonical_option%\n");
  msg = parse_error({"--config", ini});
  EXPECT_TRUE(contains(msg, "heads")) << msg;
  EXPECT_TRUE(contains(msg, ini)) << msg;
  std::remove(ini.c_str());
}

TEST(Config, PlaceholderInAnUnknownOptionNameEnds) {
  const std::string ini = write_ini("alibi_test_placeholder_name.ini", "%value% = 3\n");
  const std::string msg = parse_error({"--config", ini});
  EXPECT_TRUE(contains(msg, ini)) << msg;
  std::remove(ini.c_str());
}

TEST(Config, UnreadableConfigFileIsNamed) {
  const std::string msg = parse_error({"--config", "/nonexistent/dir/model.ini"});
  EXPECT_TRUE(contains(msg, "--config")) << msg;
  EXPECT_TRUE(contains(msg, "/nonexistent/dir/model.ini")) << msg;
}

TEST(Config, ValidateNamesHeadsThatDoNotDivideChannels) {
  ModelConfig m;
  m.channels = 256;
  m.heads = 6;
  const std::string msg = validate_error(m);
  EXPECT_TRUE(contains(msg, "--heads")) << msg;
  EXPECT_TRUE(contains(msg, "--channels")) << msg;
}

TEST(Config, ValidateNamesZeroSeqLen) {
  ModelConfig m;
  m.seq_len = 0;
  const std::string msg = validate_error(m);
  EXPECT_TRUE(contains(msg, "--seq-len")) << msg;
}

TEST(Config, UnknownPositionMethodIsNamed) {
  ModelConfig m;
  po::variables_map vm;
  std::string msg;
  try {
    parse({"--position", "absolute"}, m, vm);
  } catch (const ConfigError& e) {
    msg = e.what();
  }
  EXPECT_TRUE(contains(msg, "--position")) << msg;
  EXPECT_TRUE(contains(msg, "absolute")) << msg;
  EXPECT_TRUE(contains(msg, "alibi, sinusoidal, rotary, t5, learned or none")) << msg;
}

TEST(Config, EnumNamesRoundTrip) {
  for (const auto& [value, name] : EnumNames<PositionMethod>::values) {
    EXPECT_EQ(parse_enum<PositionMethod>(name), value);
    EXPECT_STREQ(enum_name(value), name);
  }
}

TEST(Config, ParameterCountOfASmallModel) {
  ModelConfig m;
  m.vocab = 10, m.layers = 1, m.channels = 4, m.heads = 2, m.ffn = 8;
  // wte 40; block: ln 8 + qkv 48+12 + proj 16+4 + ln 8 + fc 32+8 + proj 32+4 = 172; final ln 8
  EXPECT_EQ(m.parameter_count(), 40 + 172 + 8);
}

// --matmul-precision in checkpoints: new ones carry options-version 2 and their choice; an
// older CPU checkpoint said bf16 (CUDA's default then) while its run computed in fp32, so it
// resumes as auto; an older CUDA checkpoint keeps what it said.
TEST(SavedOptions, OldCpuCheckpointsResumeInFp32) {
  OptionMap now = to_option_map(ModelConfig{}, TrainOptions{});
  EXPECT_EQ(now.at("options-version"), "2");
  EXPECT_EQ(now.at("matmul-precision"), "auto");
  now["matmul-precision"] = "bf16";
  EXPECT_EQ(upgrade_saved_options(now).at("matmul-precision"), "bf16");  // a choice made now stays

  OptionMap old = now;
  old.erase("options-version");
  old["device"] = "cpu";
  EXPECT_EQ(upgrade_saved_options(old).at("matmul-precision"), "auto");
  old["device"] = "cuda";
  old["matmul-precision"] = "tf32";
  EXPECT_EQ(upgrade_saved_options(old).at("matmul-precision"), "tf32");
}

}  // namespace
}  // namespace alibi
