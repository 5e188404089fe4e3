/// An HTML page read by simple scanning, for what listings put in it: the title, and each link
/// with the text that follows it up to the next link (where listings write dates and sizes).
/// Tolerant of any input, linear in its length, and bounded in what it keeps per link.
struct HTMLPage {
  struct Link {
    /// The `href`, entities decoded; `nil` when it is not valid UTF-8.
    var href: String?
    /// What follows `</a>` up to the next link, tags as spaces, entities decoded, at most
    /// ``HTMLPage/keptText`` bytes of it.
    var after: String

    /// `after` split at ASCII white space and no-break spaces (which `&nbsp;` becomes), the
    /// only white space listings write. Scanned as UTF-8: per-`Character` white-space checks
    /// were a fifth of the time of parsing a listing.
    var fieldsAfter: [Substring] {
      var fields: [Substring] = []
      let bytes = after.utf8
      var fieldStart: String.Index?
      var index = bytes.startIndex
      while index != bytes.endIndex {
        let next = bytes.index(after: index)
        let separatorEnd: String.Index? =
          switch bytes[index] {
          case 0x09...0x0D, 0x20: next
          case 0xC2 where next != bytes.endIndex && bytes[next] == 0xA0: bytes.index(after: next)
          default: nil
          }
        if let separatorEnd {
          if let start = fieldStart { fields.append(after[start..<index]) }
          fieldStart = nil
          index = separatorEnd
        } else {
          if fieldStart == nil { fieldStart = index }
          index = next
        }
      }
      if let start = fieldStart { fields.append(after[start...]) }
      return fields
    }
  }

  private(set) var title = ""
  private(set) var links: [Link] = []
  private let body: [UInt8]

  /// The most text kept for a title and after a link: a listing row's details fit in far less.
  static let keptText = 512

  init(_ body: [UInt8]) {
    self.body = body
    scan()
  }

  /// Whether the page's bytes contain `marker` (ASCII, case-sensitive).
  func contains(_ marker: String) -> Bool {
    let needle = Array(marker.utf8)
    return MarkupText.find(needle, in: body, from: 0, ignoringCase: false) != nil
  }

  private enum Sink {
    case none
    case title
    case after
  }

  private mutating func scan() {
    var index = 0
    var sink = Sink.none
    var text: [UInt8] = []
    var pendingHref: [UInt8]?
    func flush(into page: inout HTMLPage, _ sink: Sink, _ text: inout [UInt8]) {
      switch sink {
      case .none: break
      case .title: page.title = MarkupText.decoded(text)
      case .after: page.links[page.links.count - 1].after = MarkupText.decoded(text)
      }
      text.removeAll(keepingCapacity: true)
    }
    while index < body.count {
      let byte = body[index]
      guard byte == UInt8(ascii: "<") else {
        if sink != .none, text.count < Self.keptText { text.append(byte) }
        index += 1
        continue
      }
      if MarkupText.hasPrefix("<!--", in: body, at: index) {
        index =
          MarkupText.find(Array("-->".utf8), in: body, from: index + 4, ignoringCase: false).map { $0 + 3 }
          ?? body.count
        continue
      }
      guard let tag = MarkupText.tag(in: body, at: index) else {
        if sink != .none, text.count < Self.keptText { text.append(byte) }
        index += 1
        continue
      }
      index = tag.end
      if tag.isNamed("a") {
        if !tag.closing {
          flush(into: &self, sink, &text)
          sink = .none
          pendingHref = tag.attribute("href")
        } else if let href = pendingHref {
          links.append(Link(href: String(validating: MarkupText.decodedBytes(href), as: UTF8.self), after: ""))
          sink = .after
          pendingHref = nil
        }
      } else if tag.isNamed("title") {
        flush(into: &self, sink, &text)
        sink = tag.closing ? .none : .title
      } else if !tag.closing, tag.isNamed("script") || tag.isNamed("style") {
        // Their text is code, where `<` is no tag: skip to the end tag.
        index = MarkupText.find(Array("</".utf8) + tag.name, in: body, from: index, ignoringCase: true) ?? body.count
      } else if sink != .none, text.count < Self.keptText {
        text.append(UInt8(ascii: " "))
      }
    }
    flush(into: &self, sink, &text)
  }
}
