import FoundationEssentials
import Glibc

/// Directory listings kept in the cache directory (`listings/`, one file a directory, named by
/// a hash of its listing URL), so that a mount made again answers from them within their time
/// to live, and a mount whose server is away can come up on them. No URL is written: a second
/// hash checks that a file is the directory's. Listings are hints, never bytes: a file's version
/// is confirmed by its own requests, whatever a stored listing says of it.
package struct ListingStore: Sendable {
  private static let format = 1

  package let directory: URL

  package init(cacheDirectory: URL) {
    directory = cacheDirectory.appendingPathComponent("listings")
  }

  private struct Record: Codable {
    var format: Int
    var check: UInt64
    var savedAt: Date
    /// Where the listing was read from (an S3 prefix for a page URL that S3 answered).
    var location: DirectoryLocation
    var listing: DirectoryListing
  }

  /// The listing stored for `location`, where it was read from, and how old it is.
  package func load(_ location: DirectoryLocation) -> (DirectoryListing, DirectoryLocation, age: Duration)? {
    let url = location.listingURL()
    guard let bytes = readWholeFile(path(for: url)),
      let record = try? JSONDecoder().decode(Record.self, from: bytes),
      record.format == Self.format, record.check == Self.check(url)
    else { return nil }
    // A clock set back makes a listing of the future: as good as expired.
    let age = Date().timeIntervalSince(record.savedAt)
    return (record.listing, record.location, age >= 0 ? .milliseconds(Int64(age * 1000)) : Self.expired)
  }

  /// Older than any time to live (`--dir-ttl` is at most a year).
  private static let expired = Duration.seconds(2 * 31_536_000)

  /// Keeps `listing` of `location` (read from `resolved`); a failure to write loses only the
  /// shortcut.
  package func save(_ listing: DirectoryListing, of location: DirectoryLocation, readFrom resolved: DirectoryLocation) {
    let url = location.listingURL()
    let record = Record(
      format: Self.format, check: Self.check(url), savedAt: Date(), location: resolved, listing: listing)
    guard let bytes = try? JSONEncoder().encode(record) else { return }
    try? FileManager.default.createDirectory(
      at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    try? writeReplacing(bytes, to: path(for: url), durably: false)
  }

  /// Forgets every stored listing: removes the files this store writes (and nothing else), then
  /// its directory if that is left empty.
  package func removeAll() {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    for name in names where CacheKey.isRecordName(name) {
      unlink(directory.appendingPathComponent(name).path)
    }
    rmdir(directory.path)
  }

  private func path(for url: String) -> String {
    directory.appendingPathComponent(CacheKey.forURL(url) + ".json").path
  }

  private static func check(_ url: String) -> UInt64 {
    FNV1a.hash(Array("listing ".utf8) + Array(url.utf8))
  }
}
