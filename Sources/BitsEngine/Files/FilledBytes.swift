/// Bytes of one version of a file, ready to be read.
package struct FilledBytes: Sendable {
  package enum Location: Sendable {
    /// In the cache's data file, at the offsets of `range`.
    case cache(DataFile)
    /// A copy of bytes just received, not yet in the cache: a small read waiting for nothing
    /// else is answered without waiting for the disk.
    case received([UInt8])
  }

  package let location: Location
  package let range: Range<UInt64>
  package let generation: UInt64
  /// Keeps the bytes from being evicted while this value lives.
  let pin: CachePin?

  init(location: Location, range: Range<UInt64>, generation: UInt64, pin: CachePin? = nil) {
    self.location = location
    self.range = range
    self.generation = generation
    self.pin = pin
  }

  /// Copies the bytes into `buffer`, which holds `range.count` bytes.
  package func copy(into buffer: UnsafeMutableRawBufferPointer) throws(BitsError) {
    switch location {
    case .cache(let data): try data.read(into: buffer, at: range.lowerBound)
    case .received(let bytes): bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }
  }

  /// The bytes, copied out (for tests and checks; the mount sends them without a copy).
  package func copiedBytes() -> Result<[UInt8], BitsError> {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: range.count, alignment: 16)
    defer { buffer.deallocate() }
    do throws(BitsError) {
      try copy(into: buffer)
    } catch {
      return .failure(error)
    }
    return .success(Array(buffer))
  }
}
