/// An HTML page read by simple scanning, for what listings put in it: the title, and each link
/// with the text that follows it up to the next link (where listings write dates and sizes).
/// Tolerant of any input, linear in its length, and bounded in what it keeps per link. Links
/// are ranges of the page's bytes and of one buffer of text, not strings and arrays of their
/// own: allocations per link were most of the time of reading a listing.
struct HTMLPage {
  struct Link {
    /// Where the `href` is in ``HTMLPage/body``, entities not decoded.
    var href: Range<Int>
    /// Where the text after it is in ``HTMLPage/text``.
    var after: Range<Int>
  }

  private(set) var title = ""
  private(set) var links: [Link] = []
  let body: [UInt8]
  /// What follows each link's `</a>` up to the next link, one after the other: tags as spaces,
  /// entities decoded, at most ``HTMLPage/keptText`` bytes of each before decoding, and a newline
  /// after each, outside its range.
  private(set) var text: [UInt8] = []

  /// The most text kept for a title and after a link: a listing row's details fit in far less.
  static let keptText = 512

  init(_ body: [UInt8]) {
    self.body = body
    scan()
  }

  /// Whether the page's bytes contain `marker` (ASCII, case-sensitive).
  func contains(_ marker: StaticString) -> Bool {
    marker.withUTF8Buffer { MarkupText.find($0, in: body, from: 0, ignoringCase: false) != nil }
  }

  /// Calls `body` with the `href` of `link`, entities decoded; `bytes` is ``body``'s buffer.
  func withHref<Result, Failure>(
    of link: Link, in bytes: UnsafeBufferPointer<UInt8>,
    _ body: (UnsafeBufferPointer<UInt8>) throws(Failure) -> Result
  ) throws(Failure) -> Result {
    let raw = UnsafeBufferPointer(rebasing: bytes[link.href])
    guard MarkupText.firstIndex(of: UInt8(ascii: "&"), in: raw, from: 0, to: raw.count) != nil else {
      return try body(raw)
    }
    return try MarkupText.decodedBytes(raw).withUnsafeBufferPointer(body)
  }

  /// `link`'s text split at ASCII white space and no-break spaces (which `&nbsp;` becomes), the
  /// only white space listings write: the first `limit` fields, as ranges of `text` (the
  /// page's ``text``).
  static func fields(
    after link: Link, in text: UnsafeBufferPointer<UInt8>, limit: Int, into fields: inout [Range<Int>]
  ) {
    fields.removeAll(keepingCapacity: true)
    var fieldStart: Int?
    var index = link.after.lowerBound
    while index < link.after.upperBound, fields.count < limit {
      let next = index + 1
      let separatorEnd: Int? =
        switch text[index] {
        case 0x09...0x0D, 0x20: next
        case 0xC2 where next < link.after.upperBound && text[next] == 0xA0: next + 1
        default: nil
        }
      if let separatorEnd {
        if let start = fieldStart { fields.append(start..<index) }
        fieldStart = nil
        index = separatorEnd
      } else {
        if fieldStart == nil { fieldStart = index }
        index = next
      }
    }
    if let start = fieldStart, fields.count < limit { fields.append(start..<link.after.upperBound) }
  }

  /// The title and links as the scan finds them, and the text it is reading.
  private struct Collected {
    enum Sink {
      case none
      case title
      case after
    }

    /// Where `current` goes when it ends. A link's `</a>` sends what follows to it without
    /// ending the text before, which is then the start of the link's.
    var sink = Sink.none
    var current: [UInt8] = []
    var title = ""
    var links: [Link] = []
    var text: [UInt8] = []

    /// Keeps as much of `bytes` as the sink takes.
    mutating func keep(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) {
      guard sink != .none else { return }
      current.append(contentsOf: bytes.prefix(HTMLPage.keptText - current.count))
    }

    mutating func keepSpace() {
      guard sink != .none, current.count < HTMLPage.keptText else { return }
      current.append(UInt8(ascii: " "))
    }

    /// Ends the current text, and sends what follows to `next`.
    mutating func flush(then next: Sink) {
      switch sink {
      case .none: break
      case .title: title = MarkupText.decoded(current)
      case .after:
        MarkupText.decode(&current, from: 0)
        links[links.count - 1].after = text.count..<(text.count + current.count)
        text.append(contentsOf: current)
        text.append(UInt8(ascii: "\n"))
      }
      current.removeAll(keepingCapacity: true)
      sink = next
    }

    mutating func addLink(href: Range<Int>) {
      links.append(Link(href: href, after: 0..<0))
      sink = .after
    }
  }

  private mutating func scan() {
    var collected = Collected()
    body.withUnsafeBufferPointer { body in
      var index = 0
      var pendingHref: Range<Int>?
      while index < body.count {
        guard body[index] == UInt8(ascii: "<") else {
          let end = MarkupText.firstIndex(of: UInt8(ascii: "<"), in: body, from: index, to: body.count) ?? body.count
          collected.keep(body[index..<end])
          index = end
          continue
        }
        if MarkupText.hasPrefix("<!--", in: body, at: index) {
          index =
            MarkupText.find("-->".utf8, in: body, from: index + 4, ignoringCase: false).map { $0 + 3 } ?? body.count
          continue
        }
        var href: Range<Int>?
        let tag = MarkupText.tag(in: body, at: index) { name, value in
          if href == nil, MarkupText.equalsIgnoringCase(body[name], "href") { href = value }
        }
        guard let tag else {
          collected.keep(body[index..<(index + 1)])
          index += 1
          continue
        }
        index = tag.end
        if tag.isNamed("a", in: body) {
          if !tag.closing {
            collected.flush(then: .none)
            pendingHref = href
          } else if let href = pendingHref {
            collected.addLink(href: href)
            pendingHref = nil
          }
        } else if tag.isNamed("title", in: body) {
          collected.flush(then: tag.closing ? .none : .title)
        } else if !tag.closing, tag.isNamed("script", in: body) || tag.isNamed("style", in: body) {
          // Their text is code, where `<` is no tag: skip to the end tag.
          index =
            MarkupText.find(Array("</".utf8) + body[tag.name], in: body, from: index, ignoringCase: true) ?? body.count
        } else {
          collected.keepSpace()
        }
      }
    }
    collected.flush(then: .none)
    title = collected.title
    links = collected.links
    text = collected.text
  }
}
