import BitsEngine
import Foundation
import TestSupport
import XCTest

@testable import BitsMount

/// Listings saved for the next mount reach the store on a thread of their own once no listing
/// came for the quiet period (or too many wait), and all of them by the time `finish()` (the
/// unmount) returns.
final class ListingSaverTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("bitsfs-saver-\(UUID().uuidString)")
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: directory)
  }

  private func location(_ index: Int) -> DirectoryLocation {
    DirectoryLocation(directoryURL: "http://saver.test/tree/d\(index)/")!
  }

  private func listing(_ index: Int) -> DirectoryListing {
    DirectoryListing(format: .nginxJSON, entries: [.init(name: "f\(index)", kind: .file, size: .exact(UInt64(index)))])
  }

  func testEverySavedListingIsWrittenWhenFinishReturns() {
    let store = ListingStore(cacheDirectory: directory)
    let saver = ListingSaver(store: store)
    for index in 0..<300 { saver.save(listing(index), of: location(index), readFrom: location(index)) }
    XCTAssertTrue(saver.finish())
    let missing = (0..<300).filter { store.load(location($0))?.0 != listing($0) }
    XCTAssertEqual(missing, [], "listings not written when finish returned")
  }

  func testListingsAreWrittenWithoutBeingAskedToFinish() {
    let store = ListingStore(cacheDirectory: directory)
    let saver = ListingSaver(store: store)
    for round in 0..<3 {
      for index in 0..<20 {
        let number = round * 20 + index
        saver.save(listing(number), of: location(number), readFrom: location(number))
      }
      XCTAssertTrue(
        waitUntil(timeout: 10) { (0..<(round + 1) * 20).allSatisfy { store.load(self.location($0)) != nil } },
        "round \(round): the thread writes, and starts again for listings that come after it ended")
    }
  }

  func testNothingIsWrittenWithinTheQuietPeriodAndFinishDoesNotWaitForIt() {
    let store = ListingStore(cacheDirectory: directory)
    let saver = ListingSaver(store: store, quietPeriod: .seconds(3600))
    for index in 0..<10 { saver.save(listing(index), of: location(index), readFrom: location(index)) }
    usleep(300_000)
    XCTAssertEqual((0..<10).filter { store.load(location($0)) != nil }, [], "written before the quiet period")
    XCTAssertTrue(saver.finish(), "the thread waiting for the quiet period ends when asked to finish")
    XCTAssertEqual((0..<10).filter { store.load(location($0)) == nil }, [])
  }

  func testPastThePendingLimitListingsAreWrittenWithoutWaiting() {
    let store = ListingStore(cacheDirectory: directory)
    let saver = ListingSaver(store: store, quietPeriod: .seconds(3600), pendingLimit: 5)
    for index in 0..<20 { saver.save(listing(index), of: location(index), readFrom: location(index)) }
    XCTAssertTrue(
      waitUntil(timeout: 10) { (0..<15).allSatisfy { store.load(self.location($0)) != nil } },
      "listings past the limit of five entries waiting are written")
    XCTAssertEqual((15..<20).filter { store.load(location($0)) != nil }, [], "the five within it wait")
    saver.finish()
  }
}
