import BitsEngine
import Foundation

/// Times ``ListingParser`` on a directory of `entryCount` files in nginx's JSON and HTML
/// autoindex formats, as nginx writes them: the cost a tree walk pays per entry before any FUSE
/// reply. The baseline is a pass that only counts the newlines of the same body.
func runListingParseBenchmark(entryCount: Int = 10_000, rounds: Int = 20) {
  let json = Array(
    ("[\n"
      + (0..<entryCount).map {
        "{ \"name\":\"file \($0).bin\", \"type\":\"file\", \"mtime\":\"Tue, 01 Dec 2026 11:19:\(String(format: "%02d", $0 % 60)) GMT\", \"size\":\($0 * 2048) }"
      }.joined(separator: ",\n") + "\n]\n").utf8)
  let html = Array(
    ("<html>\n<head><title>Index of /d/</title></head>\n<body>\n<h1>Index of /d/</h1><hr><pre><a href=\"../\">../</a>\n"
      + (0..<entryCount).map {
        "<a href=\"file%20\($0).bin\">file \($0).bin</a>                     01-Dec-2026 11:19    \($0 * 2048)\n"
      }.joined() + "</pre><hr></body>\n</html>\n").utf8)
  let parser = ListingParser()
  let url = "http://127.0.0.1:8080/d/"
  print("Listing parse: \(entryCount) entries, best of \(rounds) rounds")
  for (name, body, type) in [("nginx JSON", json, "application/json"), ("nginx HTML", html, "text/html")] {
    let head = HTTPResponseHead(status: 200, headers: ["content-type": type])
    var best = Duration.seconds(1_000)
    var baseline = Duration.seconds(1_000)
    for _ in 0..<rounds {
      best = min(
        best,
        ContinuousClock().measure {
          let listing = try! parser.parse(body, head: head, url: url)
          precondition(listing.entries.count == entryCount)
        })
      baseline = min(baseline, ContinuousClock().measure { precondition(body.count { $0 == 10 } > entryCount) })
    }
    let perEntry =
      Double(best.components.attoseconds) * 1e-12 / Double(entryCount)
      + Double(best.components.seconds) * 1e6 / Double(entryCount)
    print(
      "  \(name): \(body.count) B, \(best) (\(String(format: "%.2f", perEntry)) µs an entry);"
        + " counting newlines \(baseline)")
  }
}
