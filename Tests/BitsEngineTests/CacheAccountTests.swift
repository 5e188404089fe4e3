import XCTest

@testable import BitsEngine

/// What the cache counts and what it chooses to evict, with no disk.
final class CacheAccountTests: XCTestCase {
  private func account(maximum: UInt64?, minimumFree: UInt64 = 0) -> CacheAccount {
    CacheAccount(limits: .init(maximumBytes: maximum, minimumFreeBytes: minimumFree))
  }

  private func blocks(_ indexes: ClosedRange<UInt64>, bytes: UInt64 = 10) -> [(index: UInt64, bytes: UInt64)] {
    indexes.map { ($0, bytes) }
  }

  func testUsedBytesCountBlocksMetadataIdleEntriesAndOtherFiles() {
    var account = account(maximum: 1000)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 7)
    account.hold(1, blocks(0...2))
    account.setScanned(idle: [IdleEntry(path: "/c/b", bytes: 100, lastUse: 5)], otherBytes: 3)
    XCTAssertEqual(account.usedBytes, 30 + 7 + 100 + 3)
    account.updateMetadata(of: 1, bytes: 9)
    XCTAssertEqual(account.usedBytes, 30 + 9 + 100 + 3)
    account.unregister(1)
    XCTAssertEqual(account.usedBytes, 103)
  }

  func testTheFilesOwnEntryIsNotIdle() {
    var account = account(maximum: 1000)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    account.setScanned(
      idle: [IdleEntry(path: "/c/a", bytes: 50, lastUse: 1), IdleEntry(path: "/c/b", bytes: 60, lastUse: 2)],
      otherBytes: 0)
    XCTAssertEqual(account.usedBytes, 60)
    // Registered after the scan: its entry stops being idle.
    account.register(2, entryPath: "/c/b", evictable: true, metadataBytes: 0)
    XCTAssertEqual(account.usedBytes, 0)
  }

  func testNothingIsEvictedWithinTheLimit() {
    var account = account(maximum: 100)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    account.hold(1, blocks(0...8))
    XCTAssertEqual(account.excess(incoming: 10, freeBytes: nil), 0)
    XCTAssertTrue(account.plan(incoming: 10, freeBytes: nil).isEmpty)
    XCTAssertEqual(account.excess(incoming: 11, freeBytes: nil), 1)
  }

  func testIdleEntriesGoFirstOldestFirstThenTheOldestBlocks() {
    var account = account(maximum: 100)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    account.hold(1, blocks(0...4))
    account.touch(1, [0])
    let old = IdleEntry(path: "/c/old", bytes: 20, lastUse: 1)
    let new = IdleEntry(path: "/c/new", bytes: 20, lastUse: 9)
    account.setScanned(idle: [new, old], otherBytes: 0)
    XCTAssertEqual(account.usedBytes, 90)
    let plan = account.plan(incoming: 65, freeBytes: nil)
    XCTAssertEqual(plan.entries, [old, new])
    // 90 + 65 is 55 over: both entries, then 15 bytes of blocks.
    XCTAssertEqual(plan.blocks.map(\.block.index), [1, 2], "then blocks, least recently used first")
    XCTAssertEqual(account.usedBytes, 90, "chosen bytes count until they are gone")
    account.released(old)
    account.released(new)
    for block in plan.blocks { account.settle(block, evicted: true) }
    XCTAssertEqual(account.usedBytes, 30)
    XCTAssertEqual(account.blocks(of: 1), [3, 4, 0])
  }

  /// Readers' blocks and idle entries go before any of fill's, however old fill's are: fill
  /// holds its share of the cache only, and would fetch again what it lost.
  func testWhatFillHoldsIsEvictedAfterEverythingElse() {
    var account = account(maximum: 100)
    account.register(1, entryPath: "/c/fill", evictable: true, metadataBytes: 0)
    account.register(2, entryPath: "/c/read", evictable: true, metadataBytes: 0)
    account.setHeldByFill("/c/fill", true)
    account.setHeldByFill("/c/closed", true)
    account.hold(1, blocks(0...3))
    account.hold(2, blocks(0...3))
    let idle = IdleEntry(path: "/c/old", bytes: 10, lastUse: 1)
    let closed = IdleEntry(path: "/c/closed", bytes: 10, lastUse: 0)
    account.setScanned(idle: [closed, idle], otherBytes: 0)
    XCTAssertEqual(account.usedBytes, 100)
    var plan = account.plan(incoming: 50, freeBytes: nil)
    XCTAssertEqual(plan.entries, [idle], "the idle entry fill does not hold, though it is the newer")
    XCTAssertEqual(plan.blocks.map(\.block), (0...3).map { CacheBlock(file: 2, index: $0) }, "then the reader's")
    for block in plan.blocks { account.settle(block, evicted: true) }
    account.released(idle)
    XCTAssertEqual(account.usedBytes, 50)
    plan = account.plan(incoming: 70, freeBytes: nil)
    XCTAssertEqual(plan.entries, [closed], "only when nothing else is left: fill's, idle entries first")
    XCTAssertEqual(plan.blocks.map(\.block), [CacheBlock(file: 1, index: 0)])
    for block in plan.blocks { account.settle(block, evicted: true) }
    account.released(closed)
    account.setHeldByFill("/c/fill", false)
    plan = account.plan(incoming: 80, freeBytes: nil)
    XCTAssertEqual(plan.blocks.map(\.block.index), [1], "a cancelled fill's blocks age as any")
  }

  /// A file closed with its entry kept: its bytes count as an idle entry, last used then, and
  /// it stays held by fill if it was.
  func testAFileClosedWithItsEntryKeptCountsAsIdle() {
    var account = account(maximum: 100)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 5)
    account.hold(1, blocks(0...2))
    let older = IdleEntry(path: "/c/older", bytes: 10, lastUse: 3)
    let newer = IdleEntry(path: "/c/newer", bytes: 10, lastUse: 9)
    account.setScanned(idle: [older, newer], otherBytes: 0)
    account.setHeldByFill("/c/a", true)
    account.unregister(1, idleSince: 5)
    XCTAssertEqual(account.usedBytes, 35 + 20, "its blocks and small files still count")
    let plan = account.plan(incoming: 100, freeBytes: nil)
    XCTAssertEqual(plan.entries.map(\.path), ["/c/older", "/c/newer", "/c/a"], "fill's last")
    XCTAssertEqual(plan.entries.last?.bytes, 35)
    // Opened again: no longer idle.
    var again = self.account(maximum: 100)
    again.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 5)
    again.hold(1, blocks(0...2))
    again.unregister(1, idleSince: 5)
    again.register(2, entryPath: "/c/a", evictable: true, metadataBytes: 5)
    XCTAssertEqual(again.usedBytes, 5)
  }

  func testABlockInUseIsHeldAgainAsTheNewest() {
    var account = account(maximum: 30)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    account.hold(1, blocks(0...2))
    let plan = account.plan(incoming: 10, freeBytes: nil)
    XCTAssertEqual(plan.blocks.map(\.block.index), [0])
    account.settle(plan.blocks[0], evicted: false)
    XCTAssertEqual(account.blocks(of: 1), [1, 2, 0])
    XCTAssertEqual(account.usedBytes, 30)
    XCTAssertEqual(account.plan(incoming: 10, freeBytes: nil).blocks.map(\.block.index), [1], "the next round")
  }

  func testBlocksOfFilesThatMayNotBeEvictedCountButAreNeverChosen() {
    var account = account(maximum: 50)
    account.register(1, entryPath: "/c/a", evictable: false, metadataBytes: 0)
    account.register(2, entryPath: "/c/b", evictable: true, metadataBytes: 0)
    account.hold(1, blocks(0...2))
    account.hold(2, blocks(0...1))
    let plan = account.plan(incoming: 30, freeBytes: nil)
    XCTAssertEqual(plan.blocks.map(\.block), [CacheBlock(file: 2, index: 0), CacheBlock(file: 2, index: 1)])
    for block in plan.blocks { account.settle(block, evicted: true) }
    XCTAssertEqual(account.excess(incoming: 30, freeBytes: nil), 10, "what cannot be freed stays over")
  }

  func testAnIdleEntryHeldElsewhereCountsAndIsNotChosenAgain() {
    var account = account(maximum: 10)
    let entry = IdleEntry(path: "/c/x", bytes: 40, lastUse: 1)
    account.setScanned(idle: [entry], otherBytes: 0)
    let plan = account.plan(incoming: 0, freeBytes: nil)
    XCTAssertEqual(plan.entries, [entry])
    account.kept(entry)
    XCTAssertEqual(account.usedBytes, 40)
    let again = account.plan(incoming: 0, freeBytes: nil)
    XCTAssertTrue(again.isEmpty)
    XCTAssertEqual(account.excess(incoming: 0, freeBytes: nil), 30)
  }

  func testMinimumFreeSpaceEvictsWithoutALimit() {
    var account = account(maximum: nil, minimumFree: 100)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    account.hold(1, blocks(0...9))
    XCTAssertEqual(account.excess(incoming: 10, freeBytes: 110), 0)
    XCTAssertEqual(account.excess(incoming: 10, freeBytes: 95), 15)
    XCTAssertEqual(account.plan(incoming: 10, freeBytes: 95).blocks.count, 2)
    XCTAssertEqual(account.excess(incoming: 1 << 40, freeBytes: nil), 0, "no limit, free space unknown")
  }

  func testTheLargerOfTheTwoExcessesCounts() {
    var account = account(maximum: 100, minimumFree: 50)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    account.hold(1, blocks(0...9))
    XCTAssertEqual(account.excess(incoming: 20, freeBytes: 60), 20, "the limit's 20 over the free space's 10")
    XCTAssertEqual(account.excess(incoming: 20, freeBytes: 20), 50, "the free space's 50 over the limit's 20")
  }

  func testHugeNumbersDoNotOverflow() {
    var account = account(maximum: 10, minimumFree: .max)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    XCTAssertEqual(account.excess(incoming: .max, freeBytes: 0), .max)
  }

  func testForgottenBlocksStopCountingAndUnregisteredFilesAreNotHeldAgain() {
    var account = account(maximum: 20)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    account.hold(1, blocks(0...2))
    let plan = account.plan(incoming: 0, freeBytes: nil)
    account.forgetBlocks(of: 1)
    XCTAssertEqual(account.usedBytes, 10, "only what is being released")
    account.unregister(1)
    account.settle(plan.blocks[0], evicted: false)
    XCTAssertEqual(account.usedBytes, 0)
    account.hold(1, blocks(0...0))
    XCTAssertEqual(account.usedBytes, 0, "a file not registered holds nothing")
  }

  func testIncomingCountsOnlyBlocksNotHeld() {
    var account = account(maximum: 100)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    account.hold(1, blocks(0...1))
    XCTAssertEqual(account.incoming(1, blocks(1...3)), 20)
    XCTAssertEqual(account.incoming(2, blocks(1...3)), 30, "another file's blocks are its own")
  }

  func testBytesCountedButNotYetAllocatedCountAgainstTheFreeSpaceOnly() {
    var account = account(maximum: 100, minimumFree: 50)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    account.hold(1, blocks(0...9))
    account.expectAllocation(30)
    XCTAssertEqual(account.excess(incoming: 0, freeBytes: 100), 0, "the limit counts them already")
    account.expectAllocation(40)
    XCTAssertEqual(account.excess(incoming: 0, freeBytes: 100), 20, "the free space does not yet")
    XCTAssertEqual(account.plan(incoming: 0, freeBytes: 100).blocks.count, 2)
    account.allocationDone(70)
    XCTAssertEqual(account.excess(incoming: 0, freeBytes: 80), 0, "once allocated, the free space shows them")
    account.allocationDone(10)
    XCTAssertEqual(account.unallocatedBytes, 0, "never below nothing")
  }

  func testForgottenBlocksOfAFailedRequestStopCounting() {
    var account = account(maximum: 100)
    account.register(1, entryPath: "/c/a", evictable: true, metadataBytes: 0)
    account.hold(1, blocks(0...3))
    account.forget(1, [2, 3, 7])
    XCTAssertEqual(account.usedBytes, 20)
    XCTAssertEqual(account.blocks(of: 1), [0, 1])
    XCTAssertFalse(account.isHeld(CacheBlock(file: 1, index: 2)))
  }
}
