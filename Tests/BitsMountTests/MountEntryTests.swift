import BitsEngine
import XCTest

@testable import BitsMount

final class MountEntryTests: XCTestCase {
  func testAnArgumentIsAURLOrAURLWithAPath() throws {
    XCTAssertEqual(try MountEntry(argument: "http://h/a.bin"), MountEntry(url: "http://h/a.bin"))
    XCTAssertEqual(
      try MountEntry(argument: "http://h/a.bin=x/y z.bin"), MountEntry(url: "http://h/a.bin", path: ["x", "y z.bin"]))
    // An `=` in the query is the URL's own.
    XCTAssertEqual(
      try MountEntry(argument: "http://h/a.bin?X-Signature=abc"), MountEntry(url: "http://h/a.bin?X-Signature=abc"))
    XCTAssertThrowsError(try MountEntry(argument: "http://h/a.bin=x/../y"))
  }

  func testAManifestGivesOneEntryALineAndNamesTheBadLine() throws {
    let text = """
      # data
      http://h/a.bin

      http://h/b.bin   some dir/b.bin
      \thttp://h/tree/ trees/one  
      """
    XCTAssertEqual(
      try MountEntry.manifest(text, name: "m"),
      [
        MountEntry(url: "http://h/a.bin"), MountEntry(url: "http://h/b.bin", path: ["some dir", "b.bin"]),
        MountEntry(url: "http://h/tree/", path: ["trees", "one"]),
      ])
    XCTAssertThrowsError(try MountEntry.manifest("http://h/a\nhttp://h/b ..\n", name: "m")) { error in
      XCTAssertTrue((error as! BitsError).message.hasPrefix("m, line 2:"), "\(error)")
    }
  }

  func testDefaultPlacements() throws {
    XCTAssertEqual(try MountEntry(url: "http://h/d/a%20b.bin?q=1").placement(alone: true), ["a b.bin"])
    XCTAssertEqual(try MountEntry(url: "http://h/d/tree/").placement(alone: true), [])
    XCTAssertEqual(try MountEntry(url: "http://h/d/tree/").placement(alone: false), ["tree"])
    XCTAssertThrowsError(try MountEntry(url: "http://h/").placement(alone: false))
    XCTAssertThrowsError(try MountEntry(url: "http://h/d/..").placement(alone: true))
    XCTAssertTrue(MountEntry(url: "http://h/d/?x=1").isDirectory)
    XCTAssertFalse(MountEntry(url: "http://h/d?x=/").isDirectory)
  }
}
