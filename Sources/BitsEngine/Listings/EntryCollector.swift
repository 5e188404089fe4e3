import FoundationEssentials

/// Gathers a listing's entries under its rules: each name once (the first wins), unsafe names
/// refused and remembered, and at most `limit` entries across all pages of one directory. Names
/// are compared by their bytes, as the file system does: Swift's `==` would take a composed `é`
/// and a decomposed one, two files on Linux, for one.
struct EntryCollector {
  private(set) var entries: [DirectoryListing.Entry]
  private(set) var refusedNames: [String]
  private var names: Set<NameBytes>
  private let limit: Int

  /// Continues `previous` (the pages before of the same directory), if any.
  init(limit: Int, continuing previous: DirectoryListing? = nil) {
    self.limit = limit
    entries = previous?.entries ?? []
    refusedNames = previous?.refusedNames ?? []
    names = Set(entries.map { NameBytes($0.name) })
  }

  /// Room for `count` more entries, for a format that knows how many it holds before adding.
  mutating func reserveCapacity(_ count: Int) {
    let wanted = entries.count + min(count, limit)
    entries.reserveCapacity(wanted)
    names.reserveCapacity(wanted)
  }

  mutating func add(_ entry: DirectoryListing.Entry) throws(ListingError) {
    guard names.insert(NameBytes(entry.name)).inserted else { return }
    guard entries.count < limit else { throw .tooManyEntries(limit: limit) }
    entries.append(entry)
  }

  /// A name below the directory that is not safe: kept to be named, up to a few.
  mutating func refuse(_ name: String) {
    if refusedNames.count < DirectoryListing.maximumRefusedNames { refusedNames.append(name) }
  }

  /// Adds `name` if it is safe, refuses it otherwise.
  mutating func add(
    named name: String, kind: DirectoryListing.Kind, size: DirectoryListing.Size, modified: Date?
  ) throws(ListingError) {
    guard let safe = EntryName.checked(name) else { return refuse(name) }
    try add(DirectoryListing.Entry(name: safe, kind: kind, size: size, modified: modified))
  }

  func listing(_ format: DirectoryListing.Format, continuationToken: String? = nil) -> DirectoryListing {
    DirectoryListing(
      format: format, entries: entries, refusedNames: refusedNames, continuationToken: continuationToken)
  }
}

/// A name compared and hashed by its UTF-8 bytes, all at once: `[UInt8]` would cost an array
/// per name and hash byte by byte.
private struct NameBytes: Hashable {
  let name: String

  init(_ name: String) {
    self.name = name
  }

  static func == (left: NameBytes, right: NameBytes) -> Bool {
    left.name.utf8.elementsEqual(right.name.utf8)
  }

  func hash(into hasher: inout Hasher) {
    var name = name
    name.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
  }
}
