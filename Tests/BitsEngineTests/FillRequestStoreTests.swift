import BitsEngine
import Foundation
import XCTest

/// Fill requests kept in the cache directory: one per URL, no URL written, a record of another
/// URL never taken for this one's.
final class FillRequestStoreTests: XCTestCase {
  func testRequestsAreKeptPerURLWithoutTheURLAndForgotten() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fill-store-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = FillRequestStore(cacheDirectory: directory)
    let secret = "https://user:pw@example.org/a.bin?X-Amz-Signature=sekrit"
    let request = FillRequestStore.Request(path: "deep/a.bin", priority: "low")
    try store.save(request, for: secret)
    try store.save(FillRequestStore.Request(path: "b.bin", priority: "high"), for: "https://example.org/b.bin")
    XCTAssertEqual(store.request(for: secret), request)
    XCTAssertNil(store.request(for: "https://example.org/a.bin"))
    // A record under another URL's name (as a hash collision would put it) is not that URL's.
    let other = "https://example.org/c.bin"
    try FileManager.default.copyItem(
      atPath: store.directory.appendingPathComponent(CacheKey.forURL(secret) + ".json").path,
      toPath: store.directory.appendingPathComponent(CacheKey.forURL(other) + ".json").path)
    XCTAssertNil(store.request(for: other), "another URL's request is not this one's")
    store.remove(for: other)
    XCTAssertEqual(store.all().count, 3, "nor removed for it")
    unlink(store.directory.appendingPathComponent(CacheKey.forURL(other) + ".json").path)
    XCTAssertEqual(Set(store.all().map(\.path)), ["deep/a.bin", "b.bin"])
    let written = try FileManager.default.contentsOfDirectory(atPath: store.directory.path).map {
      try String(contentsOf: store.directory.appendingPathComponent($0), encoding: .utf8)
    }.joined()
    XCTAssertFalse(written.contains("sekrit") || written.contains("example.org"), written)
    // Saved again at another priority: one request, the new one.
    try store.save(FillRequestStore.Request(path: "deep/a.bin", priority: "normal"), for: secret)
    XCTAssertEqual(store.request(for: secret)?.priority, "normal")
    store.remove(for: "https://example.org/other.bin")
    XCTAssertEqual(store.all().count, 2, "removing what is not kept removes nothing")
    store.remove(for: secret)
    XCTAssertNil(store.request(for: secret))
    try Data("not mine".utf8).write(to: store.directory.appendingPathComponent("notes.txt"))
    store.removeAll()
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.directory.path), ["notes.txt"])
  }
}
