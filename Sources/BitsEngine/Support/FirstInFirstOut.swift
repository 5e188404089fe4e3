/// A queue taken from the front in the order given, in O(1) per item: what was taken is
/// dropped only once the queue runs empty, so nothing is shifted item by item. A pure value.
package struct FirstInFirstOut<Element> {
  private var items: [Element] = []
  /// The first of `items` not taken yet.
  private var next = 0

  package init() {}

  package var isEmpty: Bool { next == items.count }

  package mutating func append(_ item: Element) {
    items.append(item)
  }

  /// The oldest item not taken yet, or `nil` when none is left.
  package mutating func popFirst() -> Element? {
    guard next < items.count else { return nil }
    defer {
      next += 1
      if next == items.count {
        items = []
        next = 0
      }
    }
    return items[next]
  }
}

extension FirstInFirstOut: Sendable where Element: Sendable {}
