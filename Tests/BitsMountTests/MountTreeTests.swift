import BitsEngine
import XCTest

@testable import BitsMount

final class MountTreeTests: XCTestCase {
  let location = DirectoryLocation.page(url: "http://h/d/")
  let start = ContinuousClock.now

  func testPlacingMakesDirectoriesAndRefusesTakenPaths() throws {
    var tree = MountTree()
    let a = try tree.place(url: "http://h/a", location: nil, at: ["x", "y", "a"])
    let b = try tree.place(url: "http://h/b", location: nil, at: ["x", "b"])
    XCTAssertEqual(tree.path(of: a), "x/y/a")
    XCTAssertEqual(tree.child(named: "b", in: tree.child(named: "x", in: MountTree.root)!), b)
    XCTAssertThrowsError(try tree.place(url: "http://h/c", location: nil, at: ["x", "b"])) {
      XCTAssertEqual($0 as? MountTreeError, .taken("x/b"))
    }
    XCTAssertThrowsError(try tree.place(url: "http://h/c", location: nil, at: ["x", "b", "c"])) {
      XCTAssertEqual($0 as? MountTreeError, .placedBelowFile("x/b"))
    }
    XCTAssertEqual(try tree.place(url: "http://h/d/", location: location, at: []), MountTree.root)
    XCTAssertThrowsError(try tree.place(url: "http://h/e/", location: location, at: []))
  }

  func testAListingKeepsTheNodesOfNamesThatStayAndSaysWhichWent() throws {
    var tree = MountTree()
    _ = try tree.place(url: "http://h/d/", location: location, at: [])
    let first = DirectoryListing(
      format: .nginxJSON,
      entries: [
        .init(name: "f", kind: .file, size: .exact(3)), .init(name: "g", kind: .file, size: .exact(4)),
        .init(name: "s", kind: .directory),
      ])
    XCTAssertEqual(tree.apply(first, from: location, to: MountTree.root, at: start), [])
    let f = tree.child(named: "f", in: MountTree.root)!
    let g = tree.child(named: "g", in: MountTree.root)!
    XCTAssertEqual(tree.url(of: f), "http://h/d/f")
    XCTAssertEqual(tree.directory(tree.child(named: "s", in: MountTree.root)!)?.location, .page(url: "http://h/d/s/"))
    let second = DirectoryListing(
      format: .nginxJSON,
      entries: [.init(name: "g", kind: .directory), .init(name: "f", kind: .file, size: .exact(5))])
    XCTAssertEqual(tree.apply(second, from: location, to: MountTree.root, at: start), ["s"])
    XCTAssertEqual(tree.child(named: "f", in: MountTree.root), f, "same name, same kind: same node")
    XCTAssertEqual(tree.file(f)?.size, .exact(5))
    XCTAssertNotEqual(tree.child(named: "g", in: MountTree.root), g, "a file that became a directory is new")
    XCTAssertNil(tree.child(named: "s", in: MountTree.root))
    XCTAssertEqual(tree.children(of: MountTree.root).map { tree[$0].name }, ["g", "f"])
  }

  func testALearnedExactSizeOutlivesARoundedListing() throws {
    var tree = MountTree()
    _ = try tree.place(url: "http://h/d/", location: location, at: [])
    let rounded = DirectoryListing(
      format: .apacheHTML, entries: [.init(name: "f", kind: .file, size: .approximate(1000...1100))])
    _ = tree.apply(rounded, from: location, to: MountTree.root, at: start)
    let f = tree.child(named: "f", in: MountTree.root)!
    tree.learn(size: 1024, modified: nil, of: f)
    _ = tree.apply(rounded, from: location, to: MountTree.root, at: start)
    XCTAssertEqual(tree.file(f)?.size, .exact(1024))
  }

  func testPlacedEntriesComeFirstAndAreNotHiddenByAListing() throws {
    var tree = MountTree()
    _ = try tree.place(url: "http://h/d/", location: location, at: [])
    let placed = try tree.place(url: "http://other/f", location: nil, at: ["f"])
    let listing = DirectoryListing(
      format: .nginxJSON, entries: [.init(name: "a", kind: .file), .init(name: "f", kind: .file, size: .exact(1))])
    _ = tree.apply(listing, from: location, to: MountTree.root, at: start)
    XCTAssertEqual(tree.child(named: "f", in: MountTree.root), placed)
    XCTAssertEqual(tree.children(of: MountTree.root).map { tree[$0].name }, ["f", "a"])
  }

  func testFreshnessFollowsTheTimeToLiveAndHoldsAfterAFailure() throws {
    var tree = MountTree()
    _ = try tree.place(url: "http://h/d/", location: location, at: [])
    let fixed = try tree.place(url: "http://h/x", location: nil, at: ["p", "x"])
    let ttl = Duration.seconds(10)
    let hold = Duration.seconds(3)
    XCTAssertEqual(tree.freshness(of: tree[fixed].parent, at: start, timeToLive: ttl, failureHold: hold), .fresh)
    XCTAssertEqual(tree.freshness(of: MountTree.root, at: start, timeToLive: ttl, failureHold: hold), .unlisted)
    _ = tree.apply(DirectoryListing(format: .nginxJSON, entries: []), from: location, to: MountTree.root, at: start)
    XCTAssertEqual(
      tree.freshness(of: MountTree.root, at: start + .seconds(9), timeToLive: ttl, failureHold: hold), .fresh)
    XCTAssertEqual(
      tree.freshness(of: MountTree.root, at: start + .seconds(10), timeToLive: ttl, failureHold: hold), .stale)
    tree.listingFailed(MountTree.root, at: start + .seconds(10))
    XCTAssertEqual(
      tree.freshness(of: MountTree.root, at: start + .seconds(12), timeToLive: ttl, failureHold: hold), .fresh)
    XCTAssertEqual(
      tree.freshness(of: MountTree.root, at: start + .seconds(13), timeToLive: ttl, failureHold: hold), .stale)
  }

  func testAWalkLooksAheadAtTheSiblingsItWillWant() throws {
    var tree = MountTree()
    _ = try tree.place(url: "http://h/d/", location: location, at: [])
    let entries = (0..<20).map { DirectoryListing.Entry(name: "e\($0)", kind: $0 % 2 == 0 ? .file : .directory) }
    _ = tree.apply(
      DirectoryListing(format: .nginxJSON, entries: entries), from: location, to: MountTree.root, at: start)
    let node = { (index: Int) -> Int in tree.child(named: "e\(index)", in: MountTree.root)! }
    let isDirectory: (Int, MountTree.Content) -> Bool = { if case .directory = $1 { true } else { false } }
    let found = { (node: Int, count: Int, reach: Int) in
      tree.siblings(after: node, count: count, reach: reach, where: isDirectory).found
    }
    XCTAssertEqual(found(node(1), 3, 256), [node(3), node(5), node(7)])
    XCTAssertEqual(found(node(15), 3, 256), [node(17), node(19)])
    XCTAssertEqual(found(node(1), 3, 3), [node(3)])
    XCTAssertEqual(
      tree.siblings(after: node(2), count: 2, where: { sibling, _ in sibling != node(3) }).found, [node(4), node(5)])
    XCTAssertEqual(found(MountTree.root, 3, 256), [])
    // A later call goes on from where the last one stopped, never looking at an entry twice.
    let first = tree.siblings(after: node(1), count: 2, where: isDirectory)
    XCTAssertEqual(first.found, [node(3), node(5)])
    XCTAssertEqual(first.next, 6)
    var examined: [Int] = []
    let second = tree.siblings(after: node(3), from: first.next, count: 2) { sibling, content in
      examined.append(sibling)
      return isDirectory(sibling, content)
    }
    XCTAssertEqual(second.found, [node(7), node(9)])
    XCTAssertEqual(examined, (6...9).map(node), "entries before the last call's stop are not looked at again")
    XCTAssertEqual(second.next, 10)
    XCTAssertEqual(tree.siblings(after: node(1), from: 12, count: 1, reach: 4, where: isDirectory).next, 12)
  }
}
