import Foundation
import TestSupport
import XCTest

// What some tests need of the machine (root, /dev/fuse, installed tools), checked one way for every
// test target.
// Apart from TestSupport, which the benchmarks link and which so has no XCTest.

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

/// Why a test that mounts cannot run here, or `nil` when it can: without `/dev/fuse` it fails,
/// unless `BITSFS_SKIP_FUSE_TESTS=1` says the skip is meant.
public func missingFUSE(for purpose: String) -> (reason: String, mayBeSkipped: Bool)? {
  guard !FileManager.default.fileExists(atPath: "/dev/fuse") else { return nil }
  if ProcessInfo.processInfo.environment["BITSFS_SKIP_FUSE_TESTS"] == "1" {
    return ("\(purpose) needs /dev/fuse; skipped as BITSFS_SKIP_FUSE_TESTS=1 asks", true)
  }
  return ("/dev/fuse is missing: \(purpose) cannot run (set BITSFS_SKIP_FUSE_TESTS=1 to skip it)", false)
}

extension XCTestCase {
  /// Skips the test unless it runs as root, or fails it where such a skip must not pass (CI).
  public func requireRoot(for purpose: String) throws {
    try require(missingRoot(for: purpose))
  }

  /// Fails the test without /dev/fuse, unless a skip is asked for.
  public func requireFUSE(for purpose: String) throws {
    try require(missingFUSE(for: purpose))
  }

  /// Skips the test when `missing` says what it needs is not installed here (a server, a tool, a
  /// build), and fails it in CI (`CI=true`), where the setup script installs every one.
  public func requireInstalled(_ missing: String?) throws {
    try require(missing.map { ($0, ProcessInfo.processInfo.environment["CI"] != "true") })
  }

  /// Fails the test when the `bitsfs` it runs was not built.
  public func requireBitsfsBinary() throws {
    try require(
      FileManager.default.isExecutableFile(atPath: bitsfsBinary)
        ? nil : ("no bitsfs binary at \(bitsfsBinary): run `swift build` before `swift test`", false))
  }

  private func require(_ missing: (reason: String, mayBeSkipped: Bool)?) throws {
    guard let missing else { return }
    if !missing.mayBeSkipped { XCTFail(missing.reason) }
    throw XCTSkip(missing.reason)
  }
}
