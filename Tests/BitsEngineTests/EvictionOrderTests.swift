import XCTest

@testable import BitsEngine

/// The least-recently-used order, checked against a plain list model on every sequence of
/// operations up to a length, and on its edge cases by hand.
final class EvictionOrderTests: XCTestCase {
  func testEmptyOrderTakesNothing() {
    var order = EvictionOrder<Int>()
    XCTAssertTrue(order.takeOldest(freeing: 100).isEmpty)
    XCTAssertEqual(order.totalBytes, 0)
    XCTAssertNil(order.remove(1))
    order.touch(1)
    XCTAssertTrue(order.isEmpty, "touching a key not held does not add it")
  }

  func testOldestGoFirstAndTouchMovesToNewest() {
    var order = EvictionOrder<Int>()
    for key in 1...4 { order.insert(key, bytes: 10) }
    order.touch(2)
    XCTAssertEqual(order.keysOldestFirst, [1, 3, 4, 2])
    let taken = order.takeOldest(freeing: 15)
    XCTAssertEqual(taken.map(\.key), [1, 3], "enough for the bytes asked, oldest first")
    XCTAssertEqual(order.keysOldestFirst, [4, 2])
    XCTAssertEqual(order.totalBytes, 20)
  }

  func testInsertOfAHeldKeyMovesItAndReplacesItsBytes() {
    var order = EvictionOrder<Int>()
    order.insert(1, bytes: 10)
    order.insert(2, bytes: 10)
    order.insert(1, bytes: 4)
    XCTAssertEqual(order.keysOldestFirst, [2, 1])
    XCTAssertEqual(order.totalBytes, 14)
    XCTAssertEqual(order.bytes(of: 1), 4)
  }

  func testIneligibleKeysKeepTheirPlace() {
    var order = EvictionOrder<Int>()
    for key in 1...5 { order.insert(key, bytes: 1) }
    let taken = order.takeOldest(freeing: 2) { $0 % 2 == 0 }
    XCTAssertEqual(taken.map(\.key), [2, 4])
    XCTAssertEqual(order.keysOldestFirst, [1, 3, 5])
    XCTAssertTrue(order.takeOldest(freeing: 1) { _ in false }.isEmpty)
    XCTAssertEqual(order.takeOldest(freeing: 100).map(\.key), [1, 3, 5], "all there is, when not enough")
    XCTAssertTrue(order.isEmpty)
  }

  func testFreeingZeroTakesNothing() {
    var order = EvictionOrder<Int>()
    order.insert(1, bytes: 1)
    XCTAssertTrue(order.takeOldest(freeing: 0).isEmpty)
  }

  /// Every sequence of up to 4 operations on 3 keys, against a list kept oldest first.
  func testEverySequenceMatchesAListModel() {
    enum Operation: CaseIterable {
      case insert, touch, remove, take
    }
    let keys = [0, 1, 2]
    let steps = Operation.allCases.flatMap { operation in keys.map { (operation, $0) } }
    func run(_ sequence: [(Operation, Int)]) {
      var order = EvictionOrder<Int>()
      var model: [(key: Int, bytes: UInt64)] = []
      for (operation, key) in sequence {
        let bytes = UInt64(key + 1)
        switch operation {
        case .insert:
          order.insert(key, bytes: bytes)
          model.removeAll { $0.key == key }
          model.append((key, bytes))
        case .touch:
          order.touch(key)
          if let index = model.firstIndex(where: { $0.key == key }) { model.append(model.remove(at: index)) }
        case .remove:
          let removed = order.remove(key)
          let expected = model.first { $0.key == key }?.bytes
          XCTAssertEqual(removed, expected)
          model.removeAll { $0.key == key }
        case .take:
          // `key + 1` bytes to free, keys other than `key` only.
          let taken = order.takeOldest(freeing: bytes) { $0 != key }
          var expected: [Int] = []
          var freed: UInt64 = 0
          for entry in model where entry.key != key && freed < bytes {
            expected.append(entry.key)
            freed += entry.bytes
          }
          XCTAssertEqual(taken.map(\.key), expected, "\(sequence)")
          model.removeAll { expected.contains($0.key) }
        }
        XCTAssertEqual(order.keysOldestFirst, model.map(\.key), "\(sequence)")
        XCTAssertEqual(order.totalBytes, model.reduce(0) { $0 + $1.bytes }, "\(sequence)")
        XCTAssertEqual(order.count, model.count)
      }
    }
    var sequences: [[(Operation, Int)]] = [[]]
    for _ in 0..<4 {
      sequences = sequences.flatMap { sequence in steps.map { sequence + [$0] } }
      for sequence in sequences { run(sequence) }
    }
  }
}
