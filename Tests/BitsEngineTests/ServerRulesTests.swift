import XCTest

@testable import BitsEngine

final class ServerRulesTests: XCTestCase {
  private let version = RemoteVersion(size: 1000, lastModified: "Tue, 24 Nov 2026 10:00:00 GMT", etag: "\"abc\"")

  private func verdict(_ status: Int, _ headers: [String: String], asked: Range<UInt64>) -> BitsErrorCode? {
    if case .abort(let error) = ServerRules.check(
      HTTPResponseHead(status: status, headers: headers), asked: asked, version: version, url: "u")
    {
      return error.code
    }
    return nil
  }

  func testContentRangeParsing() {
    XCTAssertEqual(ContentRange("bytes 0-99/1000")?.bytes, 0..<100)
    XCTAssertEqual(ContentRange("bytes 0-99/1000")?.completeLength, 1000)
    XCTAssertEqual(ContentRange("bytes */1000")?.completeLength, 1000)
    XCTAssertNil(ContentRange("bytes */1000")?.bytes)
    XCTAssertEqual(ContentRange("bytes 5-9/*")?.completeLength, nil)
    XCTAssertNil(ContentRange("bytes 9-5/10"))
    XCTAssertNil(ContentRange("items 0-1/2"))
  }

  func testMatchingPartialAnswerProceeds() {
    XCTAssertNil(verdict(206, ["content-range": "bytes 100-199/1000", "etag": "\"abc\""], asked: 100..<200))
  }

  func testShiftedOrWidenedContentRangeIsAnInvalidServerResponse() {
    XCTAssertEqual(verdict(206, ["content-range": "bytes 0-199/1000"], asked: 100..<200), .invalidServerResponse)
    XCTAssertEqual(verdict(206, ["content-range": "bytes 100-299/1000"], asked: 100..<200), .invalidServerResponse)
    XCTAssertEqual(verdict(206, [:], asked: 100..<200), .invalidServerResponse)
  }

  func testContentLengthContradictingContentRangeIsAnInvalidServerResponse() {
    let head = ["content-range": "bytes 100-199/1000"]
    XCTAssertEqual(
      verdict(206, head.merging(["content-length": "101"]) { $1 }, asked: 100..<200), .invalidServerResponse)
    XCTAssertEqual(
      verdict(206, head.merging(["content-length": "\(1 << 50)"]) { $1 }, asked: 100..<200), .invalidServerResponse)
    XCTAssertNil(verdict(206, head.merging(["content-length": "100"]) { $1 }, asked: 100..<200))
  }

  func testWholeFileAnswerToARangeIsInsufficientRangeSupport() {
    XCTAssertEqual(
      verdict(200, ["content-length": "1000", "etag": "\"abc\""], asked: 100..<200), .insufficientRangeSupport)
    XCTAssertNil(verdict(200, ["content-length": "1000", "etag": "\"abc\""], asked: 0..<1000))
  }

  func testAnotherVersionIsDetected() {
    XCTAssertEqual(verdict(200, ["content-length": "1000", "etag": "\"new\""], asked: 100..<200), .remoteFileChanged)
    XCTAssertEqual(verdict(206, ["content-range": "bytes 100-199/2000"], asked: 100..<200), .remoteFileChanged)
    XCTAssertEqual(
      verdict(
        206, ["content-range": "bytes 100-199/1000", "last-modified": "Wed, 25 Nov 2026 10:00:00 GMT"], asked: 100..<200
      ),
      .remoteFileChanged)
  }

  func testUnsatisfiableRangeIsInvalidRange() {
    XCTAssertEqual(verdict(416, ["content-range": "bytes */1000"], asked: 1000..<1100), .invalidRange)
    XCTAssertEqual(verdict(416, ["content-range": "bytes */10"], asked: 100..<200), .remoteFileChanged)
  }

  func testStatusesMapToHTTPErrors() {
    XCTAssertEqual(verdict(404, [:], asked: 0..<10), .httpStatus(404))
    XCTAssertTrue(BitsErrorCode.httpStatus(503).isTransient)
    XCTAssertTrue(BitsErrorCode.httpStatus(429).isTransient)
    XCTAssertFalse(BitsErrorCode.httpStatus(404).isTransient)
    XCTAssertEqual(BitsErrorCode.httpStatus(404).hresult, 0x8019_0194)
  }

  func testProbeAnswers() {
    func probe(_ status: Int, _ headers: [String: String]) -> Result<RemoteVersion, BitsError> {
      ServerRules.version(fromProbe: HTTPResponseHead(status: status, headers: headers), url: "u")
    }
    XCTAssertEqual(try probe(206, ["content-range": "bytes 0-0/1234", "etag": "\"x\""]).get().size, 1234)
    XCTAssertEqual(try probe(416, ["content-range": "bytes */0"]).get().size, 0)
    XCTAssertEqual(try probe(416, [:]).get().size, 0, "S3's answer for an empty object")
    XCTAssertThrowsError(try probe(416, ["content-range": "bytes */10"]).get())
    XCTAssertEqual(try probe(200, ["content-length": "1"]).get().size, 1)
    XCTAssertThrowsError(try probe(200, ["content-length": "5000"]).get()) {
      XCTAssertEqual(($0 as? BitsError)?.code, .insufficientRangeSupport)
    }
    XCTAssertThrowsError(try probe(200, [:]).get()) { XCTAssertEqual(($0 as? BitsError)?.code, .missingFileSize) }
    XCTAssertThrowsError(try probe(404, [:]).get()) { XCTAssertEqual(($0 as? BitsError)?.code, .httpStatus(404)) }
  }

  func testIfRangeTakesOnlyStrongValidators() {
    let modified = "Tue, 24 Nov 2026 10:00:00 GMT"
    func validator(etag: String?, date: String?) -> String? {
      var head = HTTPResponseHead(status: 206, headers: date.map { ["date": $0] } ?? [:])
      head.headers["etag"] = etag
      let version = RemoteVersion(size: 1, lastModified: modified, etag: etag.map(RemoteVersion.opaqueTag))
      return ServerRules.rangeValidator(for: version, from: head)
    }
    XCTAssertEqual(validator(etag: "\"x\"", date: modified), "\"x\"", "a strong tag, however fresh")
    XCTAssertEqual(
      validator(etag: "W/\"x\"", date: "Tue, 24 Nov 2026 10:00:02 GMT"), modified, "a date surely a second old")
    XCTAssertNil(validator(etag: "W/\"x\"", date: "Tue, 24 Nov 2026 10:00:01 GMT"), "maybe less than a second old")
    XCTAssertNil(validator(etag: "W/\"x\"", date: modified), "a weak tag and a date of this very second")
    XCTAssertNil(validator(etag: nil, date: nil), "a date not known to be older than the answer")
  }

  func testATagTurningFromWeakToStrongIsTheSameVersion() {
    let version = RemoteVersion(size: 10, lastModified: nil, etag: "\"x\"")
    XCTAssertFalse(
      version.isContradicted(by: HTTPResponseHead(status: 206, headers: ["etag": "W/\"x\""]), completeLength: 10))
    XCTAssertTrue(
      version.isContradicted(by: HTTPResponseHead(status: 206, headers: ["etag": "W/\"y\""]), completeLength: 10))
  }
}
