import BitsEngine

/// How the mount serves reads and directories.
public struct MountOptions: Sendable {
  /// A sequential reader's missing bytes are fetched in blocks of this size, aligned to it.
  public var blockSize: UInt64 = 64 << 10
  /// The largest read-ahead window a sequential reader earns; 0 turns read-ahead off.
  public var maximumReadAhead: UInt64 = 64 << 20
  /// The kernel's page-cache read-ahead on the mount: the most the kernel asks ahead of a
  /// sequential reader in one go (bitsfs's own read-ahead does the rest for a stream), and what
  /// a page fault of a mapping reads around the page. 256 KiB keeps a cold stream as fast as
  /// 4 MiB did; 128 KiB (the kernel's default) halves what a page fault fetches, for a stream
  /// costing more calls.
  public var kernelReadAhead: UInt64 = 256 << 10
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
