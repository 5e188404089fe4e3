import BitsEngine
import Foundation

/// Times ``ListingParser`` on a directory of `entryCount` files in each listing format with
/// sizes or dates (nginx JSON and HTML, Apache's fancy table, lighttpd) and Python's names-only
/// page, rows written as each server writes them: the cost a tree walk pays per entry before
/// any FUSE reply. The baseline is a pass that only counts the newlines of the same body.
func runListingParseBenchmark(entryCount: Int = 10_000, rounds: Int = 20) {
  let parser = ListingParser()
  let url = "http://127.0.0.1:8080/d/"
  print("Listing parse: \(entryCount) entries, best of \(rounds) rounds")
  for (name, body, type) in listingBodies(entryCount) {
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
      baseline = min(baseline, ContinuousClock().measure { precondition(body.count { $0 == 10 } >= entryCount) })
    }
    let perEntry =
      Double(best.components.attoseconds) * 1e-12 / Double(entryCount)
      + Double(best.components.seconds) * 1e6 / Double(entryCount)
    print(
      "  \(name): \(body.count) B, \(best) (\(String(format: "%.2f", perEntry)) µs an entry);"
        + " counting newlines \(baseline)")
  }
}

/// `(name, body, content type)` of each listing of `count` files `file N.bin` in `/d/`.
private func listingBodies(_ count: Int) -> [(String, [UInt8], String)] {
  func page(_ head: String, _ row: (Int) -> String, _ tail: String) -> [UInt8] {
    Array((head + (0..<count).map(row).joined() + tail).utf8)
  }
  let json =
    "[\n"
    + (0..<count).map {
      "{ \"name\":\"file \($0).bin\", \"type\":\"file\", \"mtime\":\"Tue, 01 Dec 2026 11:19:\(String(format: "%02d", $0 % 60)) GMT\", \"size\":\($0 * 2048) }"
    }.joined(separator: ",\n") + "\n]\n"
  let nginx = page(
    "<html>\n<head><title>Index of /d/</title></head>\n<body>\n<h1>Index of /d/</h1><hr><pre><a href=\"../\">../</a>\n",
    { "<a href=\"file%20\($0).bin\">file \($0).bin</a>                     01-Dec-2026 11:19    \($0 * 2048)\n" },
    "</pre><hr></body>\n</html>\n")
  let apache = page(
    "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n<html>\n"
      + " <head>\n  <title>Index of /d</title>\n </head>\n <body>\n<h1>Index of /d</h1>\n  <table>\n"
      + "   <tr><th valign=\"top\">&nbsp;</th><th><a href=\"?C=N;O=D\">Name</a></th><th><a href=\"?C=M;O=A\">"
      + "Last modified</a></th><th><a href=\"?C=S;O=A\">Size</a></th><th><a href=\"?C=D;O=A\">Description</a>"
      + "</th></tr>\n   <tr><th colspan=\"5\"><hr></th></tr>\n<tr><td valign=\"top\">&nbsp;</td><td><a href=\"/\">"
      + "Parent Directory</a></td><td>&nbsp;</td><td align=\"right\">  - </td><td>&nbsp;</td></tr>\n",
    {
      "<tr><td valign=\"top\">&nbsp;</td><td><a href=\"file%20\($0).bin\">file \($0).bin</a></td>"
        + "<td align=\"right\">2026-12-01 11:19  </td><td align=\"right\">\($0 % 999)K</td><td>&nbsp;</td></tr>\n"
    },
    "   <tr><th colspan=\"5\"><hr></th></tr>\n</table>\n</body></html>\n")
  let lighttpd = page(
    "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Index of /d/</title>\n"
      + "<style type=\"text/css\">\na, a:active {text-decoration: none; color: blue;}\n</style>\n</head>\n<body>\n"
      + "<h2>Index of /d/</h2>\n<div class=\"list\">\n<table summary=\"Directory Listing\" cellpadding=\"0\" "
      + "cellspacing=\"0\">\n<thead><tr><th class=\"n\">Name</th><th class=\"m\">Last Modified</th><th class=\"s\">"
      + "Size</th><th class=\"t\">Type</th></tr></thead>\n<tbody>\n<tr class=\"d\"><td class=\"n\"><a href=\"../\">"
      + "..</a>/</td><td class=\"m\">&nbsp;</td><td class=\"s\">- &nbsp;</td><td class=\"t\">Directory</td></tr>\n",
    {
      "<tr><td class=\"n\"><a href=\"file%20\($0).bin\">file \($0).bin</a></td><td class=\"m\">2026-Dec-01 11:19:59"
        + "</td><td class=\"s\">\($0 % 999).\($0 % 10)K</td><td class=\"t\">application/octet-stream</td></tr>\n"
    },
    "</tbody>\n</table>\n</div>\n<div class=\"foot\">lighttpd/1.4.76</div>\n</body>\n</html>\n")
  let python = page(
    "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Directory listing for /d/</title>\n"
      + "</head>\n<body>\n<h1>Directory listing for /d/</h1>\n<hr>\n<ul>\n",
    { "<li><a href=\"file%20\($0).bin\">file \($0).bin</a></li>\n" }, "</ul>\n<hr>\n</body>\n</html>\n")
  return [
    ("nginx JSON", Array(json.utf8), "application/json"), ("nginx HTML", nginx, "text/html"),
    ("Apache HTML", apache, "text/html"), ("lighttpd HTML", lighttpd, "text/html"),
    ("Python HTML", python, "text/html"),
  ]
}
