// Replays a fuzz corpus through a libFuzzer entry point without libFuzzer, so
// that g++ builds (and ordinary ctest runs) exercise every corpus file too.
// Usage: replay_<target> <corpus dir or file>...
// A crash or sanitizer report fails the test; so does an empty corpus (a
// wrong path must not pass silently).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::uint8_t> read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <corpus dir or file>...\n", argv[0]);
    return 2;
  }
  LLVMFuzzerInitialize(&argc, &argv);

  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path = argv[i];
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) inputs.push_back(entry.path());
      }
    } else if (std::filesystem::is_regular_file(path)) {
      inputs.push_back(path);
    } else {
      std::fprintf(stderr, "%s: no such corpus file or directory\n", path.c_str());
      return 2;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "no corpus files found\n");
    return 2;
  }
  // Sorted, so a failure names the same file on every run.
  std::sort(inputs.begin(), inputs.end());
  for (const auto& input : inputs) {
    const std::vector<std::uint8_t> data = read_all(input);
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", input.filename().c_str(), data.size());
    // An empty vector's data() may be null; libFuzzer never passes null.
    static const std::uint8_t kEmpty = 0;
    LLVMFuzzerTestOneInput(data.empty() ? &kEmpty : data.data(), data.size());
  }
  std::printf("replayed %zu corpus files\n", inputs.size());
  return 0;
}
