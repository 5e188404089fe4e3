import BitsEngine
import Foundation
import TestSupport
import XCTest

@testable import BitsMount

/// The control socket: private to its owner, and made without touching the process's file
/// mode creation mask, which every thread shares (a file another thread creates meanwhile
/// must get the mode the mask gives, not the socket's).
final class ControlSocketTests: XCTestCase {
  private var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("control-socket-\(getpid())")
    try FileManager.default.createDirectory(
      at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  func testTheSocketIsTheOwnersOnly() throws {
    let path = directory.appendingPathComponent("a.sock").path
    let socket = try UnixSocket.listen(at: path)
    var info = stat()
    XCTAssertEqual(lstat(path, &info), 0)
    XCTAssertEqual(info.st_mode & S_IFMT, S_IFSOCK)
    XCTAssertEqual(info.st_mode & 0o777, 0o600)
    socket.shutDown()
  }

  func testASocketOutsideAPrivateDirectoryIsRefused() throws {
    let open = directory.appendingPathComponent("open")
    try FileManager.default.createDirectory(
      at: open, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    do {
      let socket = try UnixSocket.listen(at: open.appendingPathComponent("a.sock").path)
      socket.shutDown()
      XCTFail("a socket in a directory others can enter")
    } catch {
      XCTAssertEqual(error.code, .accessDenied)
    }
  }

  func testFilesOtherThreadsCreateMeanwhileKeepTheModeOfTheMask() throws {
    let mask = umask(0o022)
    defer { umask(mask) }
    let watch = try FileModeWatch(in: directory.appendingPathComponent("files"), expecting: 0o644)
    for round in 0..<2_000 {
      let socket = try UnixSocket.listen(at: directory.appendingPathComponent("s\(round % 8).sock").path)
      socket.shutDown()
    }
    XCTAssertEqual(watch.stop().prefix(5), [], "files made while sockets were made")
  }
}
