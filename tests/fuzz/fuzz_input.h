// Shared by the libFuzzer harnesses (tests/fuzz/run.sh): turn the fuzzer's bytes into the
// files a reader takes, and tell an expected refusal from a bug.
//
// A reader given bad bytes must throw one of our typed errors (alibi::Error, JsonError):
// that is a pass. Anything else escaping (std::bad_alloc from a length read off the file,
// std::out_of_range, ...) or any crash that ASan sees is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace alibi::fuzz {

// A private scratch directory under /dev/shm (memory: thousands of runs a second).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/dev/shm/alibi-fuzz.XXXXXX";
    const char* d = mkdtemp(tmpl);
    return std::string(d ? d : "/tmp");
  }();
  return dir;
}

inline void write_file(const std::string& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

// The input as several files: parts separated by the line "\n=====\n" (seed files are
// written that way, and the fuzzer keeps or breaks the separator as it likes).
inline std::vector<std::string_view> split_parts(const uint8_t* data, size_t size, size_t parts) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> out;
  constexpr std::string_view kSeparator = "\n=====\n";
  while (out.size() + 1 < parts) {
    const size_t at = all.find(kSeparator);
    if (at == std::string_view::npos) break;
    out.push_back(all.substr(0, at));
    all.remove_prefix(at + kSeparator.size());
  }
  out.push_back(all);
  while (out.size() < parts) out.emplace_back();
  return out;
}

}  // namespace alibi::fuzz
