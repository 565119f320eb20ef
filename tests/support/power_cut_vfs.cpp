#include "support/power_cut_vfs.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace fpx::test {

namespace {

std::optional<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

// SQLite allocates vfs.szOsFile bytes per open file: this header, then the
// default VFS's own file object, to which every call is passed.
struct PowerCutVfs::File {
  sqlite3_file base;
  PowerCutVfs* shim;
  const char* path;  // valid until xClose (SQLite's promise); null for temp files
  bool tracked;      // a main database or WAL file

  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(this) + sizeof(File)); }
};

PowerCutVfs& PowerCutVfs::of(sqlite3_vfs* vfs) { return *static_cast<PowerCutVfs*>(vfs->pAppData); }
PowerCutVfs::File& PowerCutVfs::file_of(sqlite3_file* file) { return *reinterpret_cast<File*>(file); }

PowerCutVfs::PowerCutVfs(std::string name) : name_(std::move(name)) {
  real_ = sqlite3_vfs_find(nullptr);
  vfs_ = *real_;  // every VFS-level call passes through, but open and delete
  vfs_.pNext = nullptr;
  vfs_.zName = name_.c_str();
  vfs_.pAppData = this;
  vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
  vfs_.xOpen = &open;
  vfs_.xDelete = &remove;
  // The default VFS's calls look at their own pAppData: hand them the real VFS.
  vfs_.xAccess = [](sqlite3_vfs* v, const char* n, int f, int* out) { return of(v).real_->xAccess(of(v).real_, n, f, out); };
  vfs_.xFullPathname = [](sqlite3_vfs* v, const char* n, int size, char* out) {
    return of(v).real_->xFullPathname(of(v).real_, n, size, out);
  };
  vfs_.xDlOpen = nullptr;  // no extensions through this VFS
  vfs_.xDlError = nullptr;
  vfs_.xDlSym = nullptr;
  vfs_.xDlClose = nullptr;
  vfs_.xRandomness = [](sqlite3_vfs* v, int n, char* out) { return of(v).real_->xRandomness(of(v).real_, n, out); };
  vfs_.xSleep = [](sqlite3_vfs* v, int us) { return of(v).real_->xSleep(of(v).real_, us); };
  vfs_.xCurrentTime = [](sqlite3_vfs* v, double* out) { return of(v).real_->xCurrentTime(of(v).real_, out); };
  vfs_.xGetLastError = [](sqlite3_vfs* v, int n, char* out) { return of(v).real_->xGetLastError(of(v).real_, n, out); };
  vfs_.xCurrentTimeInt64 = [](sqlite3_vfs* v, sqlite3_int64* out) {
    return of(v).real_->xCurrentTimeInt64(of(v).real_, out);
  };
  vfs_.iVersion = 2;  // no system-call overrides
  vfs_.xSetSystemCall = nullptr;
  vfs_.xGetSystemCall = nullptr;
  vfs_.xNextSystemCall = nullptr;

  methods_.iVersion = 3;  // shared memory (WAL) and memory-mapped reads, passed through
  methods_.xClose = &close;
  methods_.xRead = [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
    return file_of(f).real()->pMethods->xRead(file_of(f).real(), b, n, o);
  };
  methods_.xWrite = &write;
  methods_.xTruncate = &truncate;
  methods_.xSync = &sync;
  methods_.xFileSize = [](sqlite3_file* f, sqlite3_int64* s) { return file_of(f).real()->pMethods->xFileSize(file_of(f).real(), s); };
  methods_.xLock = [](sqlite3_file* f, int l) { return file_of(f).real()->pMethods->xLock(file_of(f).real(), l); };
  methods_.xUnlock = [](sqlite3_file* f, int l) { return file_of(f).real()->pMethods->xUnlock(file_of(f).real(), l); };
  methods_.xCheckReservedLock = [](sqlite3_file* f, int* r) {
    return file_of(f).real()->pMethods->xCheckReservedLock(file_of(f).real(), r);
  };
  methods_.xFileControl = [](sqlite3_file* f, int op, void* a) {
    return file_of(f).real()->pMethods->xFileControl(file_of(f).real(), op, a);
  };
  methods_.xSectorSize = [](sqlite3_file* f) { return file_of(f).real()->pMethods->xSectorSize(file_of(f).real()); };
  methods_.xDeviceCharacteristics = [](sqlite3_file* f) {
    return file_of(f).real()->pMethods->xDeviceCharacteristics(file_of(f).real());
  };
  // The -shm file is memory: passed through as is, and removed by restore_disk().
  methods_.xShmMap = [](sqlite3_file* f, int p, int s, int e, void volatile** m) {
    return file_of(f).real()->pMethods->xShmMap(file_of(f).real(), p, s, e, m);
  };
  methods_.xShmLock = [](sqlite3_file* f, int o, int n, int fl) {
    return file_of(f).real()->pMethods->xShmLock(file_of(f).real(), o, n, fl);
  };
  methods_.xShmBarrier = [](sqlite3_file* f) { file_of(f).real()->pMethods->xShmBarrier(file_of(f).real()); };
  methods_.xShmUnmap = [](sqlite3_file* f, int d) { return file_of(f).real()->pMethods->xShmUnmap(file_of(f).real(), d); };
  // Mapped pages are only ever read, and writes go through to the real file,
  // so a mapping shows what SQLite wrote, as xRead does.
  methods_.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
    return file_of(f).real()->pMethods->xFetch(file_of(f).real(), o, n, p);
  };
  methods_.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) {
    return file_of(f).real()->pMethods->xUnfetch(file_of(f).real(), o, p);
  };

  if (sqlite3_vfs_register(&vfs_, 0) != SQLITE_OK) throw std::runtime_error("cannot register the power-cut VFS");
}

PowerCutVfs::~PowerCutVfs() { sqlite3_vfs_unregister(&vfs_); }

int PowerCutVfs::open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  PowerCutVfs& shim = of(vfs);
  File& wrapper = file_of(file);
  wrapper.shim = &shim;
  wrapper.path = name;
  wrapper.tracked = name != nullptr && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0;
  std::lock_guard lock(shim.mutex_);
  if (wrapper.tracked && shim.files_.count(name) == 0) {
    // First sight of this file: whatever is on disk now survives a cut.
    TrackedFile tracked;
    tracked.synced = read_whole_file(name);
    tracked.main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    shim.files_.emplace(name, std::move(tracked));
  }
  const int rc = shim.real_->xOpen(shim.real_, name, wrapper.real(), flags, out_flags);
  // SQLite calls xClose only when pMethods is set: mirror the real file.
  file->pMethods = wrapper.real()->pMethods != nullptr ? &shim.methods_ : nullptr;
  if (file->pMethods != nullptr) ++shim.open_files_;
  return rc;
}

int PowerCutVfs::remove(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  PowerCutVfs& shim = of(vfs);
  std::lock_guard lock(shim.mutex_);
  if (!shim.powered_) return SQLITE_IOERR_DELETE;
  const int rc = shim.real_->xDelete(shim.real_, name, sync_dir);
  if (rc == SQLITE_OK) {
    if (auto found = shim.files_.find(name); found != shim.files_.end()) found->second = TrackedFile{};
  }
  return rc;
}

int PowerCutVfs::close(sqlite3_file* file) {
  File& wrapper = file_of(file);
  const int rc = wrapper.real()->pMethods->xClose(wrapper.real());
  std::lock_guard lock(wrapper.shim->mutex_);
  --wrapper.shim->open_files_;
  file->pMethods = nullptr;
  return rc;
}

int PowerCutVfs::write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File& wrapper = file_of(file);
  std::lock_guard lock(wrapper.shim->mutex_);
  if (!wrapper.shim->powered_) return SQLITE_IOERR_WRITE;
  if (wrapper.shim->fail_next_write_) {
    wrapper.shim->fail_next_write_ = false;
    return SQLITE_IOERR_WRITE;
  }
  const int rc = wrapper.real()->pMethods->xWrite(wrapper.real(), data, amount, offset);
  if (rc == SQLITE_OK && wrapper.tracked) wrapper.shim->files_[wrapper.path].unsynced_bytes += static_cast<std::uint64_t>(amount);
  return rc;
}

int PowerCutVfs::truncate(sqlite3_file* file, sqlite3_int64 size) {
  File& wrapper = file_of(file);
  std::lock_guard lock(wrapper.shim->mutex_);
  if (!wrapper.shim->powered_) return SQLITE_IOERR_TRUNCATE;
  return wrapper.real()->pMethods->xTruncate(wrapper.real(), size);
}

// What a successful fsync makes durable: the whole file as it is now.
// Copying it all keeps the model obvious; test files are small, and the
// broker's WAL checkpoints keep the WAL short.
int PowerCutVfs::sync(sqlite3_file* file, int flags) {
  File& wrapper = file_of(file);
  std::unique_lock lock(wrapper.shim->mutex_);
  if (wrapper.shim->holding_syncs_) {
    ++wrapper.shim->syncs_held_;
    wrapper.shim->sync_released_.wait(lock, [&] { return !wrapper.shim->holding_syncs_; });
    --wrapper.shim->syncs_held_;
  }
  if (wrapper.shim->cut_at_next_sync_ && wrapper.tracked && wrapper.shim->files_[wrapper.path].unsynced_bytes > 0) {
    wrapper.shim->powered_ = false;
  }
  if (!wrapper.shim->powered_) return SQLITE_IOERR_FSYNC;
  sqlite3_file* real = wrapper.real();
  int rc = real->pMethods->xSync(real, flags);
  if (rc != SQLITE_OK || !wrapper.tracked) return rc;
  sqlite3_int64 size = 0;
  rc = real->pMethods->xFileSize(real, &size);
  if (rc != SQLITE_OK) return rc;
  std::string content(static_cast<std::size_t>(size), '\0');
  if (size > 0) {
    rc = real->pMethods->xRead(real, content.data(), static_cast<int>(size), 0);
    if (rc != SQLITE_OK) return rc;
  }
  TrackedFile& tracked = wrapper.shim->files_[wrapper.path];
  tracked.synced = std::move(content);
  tracked.unsynced_bytes = 0;
  ++wrapper.shim->syncs_;
  return SQLITE_OK;
}

void PowerCutVfs::hold_syncs() {
  std::lock_guard lock(mutex_);
  holding_syncs_ = true;
}

void PowerCutVfs::release_syncs() {
  {
    std::lock_guard lock(mutex_);
    holding_syncs_ = false;
  }
  sync_released_.notify_all();
}

int PowerCutVfs::syncs_held() const {
  std::lock_guard lock(mutex_);
  return syncs_held_;
}

void PowerCutVfs::power_cut() {
  std::lock_guard lock(mutex_);
  powered_ = false;
}

void PowerCutVfs::fail_next_write() {
  std::lock_guard lock(mutex_);
  fail_next_write_ = true;
}

void PowerCutVfs::cut_at_next_sync() {
  std::lock_guard lock(mutex_);
  cut_at_next_sync_ = true;
}

bool PowerCutVfs::powered() const {
  std::lock_guard lock(mutex_);
  return powered_;
}

std::uint64_t PowerCutVfs::restore_disk() {
  std::lock_guard lock(mutex_);
  if (open_files_ != 0) throw std::logic_error("restore_disk() with files still open through the power-cut VFS");
  std::uint64_t lost = 0;
  for (auto& [path, tracked] : files_) {
    lost += tracked.unsynced_bytes;
    tracked.unsynced_bytes = 0;
    if (tracked.synced) {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(tracked.synced->data(), static_cast<std::streamsize>(tracked.synced->size()));
      if (!out) throw std::runtime_error("cannot restore " + path);
    } else {
      std::filesystem::remove(path);
    }
    if (tracked.main_db) std::filesystem::remove(path + "-shm");
  }
  powered_ = true;
  cut_at_next_sync_ = false;
  return lost;
}

std::uint64_t PowerCutVfs::syncs() const {
  std::lock_guard lock(mutex_);
  return syncs_;
}

}  // namespace fpx::test
