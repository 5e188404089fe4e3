import BitsEngine
import FoundationEssentials

/// The tree a mount shows: directories and files placed by the command line or a manifest, and
/// below directories read from a server, what their listings say. A pure value: listings are
/// applied to it, nothing here fetches. Nodes are numbered in the order they appear and never
/// reused, so a node's number (and its inode) stays the same across listings that keep it.
package struct MountTree: Sendable {
  package static let root = 0

  package struct Node: Sendable {
    package let parent: Int
    package let name: String
    package var content: Content
    /// Where the node is in its directory's last listing (`Directory.listed`); `nil` for a
    /// placed node.
    package var listedPosition: Int32?
  }

  package enum Content: Sendable {
    case file(File)
    /// A directory, whose entries the tree keeps apart (`directory(_:)`): a node stays small
    /// and cheap to copy, and the node array that grows with every listing moves little.
    case directory(DirectorySlot)
  }

  /// Where the tree keeps a directory's entries.
  package struct DirectorySlot: Sendable {
    fileprivate let index: Int
  }

  package struct File: Sendable {
    /// The URL of a file placed by name; a listed file's is its directory's location and its
    /// name (`url(of:)`), not kept a second time for each of thousands of entries.
    package let placedURL: String?
    /// As a listing gives it; `.unknown` for a file placed by name, whose size its first
    /// request learns.
    package var size: DirectoryListing.Size
    package var modified: Date?
  }

  package struct Directory: Sendable {
    /// Where the listing comes from; `nil` for a directory that only holds placed entries.
    package var location: DirectoryLocation?
    package var modified: Date?
    /// Entries placed by the command line or a manifest, by name: a listing never hides them.
    package var placed: [String: Int] = [:]
    /// Entries of the last listing, in its order, and by name.
    package var listed: [Int] = []
    package var listedByName: [String: Int] = [:]
    /// The entries as `children(of:)` gives them, kept in that order: a directory is read in
    /// parts of a few hundred entries, and placed entries would be sorted and the listing
    /// filtered for each.
    package fileprivate(set) var children: [Int] = []
    /// How many listings were applied, and the children before the last: a reading of the
    /// directory in parts that a refresh falls between goes on where it was (`DirectoryOffset`).
    package fileprivate(set) var generation: UInt32 = 0
    package fileprivate(set) var previousChildren: [Int] = []
    /// When the last listing was read; `nil` until one was.
    package var listedAt: ContinuousClock.Instant?
    /// When reading a listing last failed; a failed refresh keeps the old listing.
    package var failedAt: ContinuousClock.Instant?
  }

  /// What to do before answering from a directory.
  package enum Freshness: Equatable, Sendable {
    /// Answer from what is there.
    case fresh
    /// Answer from the old listing, and read the listing again meanwhile.
    case stale
    /// Never listed: read the listing, then answer.
    case unlisted
  }

  package private(set) var nodes: [Node] = [
    Node(parent: root, name: "", content: .directory(DirectorySlot(index: 0)), listedPosition: nil)
  ]
  /// The entries of each directory node, by its slot.
  private var directories = [Directory()]

  package init() {}

  package subscript(node: Int) -> Node { nodes[node] }

  package func directory(_ node: Int) -> Directory? {
    guard nodes.indices.contains(node), case .directory(let slot) = nodes[node].content else { return nil }
    return directories[slot.index]
  }

  /// What `stat` shows of a node, read without copying a directory's entries.
  package struct Shown: Sendable {
    package let isDirectory: Bool
    /// A file's size as its listing gives it; `.unknown` for a directory.
    package let size: DirectoryListing.Size
    package let modified: Date?
    /// When a directory's listing was last read; `nil` for a file, or a directory never listed.
    package let listedAt: ContinuousClock.Instant?
  }

  package func shown(_ node: Int) -> Shown {
    switch nodes[node].content {
    case .file(let file): Shown(isDirectory: false, size: file.size, modified: file.modified, listedAt: nil)
    case .directory(let slot):
      Shown(
        isDirectory: true, size: .unknown, modified: directories[slot.index].modified,
        listedAt: directories[slot.index].listedAt)
    }
  }

  package func isDirectory(_ node: Int) -> Bool {
    guard nodes.indices.contains(node), case .directory = nodes[node].content else { return false }
    return true
  }

  /// Whether `node` is a directory whose listing is to be read and was never read.
  package func isUnlisted(_ node: Int) -> Bool {
    guard case .directory(let slot) = nodes[node].content else { return false }
    return directories[slot.index].listedAt == nil && directories[slot.index].location != nil
  }

  package func file(_ node: Int) -> File? {
    guard nodes.indices.contains(node), case .file(let file) = nodes[node].content else { return nil }
    return file
  }

  /// The URL of the file `node`.
  package func url(of node: Int) -> String? {
    guard let file = file(node) else { return nil }
    if let placedURL = file.placedURL { return placedURL }
    return directory(nodes[node].parent)?.location?.fileURL(named: nodes[node].name)
  }

  /// The entry `name` of `directory`: a placed one first, then a listed one.
  package func child(named name: String, in directory: Int) -> Int? {
    guard let entries = self.directory(directory) else { return nil }
    return entries.placed[name] ?? entries.listedByName[name]
  }

  /// The entries of `directory`: placed ones by name, then listed ones in the listing's order.
  package func children(of directory: Int) -> [Int] {
    self.directory(directory)?.children ?? []
  }

  /// The entries `directory` had before its last listing was applied, as `children(of:)` gave
  /// them then.
  package func previousChildren(of directory: Int) -> [Int] {
    self.directory(directory)?.previousChildren ?? []
  }

  /// Sets the children of `directory` from its placed and listed entries.
  private mutating func reorder(_ directory: Int) {
    guard let entries = self.directory(directory) else { return }
    // Most directories are listed only: no name to look up per entry.
    let children =
      entries.placed.isEmpty
      ? entries.listed
      : entries.placed.sorted { $0.key < $1.key }.map(\.value)
        + entries.listed.filter { entries.placed[nodes[$0].name] == nil }
    modifyDirectory(directory) { $0.children = children }
  }

  /// The names from `node` up to the root, joined by `/`; empty for the root.
  package func path(of node: Int) -> String {
    var names: [String] = []
    var current = node
    while current != Self.root {
      names.append(nodes[current].name)
      current = nodes[current].parent
    }
    return names.reversed().joined(separator: "/")
  }

  package func freshness(
    of directory: Int, at now: ContinuousClock.Instant, timeToLive: Duration, failureHold: Duration
  ) -> Freshness {
    guard let entries = self.directory(directory), entries.location != nil else { return .fresh }
    guard let listedAt = entries.listedAt else { return .unlisted }
    guard now - listedAt >= timeToLive else { return .fresh }
    if let failedAt = entries.failedAt, now - failedAt < failureHold { return .fresh }
    return .stale
  }

  // MARK: Looking ahead

  /// What a walk of the tree (`find`, `du`, `ls -lR`) that has reached `node` will want next:
  /// the entries listed after it in its directory for which `wanted` holds, at most `count` of
  /// them, within the next `reach` entries, skipping those before position `start` (examined
  /// by an earlier call); and the position after the last entry examined.
  package func siblings(
    after node: Int, from start: Int = 0, count: Int, reach: Int = 256, where wanted: (Int, Content) -> Bool
  ) -> (found: [Int], next: Int) {
    guard node != Self.root, let parent = directory(nodes[node].parent), let position = nodes[node].listedPosition
    else { return ([], start) }
    let end = min(Int(position) + 1 + reach, parent.listed.count)
    var found: [Int] = []
    var next = max(Int(position) + 1, start)
    while next < end, found.count < count {
      let sibling = parent.listed[next]
      next += 1
      if wanted(sibling, nodes[sibling].content) { found.append(sibling) }
    }
    return (found, max(next, start))
  }

  // MARK: Placing

  /// Places `url` at `path` (names below the root): a file, or for a `location` a directory
  /// read from it (the root itself for an empty path). Directories on the way are made; a path
  /// already taken, or below a file, is refused. A placed entry may sit in a listed directory.
  package mutating func place(
    url: String, location: DirectoryLocation?, at path: [String]
  ) throws(MountTreeError) -> Int {
    var parent = Self.root
    for (depth, name) in path.dropLast().enumerated() {
      if let existing = self.directory(parent)?.placed[name] {
        guard self.directory(existing) != nil else {
          throw .placedBelowFile(path.prefix(depth + 1).joined(separator: "/"))
        }
        parent = existing
      } else {
        parent = add(
          Node(parent: parent, name: name, content: newDirectory(Directory()), listedPosition: nil), placedIn: parent)
      }
    }
    guard let name = path.last else {
      // The root itself: a directory URL mounted as the whole tree.
      guard let location, directory(Self.root)?.location == nil else { throw .taken("/") }
      modifyDirectory(Self.root) { $0.location = location }
      return Self.root
    }
    guard let entries = self.directory(parent) else { throw .placedBelowFile(path.dropLast().joined(separator: "/")) }
    guard entries.placed[name] == nil else { throw .taken(path.joined(separator: "/")) }
    let content: Content =
      if let location { newDirectory(Directory(location: location)) } else {
        .file(File(placedURL: url, size: .unknown))
      }
    return add(Node(parent: parent, name: name, content: content, listedPosition: nil), placedIn: parent)
  }

  private mutating func add(_ node: Node, placedIn directory: Int) -> Int {
    nodes.append(node)
    let number = nodes.count - 1
    modifyDirectory(directory) { $0.placed[node.name] = number }
    reorder(directory)
    return number
  }

  // MARK: Listings

  /// Makes `listing` (read from `location`) the listed entries of `directory`, keeping the node
  /// of each name that stays of the same kind; returns the names that are gone.
  package mutating func apply(
    _ listing: DirectoryListing, from location: DirectoryLocation, to directory: Int, at now: ContinuousClock.Instant
  ) -> [String] {
    guard let old = self.directory(directory) else { return [] }
    var listed: [Int] = []
    var byName: [String: Int] = [:]
    listed.reserveCapacity(listing.entries.count)
    byName.reserveCapacity(listing.entries.count)
    for entry in listing.entries {
      let node: Int
      switch (entry.kind, old.listedByName[entry.name].map { nodes[$0].content }) {
      case (.file, .file(var file)?):
        node = old.listedByName[entry.name]!
        // A size learned exactly stays unless the listing now says otherwise.
        if case .exact = entry.size {
          file.size = entry.size
        } else if case .exact = file.size {
        } else {
          file.size = entry.size
        }
        file.modified = entry.modified ?? file.modified
        nodes[node].content = .file(file)
      case (.directory, .directory(let slot)?):
        node = old.listedByName[entry.name]!
        directories[slot.index].modified = entry.modified ?? directories[slot.index].modified
      default:
        let content: Content =
          switch entry.kind {
          case .file: .file(File(placedURL: nil, size: entry.size, modified: entry.modified))
          case .directory:
            newDirectory(Directory(location: location.subdirectory(named: entry.name), modified: entry.modified))
          }
        nodes.append(Node(parent: directory, name: entry.name, content: content, listedPosition: nil))
        node = nodes.count - 1
      }
      nodes[node].listedPosition = Int32(clamping: listed.count)
      listed.append(node)
      byName[entry.name] = node
    }
    let gone = old.listed.map { nodes[$0].name }.filter { byName[$0] == nil }
    modifyDirectory(directory) { entries in
      entries.location = location
      entries.previousChildren = entries.children
      entries.generation &+= 1
      entries.listed = listed
      entries.listedByName = byName
      entries.listedAt = now
      entries.failedAt = nil
    }
    reorder(directory)
    return gone
  }

  /// Reading the listing of `directory` failed: an old listing keeps answering for a while.
  package mutating func listingFailed(_ directory: Int, at now: ContinuousClock.Instant) {
    modifyDirectory(directory) { $0.failedAt = now }
  }

  /// The exact size and date of `file`, learned from the server.
  package mutating func learn(size: UInt64, modified: Date?, of file: Int) {
    guard case .file(var entry) = nodes[file].content else { return }
    entry.size = .exact(size)
    entry.modified = modified ?? entry.modified
    nodes[file].content = .file(entry)
  }

  private mutating func modifyDirectory(_ node: Int, _ change: (inout Directory) -> Void) {
    guard case .directory(let slot) = nodes[node].content else { return }
    change(&directories[slot.index])
  }

  private mutating func newDirectory(_ directory: Directory) -> Content {
    directories.append(directory)
    return .directory(DirectorySlot(index: directories.count - 1))
  }
}

/// Why an entry cannot be placed where it was asked for.
package enum MountTreeError: Error, Equatable, CustomStringConvertible {
  case taken(String)
  case placedBelowFile(String)

  package var description: String {
    switch self {
    case .taken(let path): "two entries would both appear as '\(path)'"
    case .placedBelowFile(let path): "'\(path)' is a file, so nothing can be placed below it"
    }
  }
}
