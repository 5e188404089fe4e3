/// Whether the files of a `readdirplus` reply carry their attributes. Every entry the kernel
/// gets with attributes becomes an inode and a name it keeps, which costs a walk that reads
/// only names and kinds (`find`) more than the listing itself. So the first reply of a small
/// directory leaves its files' attributes out unless files were looked up lately (`ls -l`,
/// `du`, `stat`): the kernel then looks up the files it is asked about, and the first such
/// lookup brings the attributes back for ``demandSpan``. Directories always carry theirs (a
/// walk opens them), and so do every reply of a large listing and every reply past the first:
/// left out, files' attributes there would cost `ls -l` and `du` a lookup each in the
/// directories where that adds up. A pure value.
struct ListingAttributePolicy: Sendable {
  /// The most entries of a directory whose first reply may leave files out: about what one
  /// reply of 32 KiB holds, so a larger listing costs at most this many lookups more.
  var smallDirectory = 256
  /// How long a lookup of a file keeps files' attributes in every reply.
  var demandSpan: Duration = .seconds(2)
  private var lastFileLookup: ContinuousClock.Instant?

  /// A file was looked up by name.
  mutating func fileLookedUp(at now: ContinuousClock.Instant) {
    lastFileLookup = now
  }

  /// Whether the files of a reply from entry `offset` of a listing of `entryCount` entries
  /// carry their attributes.
  func filesCarryAttributes(offset: UInt64, entryCount: Int, at now: ContinuousClock.Instant) -> Bool {
    guard offset == 0, entryCount <= smallDirectory else { return true }
    guard let lastFileLookup else { return false }
    return now - lastFileLookup < demandSpan
  }
}
