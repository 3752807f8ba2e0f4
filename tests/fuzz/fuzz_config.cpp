// libFuzzer: an INI file given with --config, parsed with the model options as
// `alibi train` parses it, then validated.
#include <cstdint>
#include <string>

#include "runtime/config.h"
#include "runtime/error.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = alibi::fuzz::scratch_dir() + "/config.ini";
  alibi::fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  alibi::ModelConfig cfg;
  alibi::po::options_description desc("model");
  alibi::add_model_options(desc, cfg);
  alibi::po::variables_map vm;
  const char* argv[] = {"train", "--config", path.c_str()};
  try {
    alibi::parse_command_line("train", 3, argv, desc, vm);
    cfg.validate();
    cfg.parameter_count();
  } catch (const alibi::Error&) {
  }
  return 0;
}
