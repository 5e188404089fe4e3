/// An XML document read by a small tolerant scanner, enough for the listings bitsfs reads
/// (nginx's `<list>`, S3's `<ListBucketResult>`): elements by local name (any `ns:` prefix
/// dropped), attributes, and text with entities and CDATA. An end tag closes up to the element
/// it names; one that names no open element is ignored. Linear in the input, bounded in depth.
struct XMLDocument {
  struct Element {
    var name: String
    var attributes: [String: String]
    /// At most ``XMLDocument/keptText`` bytes, decoded.
    var text: String
    fileprivate var textBytes: [UInt8] = []
    fileprivate(set) var children: [Int] = []
  }

  /// The text an element keeps: more than any name, key or token of a listing.
  static let keptText = 4096
  /// Deeper than any listing nests.
  static let maximumDepth = 32

  private var elements: [Element] = []

  /// The outermost element; `nil` when there is none.
  var root: Element? { elements.first }

  /// `nil` when `body` holds no element, or nests deeper than ``maximumDepth``.
  init?(_ body: [UInt8]) {
    var open: [Int] = []
    var index = 0
    while index < body.count {
      guard body[index] == UInt8(ascii: "<") else {
        if let current = open.last, elements[current].textBytes.count < Self.keptText {
          elements[current].textBytes.append(body[index])
        }
        index += 1
        continue
      }
      if MarkupText.hasPrefix("<![CDATA[", in: body, at: index) {
        let start = index + 9
        let end = MarkupText.find(Array("]]>".utf8), in: body, from: start, ignoringCase: false) ?? body.count
        if let current = open.last {
          let room = max(0, Self.keptText - elements[current].textBytes.count)
          // Escaped so that decoding the text at the end leaves it as it was.
          for byte in body[start..<min(end, start + room)] {
            elements[current].textBytes.append(contentsOf: byte == UInt8(ascii: "&") ? Array("&amp;".utf8) : [byte])
          }
        }
        index = min(body.count, end + 3)
        continue
      }
      if let end = Self.endOfDeclaration(in: body, at: index) {
        index = end
        continue
      }
      var attributeRanges: [(name: Range<Int>, value: Range<Int>)] = []
      guard let tag = MarkupText.tag(in: body, at: index, attribute: { attributeRanges.append(($0, $1)) }) else {
        if let current = open.last, elements[current].textBytes.count < Self.keptText {
          elements[current].textBytes.append(body[index])
        }
        index += 1
        continue
      }
      index = tag.end
      let name = Self.localName(body[tag.name])
      if tag.closing {
        if let depth = open.lastIndex(where: { elements[$0].name == name }) { open.removeSubrange(depth...) }
        continue
      }
      guard open.count < Self.maximumDepth else { return nil }
      var attributes: [String: String] = [:]
      for attribute in attributeRanges {
        attributes[Self.localName(body[attribute.name])] = MarkupText.decoded(Array(body[attribute.value]))
      }
      elements.append(Element(name: name, attributes: attributes, text: ""))
      if let parent = open.last {
        elements[parent].children.append(elements.count - 1)
      } else if elements.count > 1 {
        // A second top-level element: the document ended with the first.
        elements.removeLast()
        break
      }
      if !tag.selfClosing { open.append(elements.count - 1) }
    }
    guard !elements.isEmpty else { return nil }
    for index in elements.indices {
      elements[index].text = MarkupText.decoded(elements[index].textBytes)
      elements[index].textBytes = []
    }
  }

  /// The children of `element`, or those named `name`, in order.
  func children(of element: Element, named name: String? = nil) -> [Element] {
    element.children.lazy.map { elements[$0] }.filter { name == nil || $0.name == name }
  }

  /// The text of the first child of `element` named `name`.
  func text(of element: Element, child name: String) -> String? {
    element.children.lazy.map { elements[$0] }.first { $0.name == name }?.text
  }

  /// The index after a comment, processing instruction or declaration at `index`, if one starts there.
  private static func endOfDeclaration(in body: [UInt8], at index: Int) -> Int? {
    let markers: [(opening: StaticString, closing: StaticString)] = [("<!--", "-->"), ("<?", "?>"), ("<!", ">")]
    for (opening, closing) in markers where MarkupText.hasPrefix(opening, in: body, at: index) {
      let end = closing.withUTF8Buffer {
        MarkupText.find($0, in: body, from: index + opening.utf8CodeUnitCount, ignoringCase: false)
      }
      return end.map { $0 + closing.utf8CodeUnitCount } ?? body.count
    }
    return nil
  }

  private static func localName(_ name: ArraySlice<UInt8>) -> String {
    let local = name.lastIndex(of: UInt8(ascii: ":")).map { name[($0 + 1)...] } ?? name
    return String(decoding: local, as: UTF8.self)
  }
}
