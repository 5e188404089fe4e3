import Foundation

/// Why a test that needs root cannot run here, or `nil` when it can. Such a test is skipped when
/// not run as root, except in CI (`CI=true`), where a skip would pass an untested promise
/// unnoticed: there it must fail, unless `BITSFS_SKIP_ROOT_TESTS=1` says the skip is meant.
public func missingRoot(for purpose: String) -> (reason: String, mayBeSkipped: Bool)? {
  guard getuid() != 0 else { return nil }
  let environment = ProcessInfo.processInfo.environment
  if environment["BITSFS_SKIP_ROOT_TESTS"] == "1" {
    return ("\(purpose) needs root; skipped as BITSFS_SKIP_ROOT_TESTS=1 asks", true)
  }
  if environment["CI"] == "true" {
    return ("\(purpose) needs root: run the tests as root, or set BITSFS_SKIP_ROOT_TESTS=1 to skip it knowingly", false)
  }
  return ("\(purpose) needs root", true)
}
