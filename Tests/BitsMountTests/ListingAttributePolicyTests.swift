import XCTest

@testable import BitsMount

/// When a listing gives the kernel its files' attributes: past its start or for a large
/// directory always, at the start of a small one only within the span after a file's lookup.
final class ListingAttributePolicyTests: XCTestCase {
  let start = ContinuousClock.now

  func testASmallDirectoryLeavesFilesOutUntilAFileIsLookedUp() {
    var policy = ListingAttributePolicy()
    XCTAssertFalse(policy.filesCarryAttributes(offset: 0, entryCount: 102, at: start))
    XCTAssertFalse(policy.filesCarryAttributes(offset: 0, entryCount: policy.smallDirectory, at: start))
    policy.fileLookedUp(at: start)
    XCTAssertTrue(policy.filesCarryAttributes(offset: 0, entryCount: 102, at: start))
    XCTAssertTrue(policy.filesCarryAttributes(offset: 0, entryCount: 102, at: start + policy.demandSpan / 2))
    XCTAssertFalse(policy.filesCarryAttributes(offset: 0, entryCount: 102, at: start + policy.demandSpan))
    policy.fileLookedUp(at: start + policy.demandSpan * 3)
    XCTAssertTrue(policy.filesCarryAttributes(offset: 0, entryCount: 102, at: start + policy.demandSpan * 3))
  }

  func testALargeDirectoryAndRepliesPastTheStartCarryThemAlways() {
    let policy = ListingAttributePolicy()
    XCTAssertTrue(policy.filesCarryAttributes(offset: 0, entryCount: policy.smallDirectory + 1, at: start))
    XCTAssertTrue(policy.filesCarryAttributes(offset: 1, entryCount: 102, at: start))
    XCTAssertTrue(policy.filesCarryAttributes(offset: 5000, entryCount: 10_002, at: start))
  }
}
