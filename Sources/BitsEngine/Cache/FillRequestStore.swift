import FoundationEssentials
import Glibc

/// Background fill asked of a running mount, kept in the cache directory (`fill/`, one file a
/// request, named by a hash of the URL of the file or directory asked for) so that a mount made
/// again on the same cache, after an unmount or a crash, resumes it. A request belongs to its
/// URL: no URL is written, only the path it had in the mount and the priority, and a second hash
/// checks that a record is the URL's. A mount resumes a record when the path names, in that
/// mount, the very URL the record was made for; any other mount of the cache leaves it alone.
package struct FillRequestStore: Sendable {
  private static let format = 1

  package let directory: URL

  package init(cacheDirectory: URL) {
    directory = cacheDirectory.appendingPathComponent("fill")
  }

  /// One request: where the file or directory was in the mount, and at which priority to fill it.
  package struct Request: Codable, Equatable, Sendable {
    package var path: String
    /// `high`, `normal` or `low`.
    package var priority: String

    package init(path: String, priority: String) {
      self.path = path
      self.priority = priority
    }
  }

  private struct Record: Codable {
    var format: Int
    var check: UInt64
    var request: Request
  }

  /// Keeps `request` for `url`, durably (it outlives a crash right after it was asked for).
  package func save(_ request: Request, for url: String) throws(BitsError) {
    let record = Record(format: Self.format, check: Self.check(url), request: request)
    guard let bytes = try? JSONEncoder().encode(record) else {
      throw BitsError(.unexpected, "cannot encode a fill request")
    }
    do {
      try FileManager.default.createDirectory(
        at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
      throw BitsError(.accessDenied, "cannot create \(directory.path) to keep fill requests in")
    }
    try writeReplacing(bytes, to: path(for: url), durably: true)
    try synchronize(directory.path)
  }

  /// The request kept for `url`, if there is one and it is `url`'s.
  package func request(for url: String) -> Request? {
    guard let bytes = readWholeFile(path(for: url)),
      let record = try? JSONDecoder().decode(Record.self, from: bytes),
      record.format == Self.format, record.check == Self.check(url)
    else { return nil }
    return record.request
  }

  /// Every request kept, whatever URL it is for: to be matched with a mount's paths (`request(for:)`
  /// tells whether a path's URL is the one a record was made for).
  package func all() -> [Request] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { CacheKey.isRecordName($0) }.sorted().compactMap { name in
      guard let bytes = readWholeFile(directory.appendingPathComponent(name).path),
        let record = try? JSONDecoder().decode(Record.self, from: bytes), record.format == Self.format
      else { return nil }
      return record.request
    }
  }

  /// Forgets the request for `url` (done or cancelled).
  package func remove(for url: String) {
    guard request(for: url) != nil else { return }
    unlink(path(for: url))
  }

  /// Forgets every request: removes the files this store writes (and nothing else), then its
  /// directory if that is left empty.
  package func removeAll() {
    removeFiles(in: directory) { CacheKey.isRecordName($0) }
  }

  private func path(for url: String) -> String {
    directory.appendingPathComponent(CacheKey.forURL(url) + ".json").path
  }

  private static func check(_ url: String) -> UInt64 {
    FNV1a.hash(Array("fill ".utf8) + Array(url.utf8))
  }
}
