import BitsEngine
import Foundation
import XCTest

@testable import BitsEngine

/// The stored form of a listing: it reads back exactly, refuses anything else, and holds no URL.
final class StoredListingTests: XCTestCase {
  private let listing = DirectoryListing(
    format: .s3ListObjectsV2,
    entries: [
      .init(name: "a file.bin", kind: .file, size: .exact(1234), modified: Date(timeIntervalSince1970: 1_795_514_400)),
      .init(name: "sub", kind: .directory),
      .init(
        name: "späť #%?.txt", kind: .file, size: .approximate(1024...2048), modified: Date(timeIntervalSince1970: 1.5)),
      .init(name: "empty", kind: .file, size: .exact(0)),
    ],
    refusedNames: ["..", "a/b"], continuationToken: "token/+=")

  private var stored: StoredListing {
    StoredListing(
      check: 0xFEED_0123_4567_89AB, savedAt: Date(timeIntervalSince1970: 1_795_514_401.25),
      readAsS3PathStyle: true, listing: listing)
  }

  func testAListingReadsBackExactly() {
    XCTAssertEqual(StoredListing(decoding: stored.encoded()), stored)
    var plain = stored
    plain.listing = DirectoryListing(format: .pythonHTML, entries: [])
    plain.readAsS3PathStyle = false
    XCTAssertEqual(StoredListing(decoding: plain.encoded()), plain)
  }

  func testEveryShortenedOrLengthenedRecordIsRefused() {
    let bytes = stored.encoded()
    for length in 0..<bytes.count {
      XCTAssertNil(StoredListing(decoding: Array(bytes.prefix(length))), "\(length) of \(bytes.count) bytes")
    }
    XCTAssertNil(StoredListing(decoding: bytes + [0]))
  }

  func testBadTagsCountsAndUnsafeNamesAreRefused() {
    let one = StoredListing(
      check: 1, savedAt: Date(timeIntervalSince1970: 0), readAsS3PathStyle: false,
      listing: DirectoryListing(format: .nginxJSON, entries: [.init(name: "ab", kind: .file, size: .exact(7))]))
    let bytes = one.encoded()
    XCTAssertNotNil(StoredListing(decoding: bytes))
    // The entry, from its end: name "ab" (length 4 bytes + 2), date flag, size (8), size tag, kind.
    let name = bytes.count - 2
    let kind = name - 4 - 1 - 8 - 1 - 1
    let entryCount = kind - 4
    func refused(_ index: Int, _ value: UInt8, _ what: String) {
      var changed = bytes
      changed[index] = value
      XCTAssertNil(StoredListing(decoding: changed), what)
    }
    refused(kind, 2, "a kind that is neither file nor directory")
    refused(kind + 1, 3, "a size tag past approximate")
    refused(name - 5, 2, "a date flag past 1")
    refused(name, UInt8(ascii: "/"), "a name with a slash")
    refused(name + 1, 0, "a name with a NUL")
    refused(name, 0xFF, "a name that is not UTF-8")
    refused(entryCount + 3, 0xFF, "a count that the bytes left cannot hold")
    refused(0, UInt8(ascii: "X"), "another magic")
    refused(7, 1, "the format of earlier versions")
    var dots = one
    dots.listing.entries[0].name = ".."
    var encodedDots = dots.encoded()
    XCTAssertNil(StoredListing(decoding: encodedDots), "..")
    encodedDots[encodedDots.count - 1] = UInt8(ascii: "x")
    XCTAssertNotNil(StoredListing(decoding: encodedDots), "the same record with a safe name reads")
  }

  func testTheStoreWritesNoURLAndGivesTheLocationBack() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stored-listing-\(getpid())")
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = ListingStore(cacheDirectory: directory)
    let page = DirectoryLocation.page(url: "http://reader:s3cret@files.example:8080/bucket/dir/")
    let s3 = try XCTUnwrap(page.asS3PathStyle)
    store.save(listing, of: page, readFrom: s3)
    let other = DirectoryLocation.page(url: "https://reader:s3cret@files.example/other/")
    store.save(listing, of: other, readFrom: other)
    let files = try FileManager.default.contentsOfDirectory(atPath: store.directory.path)
    XCTAssertEqual(files.count, 2)
    for file in files {
      let text = String(decoding: try Data(contentsOf: store.directory.appendingPathComponent(file)), as: UTF8.self)
      for secret in ["s3cret", "reader", "files.example", "http", "bucket", "dir/"] {
        XCTAssertFalse(text.contains(secret), "\(secret) in \(file)")
      }
    }
    let loaded = try XCTUnwrap(store.load(page))
    XCTAssertEqual(loaded.0, listing)
    XCTAssertEqual(loaded.1, s3)
    XCTAssertEqual(try XCTUnwrap(store.load(other)).1, other)
    XCTAssertNil(store.load(.page(url: "http://files.example:8080/bucket/dir/")), "another URL's listing")
  }
}
