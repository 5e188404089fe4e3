import BitsEngine
import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// How the mount serves reads.
public struct MountOptions: Sendable {
  /// Missing bytes are fetched in blocks of this size, aligned to it.
  public var blockSize: UInt64 = 64 << 10
  /// Sequential readers get a read-ahead window that starts at this size and doubles…
  public var initialReadAhead: UInt64 = 1 << 20
  /// …up to this size.
  public var maximumReadAhead: UInt64 = 64 << 20
  /// A read whose bytes do not arrive in this time fails with EIO.
  public var readTimeout: Duration = .seconds(30)
  /// An open checks whether the remote file changed if that was last checked longer ago.
  public var revalidationInterval: Duration = .seconds(60)

  public init() {}
}

/// The read-only file system of a mount: one directory holding one file per URL, each backed by a
/// `DownloadFile` of an on-demand job. Reads are answered from the cache, fetching missing blocks
/// first; the reply leaves as soon as the bytes are on disk, from whichever thread delivered them.
public final class MountedFileSystem: FileSystemOperations {
  static let rootInode: UInt64 = 1

  private let entries: [Entry]
  private let options: MountOptions
  private let handles = Mutex(HandleTable())
  private let mountTime = Date()

  struct Entry: Sendable {
    let name: String
    let inode: UInt64
    let file: DownloadFile
  }

  private struct HandleTable {
    var nextHandle: UInt64 = 1
    var open: [UInt64: OpenFile] = [:]
  }

  /// Per open file: the version it was opened at, and what the reader's pattern suggests.
  private struct OpenFile {
    let inode: UInt64
    let generation: UInt64
    var hasRead = false
    var nextSequentialOffset: UInt64 = 0
    var readAhead: UInt64 = 0
    var readAheadEnd: UInt64 = 0
  }

  /// `files` are named by the last path segment of their URL; names must be unique.
  public init(files: [(name: String, file: DownloadFile)], options: MountOptions) {
    self.entries = files.enumerated().map { index, item in
      Entry(name: item.name, inode: Self.rootInode + 1 + UInt64(index), file: item.file)
    }
    self.options = options
  }

  func entry(_ inode: UInt64) -> Entry? {
    guard inode > Self.rootInode, inode - Self.rootInode - 1 < UInt64(entries.count) else { return nil }
    return entries[Int(inode - Self.rootInode - 1)]
  }

  public func inode(of file: DownloadFile) -> UInt64? {
    entries.first { $0.file === file }?.inode
  }

  // MARK: Attributes

  private func attributes(of inode: UInt64) -> FileAttributes? {
    if inode == Self.rootInode {
      return FileAttributes(
        inode: inode, size: 0, mode: S_IFDIR | 0o555, linkCount: 2, modificationTime: mountTime)
    }
    guard let entry = entry(inode), let version = entry.file.lastKnownVersion else { return nil }
    let modified = version.lastModified.flatMap(HTTPDate.parse) ?? mountTime
    return FileAttributes(
      inode: inode, size: version.size, mode: S_IFREG | 0o444, linkCount: 1, modificationTime: modified)
  }

  public func lookup(_ request: FuseRequest, parent: UInt64, name: String) {
    guard parent == Self.rootInode, let entry = entries.first(where: { $0.name == name }),
      let attributes = attributes(of: entry.inode)
    else { return request.replyError(ENOENT) }
    request.replyEntry(inode: entry.inode, attributes: attributes, timeout: 1)
  }

  public func getattr(_ request: FuseRequest, inode: UInt64) {
    guard let attributes = attributes(of: inode) else { return request.replyError(ENOENT) }
    request.replyAttributes(attributes, timeout: 1)
  }

  // MARK: Files

  public func open(_ request: FuseRequest, inode: UInt64, flags: Int32) {
    guard let entry = entry(inode) else { return request.replyError(ENOENT) }
    guard flags & O_ACCMODE == O_RDONLY else { return request.replyError(EROFS) }
    let finishOpen: @Sendable () -> Void = { [self] in
      let generation = entry.file.generation
      let handle = handles.withLock { table in
        defer { table.nextHandle += 1 }
        table.open[table.nextHandle] = OpenFile(inode: inode, generation: generation)
        return table.nextHandle
      }
      // The kernel may keep this file's pages across opens: when the remote version changes,
      // the mount invalidates them.
      request.replyOpen(handle: handle, keepCache: true, directIO: false)
    }
    // A file whose remote version changed is reconnecting: the open waits for the new version
    // (bounded by the retry period), so that it reads the new version rather than failing.
    guard entry.file.version != nil else {
      entry.file.connect { _ in finishOpen() }
      return
    }
    // Close-to-open consistency: an open confirms the version if it was last confirmed more
    // than the revalidation interval ago. No thread waits for the server meanwhile; an open
    // within the interval is answered at once.
    entry.file.revalidate(ifOlderThan: options.revalidationInterval, completion: finishOpen)
  }

  public func read(_ request: FuseRequest, inode: UInt64, size: Int, offset: UInt64, handle: UInt64) {
    guard let entry = entry(inode), let fileSize = entry.file.version?.size else { return request.replyError(EIO) }
    let end = min(fileSize, offset + UInt64(size))
    guard offset < end else { return request.replyBytes(UnsafeRawBufferPointer(start: nil, count: 0)) }
    guard let (generation, readAhead) = planReadAhead(handle: handle, range: offset..<end, fileSize: fileSize) else {
      return request.replyError(EBADF)
    }
    let file = entry.file
    file.read(offset..<end, alignment: options.blockSize, timeout: options.readTimeout) { result in
      switch result {
      case .success(let bytes) where bytes.generation == generation:
        switch bytes.location {
        case .cache(let data): request.replyData(fd: data.descriptor, offset: offset, count: Int(end - offset))
        case .received(let received): received.withUnsafeBytes { request.replyBytes($0) }
        }
      case .success, .failure:
        // Another version than the one opened, a server failure or a timeout: never wrong bytes.
        request.replyError(EIO)
      }
    }
    if let readAhead { file.prefetch(readAhead) }
  }

  /// Tracks the reader's pattern: consecutive reads grow a read-ahead window (doubling up to the
  /// maximum), a jump resets it, so random readers fetch only the blocks they touch.
  private func planReadAhead(handle: UInt64, range: Range<UInt64>, fileSize: UInt64) -> (UInt64, Range<UInt64>?)? {
    handles.withLock { table -> (UInt64, Range<UInt64>?)? in
      guard var open = table.open[handle] else { return nil }
      defer { table.open[handle] = open }
      // A read continuing the previous one is sequential; a first read is not yet. Once a reader
      // is sequential, the kernel's concurrent read-ahead may deliver reads a little out of order,
      // so reads within the current window still count; a random reader needs an exact match.
      let slack = open.readAhead
      let isSequential =
        open.hasRead && range.lowerBound + slack >= open.nextSequentialOffset
        && range.lowerBound <= open.nextSequentialOffset + slack
      open.hasRead = true
      open.nextSequentialOffset =
        isSequential ? max(open.nextSequentialOffset, range.upperBound) : range.upperBound
      guard isSequential else {
        open.readAhead = 0
        open.readAheadEnd = 0
        return (open.generation, nil)
      }
      open.readAhead = min(options.maximumReadAhead, max(options.initialReadAhead, open.readAhead * 2))
      // Ask again only once the reader has used half of the last window, to keep requests large.
      let target = min(fileSize, range.upperBound + open.readAhead)
      guard target > open.readAheadEnd, open.readAheadEnd < range.upperBound + open.readAhead / 2 else {
        return (open.generation, nil)
      }
      let start = max(range.upperBound, open.readAheadEnd)
      open.readAheadEnd = target
      return (open.generation, start < target ? start..<target : nil)
    }
  }

  public func release(_ request: FuseRequest, inode: UInt64, handle: UInt64) {
    handles.withLock { _ = $0.open.removeValue(forKey: handle) }
    request.replyError(0)
  }

  // MARK: Directory

  public func opendir(_ request: FuseRequest, inode: UInt64) {
    guard inode == Self.rootInode else { return request.replyError(ENOTDIR) }
    request.replyOpen(handle: 0, keepCache: false, directIO: false)
  }

  public func readdir(_ request: FuseRequest, inode: UInt64, size: Int, offset: UInt64) {
    guard inode == Self.rootInode else { return request.replyError(ENOTDIR) }
    var listing: [(name: String, inode: UInt64, mode: mode_t)] = [
      (".", Self.rootInode, S_IFDIR), ("..", Self.rootInode, S_IFDIR),
    ]
    listing += entries.map { ($0.name, $0.inode, S_IFREG) }
    request.replyDirectory(entries: listing, size: size, offset: offset)
  }

  public func releasedir(_ request: FuseRequest, inode: UInt64, handle: UInt64) {
    request.replyError(0)
  }

  // MARK: Extended attributes

  /// The attributes `listxattr` shows, which `cp -a` and `rsync -X` copy: facts about the remote
  /// file only. Statistics and filled ranges, stale in a copy, are read by name.
  func attributeNames(of entry: Entry) -> [String] {
    ["user.bitsfs.url"] + (entry.file.version?.etag == nil ? [] : ["user.bitsfs.etag"])
  }

  func attributeValue(_ name: String, of entry: Entry) -> String? {
    switch name {
    case "user.bitsfs.url": return Self.shownURL(entry.file.remoteURL)
    case "user.bitsfs.etag": return entry.file.version?.etag
    case "user.bitsfs.filled":
      // GetFilledFileRanges, as offset+length pairs.
      return entry.file.filledRanges.map { "\($0.offset)+\($0.length)" }.joined(separator: " ")
    case "user.bitsfs.filled-map":
      return FilledMap.encode(entry.file.filledRanges, size: entry.file.statistics.size ?? 0)
    case "user.bitsfs.stats":
      let statistics = entry.file.statistics
      return "size=\(statistics.size ?? 0) filled=\(statistics.filledBytes) ranges=\(statistics.filledRangeCount)"
        + " fetched=\(statistics.fetchedBytes) requests=\(statistics.requestCount)"
    default: return nil
    }
  }

  public func getxattr(_ request: FuseRequest, inode: UInt64, name: String, size: Int) {
    if inode == Self.rootInode, name == "user.bitsfs.pid" {
      // Which process serves the mount, for scripts and `bitsfs status`.
      return replyAttribute(request, Array(String(getpid()).utf8), size: size)
    }
    guard let entry = entry(inode) else { return request.replyError(inode == Self.rootInode ? ENODATA : ENOENT) }
    guard let value = attributeValue(name, of: entry) else { return request.replyError(ENODATA) }
    replyAttribute(request, Array(value.utf8), size: size)
  }

  public func listxattr(_ request: FuseRequest, inode: UInt64, size: Int) {
    guard let entry = entry(inode) else {
      return replyAttribute(request, inode == Self.rootInode ? Array("user.bitsfs.pid".utf8) + [0] : [], size: size)
    }
    replyAttribute(request, attributeNames(of: entry).flatMap { Array($0.utf8) + [0] }, size: size)
  }

  /// The URL without user name, password or query string: a presigned URL's query is a
  /// credential, and attributes travel with copies of the file.
  static func shownURL(_ url: String) -> String {
    guard var components = URLComponents(string: url) else { return "" }
    components.user = nil
    components.password = nil
    components.query = nil
    components.fragment = nil
    return components.string ?? ""
  }

  /// The xattr protocol: size 0 asks for the length, a too-small buffer is ERANGE.
  private func replyAttribute(_ request: FuseRequest, _ bytes: [UInt8], size: Int) {
    if size == 0 { return request.replyXattrSize(bytes.count) }
    guard size >= bytes.count else { return request.replyError(ERANGE) }
    bytes.withUnsafeBytes { request.replyBytes($0) }
  }

  public func statfs(_ request: FuseRequest) {
    let total = entries.reduce(UInt64(0)) { $0 + ($1.file.version?.size ?? 0) }
    request.replyStatfs(blockSize: 4096, blocks: (total + 4095) / 4096, files: UInt64(entries.count + 1))
  }
}
