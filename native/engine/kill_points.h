// Kill points (RocksDB whitebox crash testing): named places in the write,
// commit, segment, snapshot and heal paths where a test run may end the
// process abruptly. Off unless TESSERA_KILL_ODDS=N is set (N >= 1): then
// each time a point is reached the process calls _exit(9) with odds 1/N,
// after appending the point's name to TESSERA_KILL_LOG (when set) so a
// test can report which points fired; TESSERA_KILL_ONLY=<name> limits it to
// one point (so rare points get their turn). test/80.fault.killpoints.test.ts
// drives it; every name in kKillPoints must fire in its run.
#pragma once

namespace tessera {
namespace engine {

// Every point, for the coverage report (keep in sync with the call sites).
inline constexpr const char* kKillPoints[] = {
    "group.before_write",       // records laid out, nothing written
    "group.after_sync",         // durable on every drive, not yet published
    "group.after_publish",      // visible, callbacks not yet run
    "segment.after_allocate",   // file created and preallocated, no header
    "segment.before_dir_sync",  // header durable, directory entry not yet
    "file.before_rename",       // snapshot/FORMAT tmp synced, not renamed
    "file.before_dir_sync",     // renamed, directory not yet synced
    "heal.before_write",        // chunks rebuilt in memory
    "heal.before_sync",         // rebuilt chunks written, not fdatasync'd
};

// Fires (maybe) at point `name`; a no-op unless enabled by the environment.
void KillPoint(const char* name);

}  // namespace engine
}  // namespace tessera

#define KILL_POINT(name) ::tessera::engine::KillPoint(name)
