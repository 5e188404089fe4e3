/// The cache's blocks in least-recently-used order, each with the bytes it holds on disk: a pure
/// value with no locks and no I/O. Every operation is O(1) but `takeOldest`, which is O(taken
/// plus skipped).
package struct EvictionOrder<Key: Hashable & Sendable>: Sendable {
  private struct Node: Sendable {
    var bytes: UInt64
    var older: Key?
    var newer: Key?
  }

  private var nodes: [Key: Node] = [:]
  private var oldest: Key?
  private var newest: Key?
  /// The bytes of every block held.
  package private(set) var totalBytes: UInt64 = 0

  package init() {}

  package var count: Int { nodes.count }
  package var isEmpty: Bool { nodes.isEmpty }

  package func contains(_ key: Key) -> Bool { nodes[key] != nil }

  package func bytes(of key: Key) -> UInt64? { nodes[key]?.bytes }

  /// The keys from least to most recently used.
  package var keysOldestFirst: [Key] {
    var keys: [Key] = []
    keys.reserveCapacity(nodes.count)
    var next = oldest
    while let key = next {
      keys.append(key)
      next = nodes[key]?.newer
    }
    return keys
  }

  /// Adds `key` as the most recently used, holding `bytes`; a key held already moves there and
  /// holds `bytes` from now on.
  package mutating func insert(_ key: Key, bytes: UInt64) {
    remove(key)
    nodes[key] = Node(bytes: bytes, older: newest, newer: nil)
    if let newest { nodes[newest]!.newer = key } else { oldest = key }
    newest = key
    totalBytes += bytes
  }

  /// Makes `key` the most recently used; a key not held stays not held.
  package mutating func touch(_ key: Key) {
    guard let bytes = nodes[key]?.bytes, newest != key else { return }
    insert(key, bytes: bytes)
  }

  /// Forgets `key`; returns the bytes it held, `nil` if it was not held.
  @discardableResult
  package mutating func remove(_ key: Key) -> UInt64? {
    guard let node = nodes.removeValue(forKey: key) else { return nil }
    if let older = node.older { nodes[older]!.newer = node.newer } else { oldest = node.newer }
    if let newer = node.newer { nodes[newer]!.older = node.older } else { newest = node.older }
    totalBytes -= node.bytes
    return node.bytes
  }

  /// Takes the least recently used keys that are `eligible`, oldest first, until they hold at
  /// least `bytes` or none is left; they are no longer held. Keys not eligible keep their place.
  package mutating func takeOldest(freeing bytes: UInt64, where eligible: (Key) -> Bool = { _ in true })
    -> [(key: Key, bytes: UInt64)]
  {
    var taken: [(key: Key, bytes: UInt64)] = []
    var freed: UInt64 = 0
    var next = oldest
    while freed < bytes, let key = next {
      next = nodes[key]!.newer
      guard eligible(key) else { continue }
      let held = remove(key)!
      taken.append((key, held))
      freed += held
    }
    return taken
  }
}
