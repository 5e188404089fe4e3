import FoundationEssentials
import Glibc

/// Directory listings kept in the cache directory (`listings/`, one file a directory, named by
/// a hash of its listing URL, in the format of ``StoredListing``), so that a mount made again
/// answers from them within their time to live, and a mount whose server is away can come up on
/// them. No URL is written: a second hash checks that a file is the directory's. Listings are
/// hints, never bytes: a file's version is confirmed by its own requests, whatever a stored
/// listing says of it.
package struct ListingStore: Sendable {
  package let directory: URL

  package init(cacheDirectory: URL) {
    directory = cacheDirectory.appendingPathComponent("listings")
  }

  /// The listing stored for `location`, where it was read from, and how old it is.
  package func load(_ location: DirectoryLocation) -> (DirectoryListing, DirectoryLocation, age: Duration)? {
    let url = location.listingURL()
    guard let bytes = readWholeFile(path(for: url)), let stored = StoredListing(decoding: Array(bytes)),
      stored.check == Self.check(url),
      let resolved = stored.readAsS3PathStyle ? location.asS3PathStyle : location
    else { return nil }
    // A clock set back makes a listing of the future: as good as expired.
    let age = Date().timeIntervalSince(stored.savedAt)
    return (stored.listing, resolved, age >= 0 ? .milliseconds(Int64(age * 1000)) : Self.expired)
  }

  /// Older than any time to live (`--dir-ttl` is at most a year).
  private static let expired = Duration.seconds(2 * 31_536_000)

  /// Keeps `listing` of `location` (read from `resolved`); a failure to write loses only the
  /// shortcut.
  package func save(_ listing: DirectoryListing, of location: DirectoryLocation, readFrom resolved: DirectoryLocation) {
    let readAsS3PathStyle = resolved != location
    guard !readAsS3PathStyle || resolved == location.asS3PathStyle else { return }
    let url = location.listingURL()
    let stored = StoredListing(
      check: Self.check(url), savedAt: Date(), readAsS3PathStyle: readAsS3PathStyle, listing: listing)
    try? FileManager.default.createDirectory(
      at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    try? writeReplacing(Data(stored.encoded()), to: path(for: url), durably: false)
  }

  /// Forgets every stored listing: removes the files this store writes (and nothing else), then
  /// its directory if that is left empty.
  package func removeAll() {
    // `.json`: the files of earlier versions, which held listing URLs, go with the rest.
    removeFiles(in: directory) { CacheKey.isRecordName($0, suffix: ".listing") || CacheKey.isRecordName($0) }
  }

  private func path(for url: String) -> String {
    // Joined by hand: `appendingPathComponent` cost more than the lookup it names, once a directory.
    directory.path + "/" + CacheKey.forURL(url) + ".listing"
  }

  private static func check(_ url: String) -> UInt64 {
    FNV1a.hash(Array("listing ".utf8) + Array(url.utf8))
  }
}
