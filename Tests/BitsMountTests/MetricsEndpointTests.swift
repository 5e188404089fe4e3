import BitsMount
import Foundation
import TestSupport
import XCTest

/// The metrics endpoint on its own: which addresses `--metrics` takes, the answer to each
/// request head, and a real socket that answers GET /metrics only and bounds what a client
/// may send and how long it may take.
final class MetricsEndpointTests: XCTestCase {
  func testAddressesAreNumericWithAPort() {
    XCTAssertEqual(ListenAddress("127.0.0.1:9464")?.description, "127.0.0.1:9464")
    XCTAssertEqual(ListenAddress("[::1]:9464")?.description, "[::1]:9464")
    XCTAssertEqual(ListenAddress("0.0.0.0:1")?.port, 1)
    XCTAssertEqual(ListenAddress("[::1]:65535")?.family, .ipv6)
    XCTAssertEqual(ListenAddress("192.168.1.1:80")?.host, "192.168.1.1")
    for bad in [
      "", ":", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80", "127.0.0.1:٣",
      "127.0.0.1:000009464", "localhost:9464", "::1:9464", "[::1]", "[127.0.0.1]:80", "256.0.0.1:80", "[::1:80",
    ] {
      XCTAssertNil(ListenAddress(bad), bad)
    }
  }

  func testTheAnswerToEachHead() {
    func answer(_ text: String) -> MetricsRequest.Answer { MetricsRequest.answer(toHead: Array(text.utf8)) }
    XCTAssertEqual(answer("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), .metrics)
    XCTAssertEqual(answer("GET /metrics?name[]=x HTTP/1.0\r\n\r\n"), .metrics)
    XCTAssertEqual(answer("HEAD /metrics HTTP/1.1\r\n\r\n"), .methodNotAllowed)
    XCTAssertEqual(answer("POST /metrics HTTP/1.1\r\n\r\n"), .methodNotAllowed)
    XCTAssertEqual(answer("GET / HTTP/1.1\r\n\r\n"), .notFound)
    XCTAssertEqual(answer("GET /metrics/ HTTP/1.1\r\n\r\n"), .notFound)
    XCTAssertEqual(answer("GET /metricsx HTTP/1.1\r\n\r\n"), .notFound)
    for bad in [
      "GET /metrics\r\n\r\n", "get /metrics HTTP/1.1\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n",
      "GET  /metrics HTTP/1.1\r\n\r\n", "GET /metrics HTTP/2\r\n\r\n", "\r\n\r\n", "GET /metrics HTTP/1.1",
    ] {
      XCTAssertEqual(answer(bad), .badRequest, bad)
    }
    XCTAssertEqual(
      MetricsRequest.answer(toHead: Array("GET /metrics HTTP/1.1\r\n".utf8) + [UInt8](repeating: 65, count: 9000)),
      .headTooLarge)
    XCTAssertEqual(MetricsRequest.headEnd(in: Array("GET / HTTP/1.1\r\n\r\nbody".utf8)), 18)
    XCTAssertNil(MetricsRequest.headEnd(in: Array("GET / HTTP/1.1\r\n".utf8)))
    let response = String(decoding: MetricsRequest.response(.methodNotAllowed, body: [1, 2]), as: UTF8.self)
    XCTAssertTrue(response.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"), response)
    XCTAssertTrue(response.contains("Allow: GET\r\n") && response.hasSuffix("\r\n\r\nMethod Not Allowed\n"), response)
  }

  /// Sends `request` to the endpoint at `port`, then reads the answer until the endpoint closes.
  private func exchange(_ request: [UInt8], port: UInt16, shutDownWriting: Bool = false) throws -> String {
    let fd = try XCTUnwrap(connectToLoopback(port: port), "the endpoint accepts")
    defer { close(fd) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    if shutDownWriting { shutdown(fd, Int32(SHUT_WR)) }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = recv(fd, &buffer, buffer.count, 0)
      guard count > 0 else { break }
      answer += buffer[0..<count]
    }
    return String(decoding: answer, as: UTF8.self)
  }

  func testARealSocketAnswersGETMetricsOnlyWithinItsBounds() throws {
    let port = try LoopbackListener().port
    let endpoint = try MetricsEndpoint(address: XCTUnwrap(ListenAddress("127.0.0.1:\(port)")))
    defer { endpoint.stop() }
    endpoint.start(timeout: .milliseconds(500)) { Array("bitsfs_requests_total 3\n".utf8) }

    let metrics = try exchange(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8), port: port)
    XCTAssertTrue(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"), metrics)
    XCTAssertTrue(metrics.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), metrics)
    XCTAssertTrue(metrics.hasSuffix("\r\n\r\nbitsfs_requests_total 3\n"), metrics)
    XCTAssertTrue(metrics.contains("Content-Length: 24\r\n"), metrics)
    XCTAssertTrue(
      try exchange(Array("GET /x HTTP/1.1\r\n\r\n".utf8), port: port).hasPrefix("HTTP/1.1 404 "))
    XCTAssertTrue(
      try exchange(Array("DELETE /metrics HTTP/1.1\r\n\r\n".utf8), port: port).hasPrefix("HTTP/1.1 405 "))
    // A head that never ends is cut at its bound, and answered.
    let flood = Array("GET /metrics HTTP/1.1\r\n".utf8) + [UInt8](repeating: 65, count: 64 << 10)
    XCTAssertTrue(try exchange(flood, port: port).hasPrefix("HTTP/1.1 431 "))
    // A client that sends half a head and waits is dropped after the timeout, unanswered.
    let started = Date()
    XCTAssertEqual(try exchange(Array("GET /met".utf8), port: port), "")
    XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    // One that closes early gets nothing, and the endpoint goes on.
    XCTAssertEqual(try exchange(Array("GET /met".utf8), port: port, shutDownWriting: true), "")
    XCTAssertTrue(
      try exchange(Array("GET /metrics HTTP/1.1\r\n\r\n".utf8), port: port).hasPrefix("HTTP/1.1 200 OK"))
  }

  func testAPortInUseIsRefused() throws {
    let taken = try LoopbackListener()
    XCTAssertThrowsError(try MetricsEndpoint(address: XCTUnwrap(ListenAddress("127.0.0.1:\(taken.port)")))) { error in
      XCTAssertTrue("\(error)".contains("Address already in use"), "\(error)")
    }
  }
}
