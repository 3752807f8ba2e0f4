// Option parsing and model-shape validation.
#include "runtime/config.h"

#include <fstream>
#include <map>
#include <sstream>
#include <iostream>

#include "runtime/error.h"

namespace alibi {

void ModelConfig::validate() const {
  ALIBI_CHECK_AS(ConfigError, vocab >= 2, "--vocab must be at least 2 (got " << vocab << ")");
  ALIBI_CHECK_AS(ConfigError, layers >= 1, "--layers must be at least 1 (got " << layers << ")");
  ALIBI_CHECK_AS(ConfigError, channels >= 1, "--channels must be at least 1 (got " << channels << ")");
  ALIBI_CHECK_AS(ConfigError, heads >= 1, "--heads must be at least 1 (got " << heads << ")");
  ALIBI_CHECK_AS(ConfigError, channels % heads == 0,
                 "--heads " << heads << " does not divide --channels " << channels << " ("
                            << channels << " % " << heads << " = " << channels % heads
                            << "); choose heads that divide channels, e.g. --heads "
                            << (channels % 8 == 0 ? 8 : 1));
  ALIBI_CHECK_AS(ConfigError, ffn >= 0, "--ffn must be >= 0 (0 means 4 x channels; got " << ffn << ")");
  ALIBI_CHECK_AS(ConfigError, seq_len >= 1, "--seq-len must be at least 1 (got " << seq_len << ")");
  const PositionMethod method = position;
  ALIBI_CHECK_AS(ConfigError, method != PositionMethod::rotary || head_size() % 2 == 0,
                 "--position rotary needs an even head size (channels / heads = " << head_size() << ")");
  ALIBI_CHECK_AS(ConfigError, max_positions >= 0 && (method != PositionMethod::learned || position_rows() >= seq_len),
                 "--max-positions " << max_positions << " is below --seq-len " << seq_len
                                    << "; learned positions need a row for every training position");
}

int64_t ModelConfig::parameter_count() const {
  const int64_t C = channels, F = ffn_width(), V = vocab, L = layers;
  const int64_t per_block = 2 * C           // ln1
                            + 3 * C * C + 3 * C  // qkv
                            + C * C + C          // proj
                            + 2 * C              // ln2
                            + F * C + F          // fc
                            + C * F + C;         // fc proj
  const PositionMethod method = position;
  const int64_t positions = method == PositionMethod::learned ? int64_t{position_rows()} * C
                            : method == PositionMethod::t5    ? int64_t{32} * heads  // one table, all layers
                                                              : 0;
  return V * C + L * per_block + 2 * C + (tie_embeddings ? 0 : V * C) + positions;
}

void add_model_options(po::options_description& desc, ModelConfig& m) {
  desc.add_options()
      ("vocab", po::value<int>(&m.vocab)->default_value(m.vocab), "vocabulary size V (the corpus's, when --data is given)")
      ("layers", po::value<int>(&m.layers)->default_value(m.layers), "transformer blocks L")
      ("channels", po::value<int>(&m.channels)->default_value(m.channels), "model width C")
      ("heads", po::value<int>(&m.heads)->default_value(m.heads), "attention heads NH (must divide C)")
      ("ffn", po::value<int>(&m.ffn)->default_value(m.ffn), "feed-forward width F (0: 4 x C)")
      ("seq-len", po::value<int>(&m.seq_len)->default_value(m.seq_len), "training window T in tokens")
      ("position", po::value<PositionMethod>(&m.position)->default_value(m.position),
       "position method: alibi | sinusoidal | rotary | t5 | learned | none")
      ("max-positions", po::value<int>(&m.max_positions)->default_value(m.max_positions),
       "learned positions: rows of the table (0: --seq-len); longer evaluation is an error")
      ("tie-embeddings", po::value<bool>(&m.tie_embeddings)->default_value(m.tie_embeddings),
       "tie the LM head to the token embedding");
}

namespace {

// Reaches error_with_option_name's protected substitutions (a pointer to a member named
// through a derived class may be applied to the base).
struct OptionErrorAccess : po::error_with_option_name {
  static std::map<std::string, std::string>& substitutions(po::error_with_option_name& e) {
    return e.*(&OptionErrorAccess::m_substitutions);
  }
};

}  // namespace

std::string option_error_text(po::error& e) {
  // Boost 1.74's what() replaces each placeholder ("%value%", "%canonical_option%", ...)
  // until none is left, so a value holding one never ends: `--layers %value%` hung alibi
  // (found by tests/fuzz/fuzz_config). Written as "%25", a '%' cannot start a placeholder.
  if (auto* named = dynamic_cast<po::error_with_option_name*>(&e)) {
    for (auto& [name, value] : OptionErrorAccess::substitutions(*named)) {
      std::string safe;
      for (char c : value) safe += c == '%' ? std::string("%25") : std::string(1, c);
      value = safe;
    }
  }
  return e.what();
}

bool parse_command_line(const std::string& command, int argc, const char* const* argv,
                        const po::options_description& desc, po::variables_map& vm,
                        const po::positional_options_description* positional,
                        const std::string& fallback_ini) {
  po::options_description all("alibi " + command + " options");
  all.add_options()("help,h", "print this help")
      ("config", po::value<std::string>(), "INI file of options (flat names; the command line wins)");
  all.add(desc);
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(all);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: alibi " << command << " [options]\n" << all << "\n";
      return false;
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      ALIBI_CHECK_AS(ConfigError, in.good(),
                     "--config " << path << ": cannot open the file; check the path");
      try {
        po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/false), vm);
      } catch (po::error& e) {  // Boost names the option but not the file it came from
        throw ConfigError("--config " + path + ": " + option_error_text(e) + " (lines are 'name = value', " +
                          "names as on the command line without '--'); see 'alibi " + command + " --help'");
      }
    }
    if (!fallback_ini.empty()) {
      std::istringstream in(fallback_ini);
      po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/true), vm);
    }
    po::notify(vm);
  } catch (po::error& e) {
    throw ConfigError(option_error_text(e) + "; see 'alibi " + command + " --help'");
  }
  return true;
}

}  // namespace alibi
