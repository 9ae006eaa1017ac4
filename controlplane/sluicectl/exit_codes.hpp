// sluicectl's exit codes: a contract with scripts (docs/operations.md, "Exit codes").
#pragma once

namespace sluice::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;        // bad command line (see --help)
inline constexpr int kExitRefused = 2;      // the daemon (or the validator) refused the input
inline constexpr int kExitUnreachable = 3;  // the daemon (or every dataplane) cannot be reached
inline constexpr int kExitNotFound = 4;     // the VIP or backend named does not exist
inline constexpr int kExitConflict = 5;     // it already exists (add of an existing VIP/backend)
inline constexpr int kExitDaemonError = 6;  // the daemon failed (e.g. could not persist the change)
inline constexpr int kExitForbidden = 7;    // the daemon refused the caller (SO_PEERCRED, HTTP 403)
// The shared state (etcd) changed meanwhile, on another host: read it again and retry (HTTP 412).
inline constexpr int kExitChangedMeanwhile = 8;

}  // namespace sluice::ctl
