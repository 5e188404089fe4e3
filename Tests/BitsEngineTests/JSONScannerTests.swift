import Foundation
import TestSupport
import XCTest

@testable import BitsEngine

/// The listing's JSON reader against `JSONDecoder` as the reference: on generated documents,
/// valid and damaged, both give the same items or both refuse.
final class JSONScannerTests: XCTestCase {
  /// What `JSONDecoder` makes of the same document, through the same fields.
  private struct ReferenceItem: Decodable {
    var name: String?
    var type: String?
    var size: UInt64?
    var mtime: String?
    var isDirectory: Bool?
    var modifiedTime: String?

    private enum CodingKeys: String, CodingKey {
      case name, type, size, mtime
      case isDirectory = "is_dir"
      case modifiedTime = "mod_time"
    }

    var item: JSONListingItem {
      JSONListingItem(
        name: name, type: type, size: size, mtime: mtime, isDirectory: isDirectory, modifiedTime: modifiedTime)
    }
  }

  private func reference(_ bytes: [UInt8]) -> [JSONListingItem]? {
    (try? JSONDecoder().decode([ReferenceItem].self, from: Data(bytes)))?.map(\.item)
  }

  private func assertSame(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
    let bytes = Array(text.utf8)
    XCTAssertEqual(JSONListingItem.items(in: bytes), reference(bytes), text, file: file, line: line)
  }

  func testListingsAsServersWriteThem() {
    let nginx = """
      [
      { "name":"a b.txt", "type":"file", "mtime":"Tue, 01 Dec 2026 11:19:00 GMT", "size":1234 },
      { "name":"sub", "type":"directory", "mtime":"Tue, 01 Dec 2026 11:19:00 GMT" }
      ]
      """
    XCTAssertEqual(
      JSONListingItem.items(in: Array(nginx.utf8)),
      [
        JSONListingItem(name: "a b.txt", type: "file", size: 1234, mtime: "Tue, 01 Dec 2026 11:19:00 GMT"),
        JSONListingItem(name: "sub", type: "directory", mtime: "Tue, 01 Dec 2026 11:19:00 GMT"),
      ])
    let caddy = """
      [{"name":"d/","size":4096,"url":"./d/","mod_time":"2026-12-01T11:19:59.822644+01:00","mode":2147484141,\
      "is_dir":true,"is_symlink":false},{"name":"\\u00e9t\\u00e9 \\ud83d\\ude00.txt","size":0,"url":"./x",\
      "mod_time":"2026-12-01T11:19:59Z","mode":420,"is_dir":false,"is_symlink":false}]
      """
    XCTAssertEqual(
      JSONListingItem.items(in: Array(caddy.utf8)),
      [
        JSONListingItem(name: "d/", size: 4096, isDirectory: true, modifiedTime: "2026-12-01T11:19:59.822644+01:00"),
        JSONListingItem(name: "été 😀.txt", size: 0, isDirectory: false, modifiedTime: "2026-12-01T11:19:59Z"),
      ])
    for text in [nginx, caddy, "[]", " [ ] ", "[{}]", "[{\"size\":null,\"name\":null}]"] { assertSame(text) }
  }

  /// Not JSON, or a listing field of the wrong type. (`JSONDecoder` takes a few of these: a
  /// trailing comma, and malformed numbers in a field it skips.)
  func testMalformedDocumentsAreRefused() {
    for text in [
      "", "{}", "[", "[{]", "[{}", "[{},]", "[,{}]", "[1]", "[\"a\"]", "[null]", "[{}] x", "[{\"name\":1}]",
      "[{\"size\":-1}]", "[{\"size\":1.5}]", "[{\"size\":\"1\"}]", "[{\"size\":18446744073709551616}]",
      "[{\"is_dir\":1}]", "[{\"name\":\"a\\x\"}]", "[{\"name\":\"\\ud800\"}]", "[{\"name\":\"a\nb\"}]",
      "[{\"other\":[1,2,{\"x\":[}]}]", "[{\"other\":01}]", "[{\"other\":1.}]", "[{\"other\":-}]", "[{\"other\":tru}]",
      "[{'name':'a'}]", "[{\"name\" \"a\"}]",
    ] {
      XCTAssertNil(JSONListingItem.items(in: Array(text.utf8)), text)
    }
    // A name that is not UTF-8: a lone continuation byte, an overlong slash, a cut sequence.
    for bad: [UInt8] in [[0x61, 0x80], [0xC0, 0xAF], [0xE2, 0x82], [0xFF]] {
      let document = Array("[{\"name\":\"".utf8) + bad + Array("\"}]".utf8)
      XCTAssertNil(JSONListingItem.items(in: document), "\(bad)")
    }
  }

  func testNestingIsBoundedSoThatNoDocumentExhaustsTheStack() {
    func nested(_ depth: Int) -> [UInt8] {
      Array(("[{\"deep\":" + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}]").utf8)
    }
    XCTAssertEqual(JSONListingItem.items(in: nested(JSONScanner.maximumDepth)), [JSONListingItem()])
    XCTAssertNil(JSONListingItem.items(in: nested(JSONScanner.maximumDepth + 1)))
    XCTAssertNil(JSONListingItem.items(in: nested(1_000_000)))
  }

  /// `JSONDecoder` is lenient in places (a trailing comma, a bad escape in a field it skips), so
  /// on damaged copies the check is one way: what this reader accepts, the reference reads the
  /// same, and the reader never accepts what the reference refuses.
  func testGeneratedDocumentsReadAsTheReferenceReadsThemAndDamagedOnesNeverOtherwise() {
    var random = SplitMix64(seed: 8259)
    var refusedDamaged = 0
    for round in 0..<2_000 {
      let text = document(&random)
      assertSame(text)
      var bytes = Array(text.utf8)
      for _ in 0..<3 where !bytes.isEmpty {
        let index = Int(random.next() % UInt64(bytes.count))
        switch random.next() % 3 {
        case 0: bytes.remove(at: index)
        case 1: bytes[index] = pick(&random, Array("{}[]\",:\\ 0-.eun".utf8))
        default: bytes.insert(pick(&random, Array("{}[]\",: ".utf8)), at: index)
        }
        guard let items = JSONListingItem.items(in: bytes) else {
          refusedDamaged += 1
          continue
        }
        XCTAssertEqual(items, reference(bytes), "round \(round): \(String(decoding: bytes, as: UTF8.self))")
      }
    }
    XCTAssertGreaterThan(refusedDamaged, 1_000, "the damage makes most copies invalid")
  }

  // MARK: Generating documents

  private func document(_ random: inout SplitMix64) -> String {
    let items = (0..<Int(random.next() % 4)).map { _ in object(&random, listingKeys: true, depth: 0) }
    return "[" + items.joined(separator: pick(&random, [",", " , ", ",\n"])) + "]"
  }

  private func object(_ random: inout SplitMix64, listingKeys: Bool, depth: Int) -> String {
    let keys = ["name", "type", "size", "mtime", "is_dir", "mod_time", "url", "mode", "n\\u0061me"]
    // Each key once: which of two equal keys counts is not the same in every JSON reader.
    var chosen: [String] = []
    for key in keys.shuffled(using: &random) where random.next() % 2 == 0 && (listingKeys || depth > 0) {
      if key == "n\\u0061me" && chosen.contains("name") || key == "name" && chosen.contains("n\\u0061me") { continue }
      chosen.append(key)
    }
    let fields = chosen.map { key in "\"\(key)\":" + value(&random, forKey: key, depth: depth + 1) }
    return "{" + fields.joined(separator: ",") + "}"
  }

  private func value(_ random: inout SplitMix64, forKey key: String, depth: Int) -> String {
    let sizes = [
      "0", "7", "1234", "18446744073709551615", "18446744073709551616", "-1", "1.5", "\"12\"", "null", "true",
    ]
    let strings = [
      "\"a b\"", "\"\"", "\"\\\"q\\\\\"", "\"\\u00e9\"", "\"\\ud83d\\ude00\"", "\"é/ü\"", "\"\\n\\t\\/\"", "null", "5",
      "false",
    ]
    switch key {
    case "size": return pick(&random, sizes)
    case "is_dir": return pick(&random, ["true", "false", "null", "0", "\"true\""])
    case "name", "n\\u0061me", "type", "mtime", "mod_time": return pick(&random, strings)
    default: return anyValue(&random, depth: depth)
    }
  }

  private func anyValue(_ random: inout SplitMix64, depth: Int) -> String {
    let scalars = ["0", "-0", "12", "-3.25", "1e3", "2.5E-2", "true", "false", "null", "\"x\"", "\"\\u0041\""]
    guard depth < 4 else { return pick(&random, scalars) }
    switch random.next() % 4 {
    case 0:
      return "["
        + (0..<Int(random.next() % 3)).map { _ in anyValue(&random, depth: depth + 1) }
        .joined(separator: ",") + "]"
    case 1: return object(&random, listingKeys: false, depth: depth)
    default: return pick(&random, scalars)
    }
  }

  private func pick<Choice>(_ random: inout SplitMix64, _ choices: [Choice]) -> Choice {
    choices[Int(random.next() % UInt64(choices.count))]
  }
}
