import BitsEngine

/// How the mount serves reads and directories.
public struct MountOptions: Sendable {
  /// Missing bytes are fetched in blocks of this size, aligned to it.
  public var blockSize: UInt64 = 64 << 10
  /// The largest read-ahead window a sequential reader earns; 0 turns read-ahead off.
  public var maximumReadAhead: UInt64 = 64 << 20
  /// A read whose bytes do not arrive in this time fails with EIO.
  public var readTimeout: Duration = .seconds(30)
  /// An open checks whether the remote file changed if that was last checked longer ago.
  public var revalidationInterval: Duration = .seconds(60)
  /// How long a directory listing answers before it is read again (in the background, the old
  /// one answering meanwhile); also how long the kernel keeps names and attributes from it.
  public var directoryTimeToLive: Duration = .seconds(300)
  /// Bounds on reading one directory listing.
  package var listingLimits = DirectoryReader.Limits()
  /// Patterns (`fnmatch`, `*` also across `/`) of paths in the mount to fill in the background.
  public var prefetch: [String] = []
  /// The priority background fill runs at, below every reader.
  public var prefetchPriority: TransferPriority = .low
  /// Shell commands run when a prefetched file is wholly filled, or fails (`FillHooks`).
  public var onComplete: String?
  public var onError: String?
  /// The bytes the cache may take (its limit, or the free space above its minimum); background
  /// fill takes on files only while they fit in three quarters of it (`FillRoom`). `nil`: no limit.
  public var cacheRoom: UInt64?

  public init() {}
}
