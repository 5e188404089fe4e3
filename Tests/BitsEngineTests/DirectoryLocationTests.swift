import XCTest

@testable import BitsEngine

final class DirectoryLocationTests: XCTestCase {
  func testADirectoryURLIsAPageWithoutItsQuery() {
    XCTAssertEqual(DirectoryLocation(directoryURL: "http://h/a/b/?C=M;O=A"), .page(url: "http://h/a/b/"))
    XCTAssertEqual(DirectoryLocation(directoryURL: "https://h/"), .page(url: "https://h/"))
    XCTAssertNil(DirectoryLocation(directoryURL: "http://h/a/file"))
    XCTAssertNil(DirectoryLocation(directoryURL: "ftp://h/a/"))
  }

  func testNamesAreEncodedIntoChildURLs() {
    let page = DirectoryLocation.page(url: "http://h/d/")
    XCTAssertEqual(page.fileURL(named: "a b%#?.txt"), "http://h/d/a%20b%25%23%3F.txt")
    XCTAssertEqual(page.fileURL(named: "ü"), "http://h/d/%C3%BC")
    XCTAssertEqual(page.fileURL(named: "a/b"), "http://h/d/a%2Fb")
    XCTAssertEqual(page.subdirectory(named: "x y"), .page(url: "http://h/d/x%20y/"))
    XCTAssertEqual(page.listingURL(continuationToken: "ignored"), "http://h/d/")
  }

  func testS3PrefixesListOneLevelAndNameObjectsByKey() {
    let bucket = DirectoryLocation.s3(bucketURL: "http://h/bucket/", prefix: "a b/")
    XCTAssertEqual(bucket.listingURL(), "http://h/bucket/?list-type=2&delimiter=%2F&prefix=a%20b%2F")
    XCTAssertEqual(
      bucket.listingURL(continuationToken: "t+/="),
      "http://h/bucket/?list-type=2&delimiter=%2F&prefix=a%20b%2F&continuation-token=t%2B%2F%3D")
    XCTAssertEqual(bucket.fileURL(named: "f#1"), "http://h/bucket/a%20b/f%231")
    XCTAssertEqual(bucket.subdirectory(named: "c"), .s3(bucketURL: "http://h/bucket/", prefix: "a b/c/"))
  }

  func testAPageURLReadAsAPathStyleBucket() {
    XCTAssertEqual(
      DirectoryLocation.page(url: "http://h:9000/bucket/some%20dir/").asS3PathStyle,
      .s3(bucketURL: "http://h:9000/bucket/", prefix: "some dir/"))
    XCTAssertEqual(
      DirectoryLocation.page(url: "http://h/bucket/").asS3PathStyle, .s3(bucketURL: "http://h/bucket/", prefix: ""))
    XCTAssertNil(DirectoryLocation.page(url: "http://h/").asS3PathStyle)
    XCTAssertNil(DirectoryLocation.s3(bucketURL: "http://h/b/", prefix: "").asS3PathStyle)
  }
}
