// A SQLite VFS that simulates a power cut, for durability tests.
//
// It wraps SQLite's default VFS and passes every call through, so SQLite
// reads and writes real files as usual, and it remembers for each database
// and WAL file what a disk would still hold after losing power: the file's
// content at its last xSync. power_cut() makes every later write, sync,
// truncate and delete fail (the disk is gone: nothing more reaches it);
// restore_disk() then puts every file back to its last synced content (a
// file never synced disappears) and removes the -shm file, which SQLite
// maps into memory and which never survives a power loss. A store opened
// again afterwards sees exactly what an fsync promised, nothing more.
//
// Deleting a file counts as durable at once (SQLite deletes only the WAL,
// and only after a checkpoint has synced the database).
//
// Registered under its own name, never as the default, so only connections
// that ask for it (open_sqlite_store(path, vfs.name())) go through it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <sqlite3.h>

namespace fpx::test {

class PowerCutVfs {
 public:
  explicit PowerCutVfs(std::string name = "fpx-test-power-cut");
  ~PowerCutVfs();
  PowerCutVfs(const PowerCutVfs&) = delete;
  PowerCutVfs& operator=(const PowerCutVfs&) = delete;

  const std::string& name() const { return name_; }

  // From now on every write, sync, truncate and delete fails with an I/O error.
  void power_cut();
  // The next write fails with an I/O error; the disk works again after it
  // (a transient fault, not a power cut).
  void fail_next_write();
  // Cuts the power at the next xSync of a file holding unsynced writes,
  // instead of syncing it: the worst moment, a transaction written but not
  // yet durable.
  void cut_at_next_sync();
  bool powered() const;
  // Once every file opened through the shim is closed: rewrites each file
  // as it was at its last sync and turns the power back on. Returns how
  // many bytes had been written since their file's last sync (the data the
  // cut destroyed).
  std::uint64_t restore_disk();

  // xSync calls that reached the disk, over the shim's life.
  std::uint64_t syncs() const;

  // Every later xSync waits, its writes not yet synced, until
  // release_syncs(): a test sees what the broker does meanwhile (the
  // pipelined commit's receipts wait for the sync). Writes go on.
  void hold_syncs();
  void release_syncs();
  // xSync calls waiting now.
  int syncs_held() const;

 private:
  struct File;
  struct TrackedFile {
    std::optional<std::string> synced;  // content at the last sync; nullopt: never synced
    std::uint64_t unsynced_bytes = 0;   // written since that sync
    bool main_db = false;
  };

  static PowerCutVfs& of(sqlite3_vfs* vfs);
  static File& file_of(sqlite3_file* file);
  static int open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags);
  static int remove(sqlite3_vfs* vfs, const char* name, int sync_dir);
  static int close(sqlite3_file* file);
  static int write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset);
  static int truncate(sqlite3_file* file, sqlite3_int64 size);
  static int sync(sqlite3_file* file, int flags);

  std::string name_;
  sqlite3_vfs* real_ = nullptr;
  sqlite3_vfs vfs_{};
  sqlite3_io_methods methods_{};

  // The broker's store thread does the I/O while a test thread cuts the power.
  mutable std::mutex mutex_;
  bool powered_ = true;
  bool cut_at_next_sync_ = false;
  bool fail_next_write_ = false;
  bool holding_syncs_ = false;
  int syncs_held_ = 0;
  std::condition_variable sync_released_;
  int open_files_ = 0;
  std::uint64_t syncs_ = 0;
  std::map<std::string, TrackedFile> files_;  // by full path
};

}  // namespace fpx::test
